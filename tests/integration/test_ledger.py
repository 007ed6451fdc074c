"""Ledger on a real SQLite file: durable commits, gap-free seq, alerts, retention, full disk."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.ledger import Ledger
from kiosk.model import Entry, Outcome
from kiosk.storage import SCHEMA_VERSION, StorageError, StorageFull
from kiosk.uplink.outbox import Outbox


def _entry(
    decision: Outcome = Outcome.PASS, reasons: tuple[str, ...] = (), ts: datetime | None = None
) -> Entry:
    return Entry.new(
        "k-001",
        "fanzhuang",
        decision,
        reasons,
        ts=ts,
        masked_name="张*中",
        subject_hash="ab" * 16,
        temperature_c=36.5,
        temperature_state="ok",
    )


def test_commit_assigns_gap_free_seq_and_writes_outbox_rows(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        seqs = [ledger.commit(_entry()).seq for _ in range(5)]
        alert = ledger.commit(_entry(Outcome.DENY, ("code.red",)))
        assert seqs == [1, 2, 3, 4, 5] and alert.seq == 6
        assert ledger.outbox_status().pending == 7  # six entries + one alert
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    kinds = db.execute("SELECT kind, COUNT(*) FROM outbox GROUP BY kind ORDER BY kind").fetchall()
    assert kinds == [("alert", 1), ("entry", 6)]
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_entries_read_back_with_delivery_state(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        first = ledger.commit(_entry())
        ledger.commit(_entry(Outcome.REFER, ("temp.not_ready",)))
        outbox = Outbox(path).open()
        ready = outbox.ready("entry", 0, 10)
        outbox.ack([ready[0].id])
        outbox.close()
        rows = list(ledger.entries())
    assert [(e.seq, delivered) for e, delivered in rows] == [(1, True), (2, False)]
    assert rows[0][0] == first
    assert rows[1][0].reasons == ("temp.not_ready",)


def test_seq_survives_retention_purge(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    old = datetime.now(UTC) - timedelta(days=30)
    with Ledger(path) as ledger:
        ledger.commit(_entry(ts=old))
        ledger.commit(_entry(ts=old))
        outbox = Outbox(path).open()
        outbox.ack([r.id for r in outbox.ready("entry", 0, 10)])
        outbox.close()
        assert ledger.purge(retention_days=21) == 2
        assert ledger.commit(_entry()).seq == 3


def test_purge_keeps_undelivered_and_recent_entries(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    now = datetime.now(UTC)
    with Ledger(path) as ledger:
        delivered_old = ledger.commit(_entry(ts=now - timedelta(days=22)))
        pending_old = ledger.commit(_entry(ts=now - timedelta(days=40)))
        parked_old = ledger.commit(_entry(ts=now - timedelta(days=40)))
        delivered_new = ledger.commit(_entry(ts=now - timedelta(days=2)))
        outbox = Outbox(path).open()
        rows = {json.loads(r.payload)["seq"]: r.id for r in outbox.ready("entry", 0, 10)}
        outbox.ack([rows[delivered_old.seq], rows[delivered_new.seq]])
        outbox.park(rows[parked_old.seq], "0x87 Not authorized", "fp")
        outbox.close()
        assert ledger.purge(retention_days=21) == 1
        left = [e.seq for e, _ in ledger.entries()]
    assert left == [pending_old.seq, parked_old.seq, delivered_new.seq]


def test_full_disk_raises_clear_error_and_ledger_recovers(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:  # create the schema first
        ledger.commit(_entry())
    pages = sqlite3.connect(path).execute("PRAGMA page_count").fetchone()[0]
    with Ledger(path, max_pages=pages + 2) as ledger:
        committed = 0
        with pytest.raises(StorageFull) as info:
            for _ in range(1000):
                ledger.commit(_entry())
                committed += 1
        message = str(info.value)
        assert "ledger storage full while committing an entry" in message
        assert str(path) in message and "free disk space" in message
        # nothing half-written: every committed seq has its entry and outbox row, no gaps
        seqs = [e.seq for e, _ in ledger.entries()]
        assert seqs == list(range(1, committed + 2))
        assert ledger.outbox_status().pending == committed + 1
    with Ledger(path) as ledger:  # space again: numbering continues without a gap
        assert ledger.commit(_entry()).seq == committed + 2


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger(path).open().close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StorageError, match="newer than this software"):
        Ledger(path).open()


def test_unwritable_state_dir_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="cannot create state directory"):
        Ledger(blocker / "state" / "ledger.sqlite").open()


def test_not_a_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="damaged"):
        Ledger(path).open()


_COMMITTER = """
import sys
from pathlib import Path
from kiosk.ledger import Ledger
from kiosk.model import Entry, Outcome
with Ledger(Path(sys.argv[1])) as ledger:
    while True:
        e = ledger.commit(Entry.new("k-001", "s", Outcome.PASS))
        print(e.seq, e.id, flush=True)
"""


def test_commits_survive_sigkill(tmp_path: Path) -> None:
    """Every entry a killed process reported as committed is in the ledger, seq without gaps."""
    path = tmp_path / "ledger.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", _COMMITTER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    reported = []
    for line in proc.stdout:
        reported.append(line.split())
        if len(reported) == 300:
            proc.kill()
            break
    proc.wait()
    proc.stdout.close()
    with Ledger(path) as ledger:
        stored = {e.id: e.seq for e, _ in ledger.entries()}
    assert all(stored.get(ident) == int(seq) for seq, ident in reported)
    assert sorted(stored.values()) == list(range(1, len(stored) + 1))


def test_two_processes_share_the_ledger(tmp_path: Path) -> None:
    """A reader (outbox status, export) works while another process writes."""
    path = tmp_path / "ledger.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", _COMMITTER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    try:
        for _ in range(50):
            proc.stdout.readline()
        with Ledger(path) as reader:
            for _ in range(20):
                assert reader.outbox_status().pending >= 50
                seqs = [e.seq for e, _ in reader.entries()]
                assert seqs == list(range(1, len(seqs) + 1))
            writer_seq = reader.commit(_entry()).seq  # a second writer interleaves cleanly
            assert writer_seq > 50
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    with Ledger(path) as ledger:
        seqs = sorted(e.seq for e, _ in ledger.entries())
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_v1_ledger_gains_the_receipts_table_and_keeps_its_entries(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        committed = [ledger.commit(_entry()) for _ in range(3)]
    db = sqlite3.connect(path)  # back to the v1 layout: v2 only added the receipts table
    db.execute("DROP TABLE receipts")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        assert [e.id for e, _ in ledger.entries()] == [e.id for e in committed]
        assert ledger.outbox_status().confirmed_seq is None
        assert ledger.receipt_progress("k-001") == (None, 3)
        assert ledger.commit(_entry()).seq == 4
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (2,)
    assert db.execute("SELECT COUNT(*) FROM receipts").fetchone() == (0,)


def test_has_pending_ignores_parked_rows(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        assert not ledger.has_pending()
        ledger.commit(_entry())
        ledger.commit(_entry())
        assert ledger.has_pending()
        outbox = Outbox(path).open()
        first, second = outbox.ready("entry", 0, 10)
        outbox.park(first.id, "0x87 Not authorized", "cfg")
        assert ledger.has_pending()
        outbox.ack([second.id])
        outbox.close()
        assert not ledger.has_pending()
        assert ledger.outbox_status().parked == 1
