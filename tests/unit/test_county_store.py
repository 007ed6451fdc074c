"""The Store contract on SQLite and on the real PostgreSQL: dedup, runs, kiosks, quarantine,
migrations, partitions and retention."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from county.store import Batch, Quarantined, Store
from county.store.postgres import PostgresStore, partition_name
from county.store.rows import migrations
from county.store.sqlite import SqliteStore
from kiosk.model import utc_iso
from kiosk.uplink.wire import StateRecord, StatusRecord, TopicRef, parse_message
from tests.county_support import entry, pg_database

NOW = datetime.now(UTC)


def records(kiosk: str, seqs: list[int], **fields: Any) -> list[Any]:
    return [
        parse_message(TopicRef(kiosk, "entries"), entry(kiosk, s, **fields).entry_message())
        for s in seqs
    ]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s: Store = SqliteStore(tmp_path / "county.sqlite", retention_days=21)
        s.open()
        yield s
        s.close()
    else:
        with pg_database() as url:
            s = PostgresStore(url, None, retention_days=21)
            s.open()
            yield s
            s.close()


def count(store: Store, sql: str) -> Any:
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as db:
            return db.execute(sql).fetchone()[0]
    assert isinstance(store, PostgresStore)
    with psycopg.connect(store.url) as db:
        row = db.execute(sql).fetchone()
        assert row is not None
        return row[0]


def test_entries_once_and_progress(store: Store) -> None:
    batch = records("k-1", [1, 2, 3, 5, 6]) + records("k-2", [2])
    store.write(Batch(entries=batch), NOW)
    store.write(Batch(entries=batch[:3]), NOW)  # a re-delivery
    assert count(store, "SELECT COUNT(*) FROM entries") == 6
    assert count(store, "SELECT COUNT(DISTINCT id) FROM entries") == 6
    p1, p2 = store.progress(["k-1", "k-2"])
    assert (p1.confirmed_seq, p1.last_seq, p1.missing) == (3, 6, ((4, 4),))
    assert (p2.confirmed_seq, p2.last_seq, p2.missing) == (0, 2, ((1, 1),))
    store.write(Batch(entries=records("k-1", [4])), NOW)
    (p1,) = store.progress(["k-1"])
    assert (p1.confirmed_seq, p1.missing) == (6, ())
    assert store.progress(["nobody"])[0].confirmed_seq == 0


def test_kiosks_alerts_status_state_quarantine(store: Store) -> None:
    e = entry("k-1", 1, code_status="red")
    alert = parse_message(TopicRef("k-1", "alerts"), e.alert_message())
    status = StatusRecord("k-1", "fanzhuang", True, "0.1.0", NOW)
    state = StateRecord(NOW, 12, 3.5, 0)
    bad = Quarantined("county/demo/kiosk/k-1/entries", "k-1", "wire.bad_json", "x", 3, b"{x}")
    batch = Batch(
        entries=records("k-1", [1]), alerts=[alert, alert], statuses=[status],
        states=[("k-1", state)], quarantine=[bad],
    )  # fmt: skip
    store.write(batch, NOW)
    (row,) = store.kiosks()
    assert row.to_dict() | {"last_seen": None} == {
        "kiosk": "k-1", "site": "fanzhuang", "online": True, "last_seen": None,
        "last_seq": 1, "confirmed_seq": 1, "missing": [], "backlog": 12,
    }  # fmt: skip
    assert row.last_seen is not None
    assert count(store, "SELECT COUNT(*) FROM alerts") == 1
    assert count(store, "SELECT reason FROM quarantine") == "wire.bad_json"
    assert bytes(count(store, "SELECT payload FROM quarantine")) == b"{x}"
    offline = StatusRecord("k-1", "fanzhuang", False, None, None)
    store.write(Batch(statuses=[offline]), NOW)
    assert store.kiosks()[0].online is False


def test_migrations_run_once(store: Store) -> None:
    store.close()
    store.open()  # a second start applies nothing again
    latest = len(migrations("sqlite"))
    assert len(migrations("postgres")) == latest
    assert count(store, "SELECT COUNT(*) FROM schema_migrations") == latest
    assert count(store, "SELECT MAX(version) FROM schema_migrations") == latest


def test_retention(store: Store) -> None:
    old = records("k-1", [1], ts=NOW - timedelta(days=30))
    new = records("k-1", [2])
    store.write(Batch(entries=old + new), NOW)
    store.purge(NOW)
    assert count(store, "SELECT COUNT(*) FROM entries") == 1
    (p,) = store.progress(["k-1"])
    assert p.confirmed_seq == 2  # what the county once held stays confirmed


def test_retention_purges_the_desks_records_of_old_alerts(store: Store) -> None:
    """Webhook deliveries (their body names the alert), handlers' notes and cleared fleet
    alerts go with the alerts; an open fleet alert and the audit log stay."""
    old, new = utc_iso(NOW - timedelta(days=30)), utc_iso(NOW)
    deliveries = "INSERT INTO deliveries (alert_key, hook, alert_ts, created_at, state, "
    deliveries += "next_at, body) VALUES (%s, 'h', %s, %s, 'sent', %s, '{}')"
    acks = "INSERT INTO alert_acks VALUES (%s, 'hank', %s, '已送发热门诊')"
    fleet = "INSERT INTO fleet_alerts (kiosk, kind, raised_at, cleared_at) "
    fleet += "VALUES (%s, 'silent', %s, %s)"
    audit = "INSERT INTO audit_log (ts, who, role, kind, query, rows) "
    audit += "VALUES (%s, 'tina', 'tracer', 'subject', '{}', 1)"
    rows: list[tuple[str, tuple[Any, ...]]] = [
        (deliveries, ("a-old", old, old, old)),
        (deliveries, ("a-new", new, new, new)),
        (acks, ("a-old", old)),
        (acks, ("a-new", new)),
        (fleet, ("k-cleared", old, old)),
        (fleet, ("k-open", old, None)),
        (fleet, ("k-new", old, new)),
        (audit, (old,)),
    ]  # fmt: skip
    execute(store, rows)
    store.purge(NOW)
    assert column(store, "SELECT alert_key FROM deliveries") == ["a-new"]
    assert column(store, "SELECT alert_key FROM alert_acks") == ["a-new"]
    assert column(store, "SELECT kiosk FROM fleet_alerts ORDER BY kiosk") == ["k-new", "k-open"]
    assert count(store, "SELECT COUNT(*) FROM audit_log") == 1


def column(store: Store, sql: str) -> list[Any]:
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as db:
            return [r[0] for r in db.execute(sql)]
    assert isinstance(store, PostgresStore)
    with psycopg.connect(store.url) as db:
        return [r[0] for r in db.execute(sql)]  # type: ignore[arg-type]


def execute(store: Store, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Run ``(sql, params)`` pairs written with ``%s`` placeholders on either backend."""
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as db:
            for sql, params in statements:
                db.execute(sql.replace("%s", "?"), params)
        return
    assert isinstance(store, PostgresStore)
    with psycopg.connect(store.url) as db:
        for sql, params in statements:
            db.execute(sql, params)  # type: ignore[arg-type]


