"""Committing a batch: bad documents to quarantine, a row the database refuses isolated, the
rest stored; a database that is down commits nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from county.config import parse
from county.ingest.classify import commit
from county.ingest.client import Received
from county.store import StoreError
from county.store.sqlite import SqliteStore
from tests.county_support import entry

CFG = parse({}).ingest
TOPIC = "county/demo/kiosk/k-001/entries"


def received(payload: bytes, topic: str = TOPIC, mid: int = 1) -> Received:
    return Received(topic, payload, mid, 1, 1)


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "county.sqlite", 21)
    s.open()
    return s


def test_valid_and_bad_documents_in_one_transaction(store: SqliteStore) -> None:
    messages = [received(entry("k-001", seq).entry_message()) for seq in (1, 2, 3)]
    messages.insert(1, received(b"{oops"))
    messages.append(received(b"{}", topic="county/demo/other"))
    batch = commit(store, "county/demo", messages, CFG)
    assert [e.seq for e in batch.entries] == [1, 2, 3]
    assert [q.reason for q in batch.quarantine] == ["wire.bad_json", "wire.unknown_topic"]
    assert rows(store.path, "SELECT COUNT(*) FROM entries") == [(3,)]
    assert rows(store.path, "SELECT reason, kiosk FROM quarantine ORDER BY id") == [
        ("wire.bad_json", "k-001"),
        ("wire.unknown_topic", None),
    ]


def test_a_row_the_database_refuses_is_quarantined_alone(store: SqliteStore) -> None:
    with sqlite3.connect(store.path) as db:  # a database-side rule the wire schema cannot see
        db.execute(
            "CREATE TRIGGER no_13 BEFORE INSERT ON entries WHEN NEW.seq = 13 "
            "BEGIN SELECT RAISE(ABORT, 'seq 13 refused'); END"
        )
    messages = [received(entry("k-001", seq).entry_message(), mid=seq) for seq in range(10, 16)]
    batch = commit(store, "county/demo", messages, CFG)
    assert sorted(e.seq for e in batch.entries) == [10, 11, 12, 14, 15]
    assert [(q.reason, q.kiosk) for q in batch.quarantine] == [("store.rejected", "k-001")]
    assert "seq 13 refused" in batch.quarantine[0].detail
    assert rows(store.path, "SELECT seq FROM entries ORDER BY seq") == [
        (10,), (11,), (12,), (14,), (15,),
    ]  # fmt: skip
    assert rows(store.path, "SELECT reason FROM quarantine") == [("store.rejected",)]


def test_a_database_that_is_down_commits_nothing(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the database directory should be")
    down = SqliteStore(blocked / "county.sqlite", 21)
    with pytest.raises(StoreError):
        commit(down, "county/demo", [received(entry("k-001", 1).entry_message())], CFG)
