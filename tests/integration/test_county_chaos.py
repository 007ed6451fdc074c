"""Chaos on the county side: 10 kiosks x 500 entries while an ingest worker is SIGKILLed twice,
the broker twice and the database restarted once; the county must end with every ledger id
exactly once and every kiosk confirmed to its last seq."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from county.config import Config
from county.store import StoreError, open_store
from kiosk.ledger import Ledger
from kiosk.synthetic import synthetic_entry
from kiosk.uplink.localbroker import LocalBroker
from tests.county_support import (
    PrivatePostgres,
    county_config,
    county_dict,
    county_popen,
    sqlite_url,
)
from tests.helpers import make_config, write_config
from tests.integration.test_uplink import publishing, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KIOSKS = 10
PER_KIOSK = 500
RATE = 30.0  # entries per second per kiosk: about 17 s of traffic


class Worker:
    """One ``county ingest`` process that the test may SIGKILL and start again."""

    def __init__(self, config_file: Path) -> None:
        self.config_file = config_file
        self.proc = county_popen("--log-level", "WARNING", "ingest", "--config", str(config_file))

    def kill_and_restart(self) -> None:
        self.proc.kill()
        self.proc.communicate()
        self.proc = county_popen(
            "--log-level", "WARNING", "ingest", "--config", str(self.config_file)
        )

    def stop(self) -> int:
        self.proc.terminate()
        self.proc.communicate(timeout=30)
        return self.proc.returncode


@contextmanager
def kiosk_fleet(tmp_path: Path, port: int) -> Iterator[list[Path]]:
    """Ten kiosks, each committing to its own ledger while its real uplink publishes."""
    stop = threading.Event()
    ledgers = []
    with ExitStack() as stack:
        threads = []
        for n in range(1, KIOSKS + 1):
            config = make_config(
                tmp_path / f"kiosk-{n}", port,
                kiosk={"id": f"k-{n:03d}"},
                uplink={"reconnect_min_s": 1, "reconnect_max_s": 1},
            )  # fmt: skip
            publisher = stack.enter_context(publishing(config))
            ledgers.append(config.ledger_path)
            args = (config.ledger_path, config.kiosk.id, publisher, stop)
            threads.append(threading.Thread(target=_commit, args=args))
        for t in threads:
            t.start()
        try:
            yield ledgers
            for t in threads:
                t.join(120)
        finally:
            stop.set()
            for t in threads:
                t.join()


def _commit(path: Path, kiosk: str, publisher: Any, stop: threading.Event) -> None:
    rng = random.Random(kiosk)
    start = time.monotonic()
    with Ledger(path) as ledger:
        for i in range(PER_KIOSK):
            stop.wait(max(0.0, start + i / RATE - time.monotonic()))
            if stop.is_set():
                return
            ledger.commit(synthetic_entry(kiosk, "fanzhuang", rng))
            publisher.notify()


def _ledger_ids(paths: list[Path]) -> tuple[set[str], dict[str, int]]:
    ids: set[str] = set()
    last: dict[str, int] = {}
    for path in paths:
        with Ledger(path) as ledger:
            for e, _delivered in ledger.entries():
                ids.add(e.id)
                last[e.kiosk] = max(last.get(e.kiosk, 0), e.seq)
    return ids, last


def _run_chaos(
    tmp_path: Path,
    database_url: str,
    outage: Callable[[], None],
    rows: Callable[[], list[tuple[str]]],
    report: Callable[[str], None],
    label: str,
) -> None:
    broker = LocalBroker(tmp_path / "broker", save_every_change=True).start()
    workers: list[Worker] = []
    try:
        files = []
        for n in (1, 2):
            values = county_dict(
                tmp_path, broker.port, database_url,
                broker={"client_id": f"county-ingest-{n}", "reconnect_min_s": 1,
                        "reconnect_max_s": 2},
                ingest={"retry_max_s": 1.0},
            )  # fmt: skip
            files.append(write_config(tmp_path / f"county-{n}.toml", values))
        workers = [Worker(f) for f in files]
        config: Config = county_config(tmp_path, broker.port, database_url)
        store = open_store(config)
        store.open()  # migrated before traffic, so both workers start on the same schema
        started = time.monotonic()
        with kiosk_fleet(tmp_path, broker.port) as ledgers:
            at = started
            for action in [
                workers[0].kill_and_restart,
                broker.kill,
                broker.start,
                outage,
                workers[0].kill_and_restart,
                broker.kill,
                broker.start,
            ]:
                at += 1.0 if action == broker.start else 2.2
                time.sleep(max(0.0, at - time.monotonic()))
                action()
                name = getattr(action, "__qualname__", str(action))
                report(f"county chaos {label}: {name} at {time.monotonic() - started:.1f} s")
        ids, last = _ledger_ids(ledgers)
        assert len(ids) == KIOSKS * PER_KIOSK

        def confirmed() -> bool:
            try:
                got = store.progress(sorted(last))
            except StoreError:  # this reader's connection did not survive the restart
                return False
            return all(p.confirmed_seq == last[p.kiosk] and not p.missing for p in got)

        assert wait_until(confirmed, 60), [p for p in store.progress(sorted(last)) if p.missing]
        stored = [r[0] for r in rows()]
        assert len(stored) == len(set(stored)) == KIOSKS * PER_KIOSK  # 0 duplicates
        assert set(stored) == ids  # 0 missing
        for w in workers:
            assert w.stop() == 0
        took = time.monotonic() - started
        report(f"county chaos {label}: {len(stored)} entries exactly once in {took:.1f} s")
        store.close()
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.communicate()
        broker.stop()


def test_chaos_postgres(tmp_path: Path, report: Callable[[str], None]) -> None:
    with PrivatePostgres() as pg:

        def rows() -> list[tuple[str]]:
            with psycopg.connect(pg.url) as db:
                return [(str(r[0]),) for r in db.execute("SELECT id FROM entries")]

        _run_chaos(tmp_path, pg.url, pg.restart, rows, report, "postgres")


def test_chaos_sqlite(tmp_path: Path, report: Callable[[str], None]) -> None:
    path = tmp_path / "county.sqlite"

    def outage() -> None:
        """The database file locked by another process's write for 3 s: no commit gets through."""
        with sqlite3.connect(path, isolation_level=None) as db:
            db.execute("BEGIN EXCLUSIVE")
            time.sleep(3.0)
            db.execute("ROLLBACK")

    def rows() -> list[tuple[str]]:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT id FROM entries").fetchall()

    _run_chaos(tmp_path, sqlite_url(path), outage, rows, report, "sqlite")