def test_postgres_partitions_by_day(tmp_path: Path) -> None:
    with pg_database() as url:
        s = PostgresStore(url, None, retention_days=2, partitions_ahead=1)
        s.open()
        today = NOW.date()
        tables = [partition_name(today + timedelta(days=d)) for d in (-2, -1, 0, 1)]
        with psycopg.connect(url) as db:
            names = {r[0] for r in db.execute("SELECT tablename FROM pg_tables")}
        assert set(tables) <= names
        far = records("k-1", [1], ts=NOW + timedelta(days=40))  # no partition: the default one
        s.write(Batch(entries=far + records("k-1", [2])), NOW)
        with psycopg.connect(url) as db:
            assert db.execute("SELECT COUNT(*) FROM entries_default").fetchone() == (1,)
            assert db.execute(f"SELECT COUNT(*) FROM {tables[2]}").fetchone() == (1,)  # noqa: S608
        s.maintain(NOW + timedelta(days=40))  # that day's partition takes the row over
        with psycopg.connect(url) as db:
            assert db.execute("SELECT COUNT(*) FROM entries_default").fetchone() == (0,)
            assert db.execute("SELECT COUNT(*) FROM entries").fetchone() == (2,)
        dropped = s.purge(NOW + timedelta(days=3))  # today and earlier are past retention
        assert dropped >= 3
        with psycopg.connect(url) as db:
            names = {r[0] for r in db.execute("SELECT tablename FROM pg_tables")}
            assert tables[2] not in names
            assert db.execute("SELECT COUNT(*) FROM entries").fetchone() == (1,)
        s.close()
