"""``/metrics`` in the Prometheus text exposition format (0.0.4), written by hand."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kiosk.model import Outcome, parse_utc
from kiosk.status import KioskHealth, Phase, Screen
from kiosk.storage import OutboxStatus
from kiosk.web.devices import DeviceFacts

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
THERMO_STATES = ("connecting", "connected", "not_ready", "unplugged", "stopped")

Labels = Mapping[str, str]


class WebCounters:
    """Counters the web layer keeps itself (thread-safe; they only grow)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = {
            "sse_refused": 0,
            "login_failures": 0,
            "login_refused": 0,
            "ledger_errors": 0,
        }

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._values[name] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


@dataclass(frozen=True)
class Scrape:
    """Everything one scrape reports; ``counts``/``outbox`` are None if the ledger failed."""

    health: KioskHealth
    healthy: bool
    snapshot_age_s: float
    screen: Screen
    facts: DeviceFacts
    counts: Mapping[Outcome, int] | None
    outbox: OutboxStatus | None
    streams: int
    counters: Mapping[str, int]


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(value)


class Exposition:
    """Collects metric families; each gets its HELP and TYPE line once."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[Labels, float | None]]
    ) -> None:
        rows = [(labels, v) for labels, v in samples if v is not None]
        if not rows:
            return
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in rows:
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            self._lines.append(
                f"{name}{{{inner}}} {_value(value)}" if inner else f"{name} {_value(value)}"
            )

    def gauge(self, name: str, help_text: str, value: float | None, **labels: str) -> None:
        self.family(name, "gauge", help_text, [(labels, value)])

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _flag(value: bool | None) -> float | None:
    return None if value is None else float(value)


def render(scrape: Scrape) -> str:
    """The exposition text for one scrape."""
    h, f, out = scrape.health, scrape.facts, Exposition()
    out.gauge("kiosk_info", "Kiosk identity.", 1, kiosk=h.kiosk, site=h.site, version=h.version)
    if h.started_at:
        try:
            out.gauge(
                "kiosk_start_time_seconds",
                "Service start, Unix time.",
                parse_utc(h.started_at).timestamp(),
            )
        except ValueError:
            pass
    out.gauge(
        "kiosk_healthy",
        "1 when every worker is fresh (/healthz answers 200).",
        float(scrape.healthy),
    )
    out.gauge(
        "kiosk_health_snapshot_age_seconds",
        "Age of the supervisor's health snapshot.",
        scrape.snapshot_age_s,
    )
    workers = h.workers
    out.family(
        "kiosk_worker_fresh",
        "gauge",
        "1 while the worker makes progress.",
        [({"worker": w.name}, float(w.fresh)) for w in workers],
    )
    out.family(
        "kiosk_worker_progress_age_seconds",
        "gauge",
        "Seconds since the worker's last progress.",
        [({"worker": w.name}, w.age_s) for w in workers],
    )
    out.family(
        "kiosk_worker_restarts_total",
        "counter",
        "Restarts of the worker by the supervisor.",
        [({"worker": w.name}, float(w.restarts)) for w in workers],
    )
    out.gauge("kiosk_camera_fps", "Camera frames read per second.", f.camera_fps)
    out.gauge(
        "kiosk_camera_last_frame_age_seconds",
        "Seconds since the last camera frame.",
        f.camera_frame_age_s,
    )
    if f.thermometer_state is not None:
        out.family(
            "kiosk_thermometer_state",
            "gauge",
            "Thermometer link state (1 = current).",
            [({"state": s}, float(s == f.thermometer_state)) for s in THERMO_STATES],
        )
    out.gauge(
        "kiosk_thermometer_last_object_celsius",
        "Last raw object temperature.",
        f.thermometer_object_c,
    )
    out.gauge(
        "kiosk_broker_connected",
        "1 while connected to the county broker.",
        _flag(f.broker_connected),
    )
    out.gauge("kiosk_disk_free_bytes", "Free space where the ledger lives.", f.disk_free_bytes)
    out.gauge(
        "kiosk_ledger_readable",
        "1 when this scrape could read the ledger.",
        float(scrape.outbox is not None),
    )
    if scrape.outbox is not None:
        box = scrape.outbox
        out.gauge("kiosk_outbox_pending", "Outbox messages waiting for the broker.", box.pending)
        out.gauge("kiosk_outbox_parked", "Outbox messages the broker refused.", box.parked)
        out.gauge(
            "kiosk_outbox_oldest_age_seconds",
            "Age of the oldest pending message (0 if none).",
            box.oldest_age_s or 0.0,
        )
        if box.confirmed_seq is not None:  # receipts on and one has arrived
            out.gauge(
                "kiosk_county_confirmed_seq",
                "The county's receipt: every entry up to this seq is stored there.",
                box.confirmed_seq,
            )
    if scrape.counts is not None:
        out.family(
            "kiosk_entries_today",
            "gauge",
            "Entries since local midnight, by outcome.",
            [({"outcome": o.value}, float(scrape.counts.get(o, 0))) for o in Outcome],
        )
    screen = scrape.screen
    out.family(
        "kiosk_screen_updates_total",
        "counter",
        "Screen states shown since start.",
        [({}, float(screen.version))],
    )
    out.family(
        "kiosk_screen_phase",
        "gauge",
        "Current screen phase (1 = current).",
        [({"phase": p.value}, float(p is screen.phase)) for p in Phase],
    )
    out.gauge("kiosk_web_sse_streams", "Open screen streams.", scrape.streams)
    c = scrape.counters
    out.family(
        "kiosk_web_sse_refused_total",
        "counter",
        "Screen streams refused (cap reached).",
        [({}, c["sse_refused"])],
    )
    out.family(
        "kiosk_web_login_failures_total",
        "counter",
        "Failed staff logins.",
        [({}, c["login_failures"])],
    )
    out.family(
        "kiosk_web_login_refused_total",
        "counter",
        "Staff logins refused by the rate limit.",
        [({}, c["login_refused"])],
    )
    out.family(
        "kiosk_web_ledger_errors_total",
        "counter",
        "Ledger reads that failed in the web layer.",
        [({}, c["ledger_errors"])],
    )
    return out.text()
