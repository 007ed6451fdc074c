"""Machine endpoints: ``/healthz`` (for systemd and monitors), ``/api/status``, ``/metrics``."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from flask import Flask, jsonify
from werkzeug.wrappers import Response

from kiosk.ledger import Ledger
from kiosk.model import Outcome
from kiosk.service.status import KioskHealth
from kiosk.storage import OutboxStatus, StorageError
from kiosk.web import metrics
from kiosk.web.charts import day_bounds
from kiosk.web.devices import device_facts
from kiosk.web.present import public_screen
from kiosk.web.state import WebState

logger = logging.getLogger(__name__)


def verdict(health: KioskHealth, now: float, max_age_s: float) -> tuple[bool, list[str]]:
    """Whether the kiosk is healthy, and why not: stale workers by name, or a stale snapshot.

    A snapshot older than ``max_age_s`` means the supervisor itself stopped updating it, so
    its workers' "fresh" flags can no longer be believed.
    """
    problems = [f"worker {w.name} stale" for w in health.workers if not w.fresh]
    if not health.workers:
        problems.append("no workers reported")
    age = now - health.updated_t
    if health.workers and age > max_age_s:
        problems.append(f"health snapshot {age:.0f} s old")
    return not problems, problems


def register(app: Flask, state: WebState) -> None:
    """Add ``/healthz``, ``/api/status`` and ``/metrics`` (no login: nothing personal)."""

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        health = state.view.health()
        ok, problems = verdict(health, time.monotonic(), state.config.web.health_max_age_s)
        stale = [w.name for w in health.workers if not w.fresh]
        body = {"status": "ok" if ok else "unhealthy", "stale": stale, "problems": problems}
        return jsonify(body), 200 if ok else 503

    @app.get("/api/status")
    def api_status() -> Response:
        health = state.view.health()
        ok, problems = verdict(health, time.monotonic(), state.config.web.health_max_age_s)
        return jsonify(
            {
                "healthy": ok,
                "problems": problems,
                "health": health.to_dict(),
                "screen": public_screen(state.view.screen()),
            }
        )

    @app.get("/metrics")
    def prometheus() -> Response:
        health = state.view.health()
        now = time.monotonic()
        ok, _ = verdict(health, now, state.config.web.health_max_age_s)
        counts: dict[Outcome, int] | None = None
        outbox: OutboxStatus | None = None
        tz = state.tz
        today = datetime.now(tz).date()
        try:
            with Ledger(state.ledger_path) as ledger:
                counts = ledger.counts(*day_bounds(today, today, tz))
                outbox = ledger.outbox_status()
        except StorageError as exc:
            state.counters.add("ledger_errors")
            logger.warning("metrics: %s", exc)
        scrape = metrics.Scrape(
            health=health,
            healthy=ok,
            snapshot_age_s=round(max(0.0, now - health.updated_t), 3),
            screen=state.view.screen(),
            facts=device_facts(health),
            counts=counts,
            outbox=outbox,
            streams=state.gate.open,
            counters=state.counters.snapshot(),
        )
        return Response(metrics.render(scrape), content_type=metrics.CONTENT_TYPE)
