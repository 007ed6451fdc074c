"""Composition root of the county service: builds the store and the ingest worker, runs them."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from county.config import Config
from county.ingest.worker import Ingest
from county.store import open_store

logger = logging.getLogger(__name__)


def run_ingest(config: Config, stop: threading.Event) -> int:
    """Run one ingest worker until ``stop``; 0 when its last batch was committed.

    A database that is down at start is not fatal: the worker keeps retrying with backoff and
    acknowledges nothing meanwhile.
    """
    worker = Ingest(config, open_store(config), stop)
    worker.start()
    logger.info("ingest %s started on %s:%d, database %s", config.broker.client_id,
                config.broker.host, config.broker.port, config.database.backend)  # fmt: skip
    while not worker.join(timeout=0.5):
        pass
    stats = worker.stats()
    logger.info("ingest stopped: %d committed, %d quarantined, %d receipts",
                stats.committed, stats.quarantined, stats.receipts)  # fmt: skip
    return 0 if worker.succeeded else 1


def build_desk(config: Config, stop: threading.Event) -> tuple[Any, Any, Any]:
    """The desk's parts, not started: (web server, notifier, database). Applies migrations."""
    from county.desk.db import DeskDb
    from county.notify.hooks import load_hooks
    from county.notify.worker import Notifier
    from county.trace import CountyKeys
    from county.web.app import create_app
    from kiosk.config.web import RESERVED_CONNECTIONS
    from kiosk.web.guard import Admission
    from kiosk.web.server import WebServer

    store = open_store(config)
    store.open()  # applies the migrations, the desk's tables included
    store.close()
    db = DeskDb(config)
    notifier = Notifier(config, db, load_hooks(config), stop)
    server: WebServer | None = None

    def health() -> dict[str, Any]:
        web = server.health() if server is not None else None
        fresh = time.monotonic() - notifier.last_progress < max(30.0, 10 * config.notify.poll_s)
        ok = notifier.alive and fresh and web is not None and web.state == "serving"
        return {"ok": ok, "notifier": {"alive": notifier.alive, "fresh": fresh,
                "sent": notifier.sent, "failed_attempts": notifier.failed_attempts},
                "web": None if web is None else web.to_dict()}  # fmt: skip

    app = create_app(config, db, CountyKeys.load(config), health)
    d = config.desk
    rule = Admission(
        screen_addresses=d.admin_addresses,
        total=d.max_connections,
        per_client=d.connections_per_client,
        reserved=RESERVED_CONNECTIONS,
        request_timeout_s=d.request_timeout_s,
    )
    server = WebServer(app, d.host, d.port, threads=d.threads, stop=stop, admission_rule=rule)
    return server, notifier, db


def run_desk(config: Config, stop: threading.Event) -> int:
    """``county web``: the desk and the notifier until ``stop``."""
    server, notifier, _db = build_desk(config, stop)
    notifier.start()
    server.start()
    logger.info("county desk on %s", server.url)
    stop.wait()
    server.stop()
    notifier.join()
    return 0
