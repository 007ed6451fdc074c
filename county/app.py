"""Composition root of the county service: builds the store and the ingest worker, runs them."""

from __future__ import annotations

import logging
import threading

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
