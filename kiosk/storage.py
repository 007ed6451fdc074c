"""The ledger's SQLite file: connections, schema migrations, storage errors and row mapping."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from kiosk.model import Entry, Outcome, parse_utc, utc_iso

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 4

#: Each migration takes the schema from version ``index`` to ``index + 1``; never edit old ones.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE counters (
               kiosk TEXT PRIMARY KEY,
               last_seq INTEGER NOT NULL)""",
        """CREATE TABLE entries (
               n INTEGER PRIMARY KEY,
               id TEXT NOT NULL UNIQUE,
               seq INTEGER NOT NULL,
               kiosk TEXT NOT NULL,
               site TEXT NOT NULL,
               ts TEXT NOT NULL,
               decision TEXT NOT NULL CHECK (decision IN ('pass', 'deny', 'refer')),
               reasons TEXT NOT NULL,
               code_kind TEXT,
               code_status TEXT,
               masked_name TEXT,
               subject_hash TEXT,
               temperature_c REAL,
               temperature_state TEXT,
               policy_version TEXT,
               UNIQUE (kiosk, seq))""",
        "CREATE INDEX entries_ts ON entries (ts)",
        """CREATE TABLE outbox (
               id INTEGER PRIMARY KEY AUTOINCREMENT,
               entry INTEGER NOT NULL REFERENCES entries (n),
               kind TEXT NOT NULL CHECK (kind IN ('entry', 'alert')),
               payload BLOB NOT NULL,
               created REAL NOT NULL,
               parked_reason TEXT,
               parked_at REAL,
               parked_config TEXT)""",
        "CREATE INDEX outbox_ready ON outbox (kind, id) WHERE parked_at IS NULL",
        "CREATE INDEX outbox_entry ON outbox (entry)",
    ),
    (  # v2: the itinerary card and staff registrations (人工登记)
        "ALTER TABLE entries ADD COLUMN itinerary_status TEXT",
        "ALTER TABLE entries ADD COLUMN itinerary_updated_at TEXT",
        "ALTER TABLE entries ADD COLUMN temperature_source TEXT",
        "ALTER TABLE entries ADD COLUMN staff_name TEXT",
    ),
    (
        # v3: the county's latest receipt per kiosk ([uplink] receipts = true)
        """CREATE TABLE receipts (
               kiosk TEXT PRIMARY KEY,
               confirmed_seq INTEGER NOT NULL,
               missing TEXT NOT NULL,
               ts TEXT NOT NULL,
               received REAL NOT NULL)""",
    ),
    # v4: the county's signed lists in force (kiosk/uplink/updates.py), one per kind and county
    (
        """CREATE TABLE county_lists (
               kind TEXT NOT NULL CHECK (kind IN ('revocations', 'trust')),
               county TEXT NOT NULL,
               issued_at INTEGER NOT NULL,
               received TEXT NOT NULL,
               payload BLOB NOT NULL,
               PRIMARY KEY (kind, county))""",
    ),
)

ENTRY_COLUMNS = (
    "id, seq, kiosk, site, ts, decision, reasons, code_kind, code_status, masked_name, "
    "subject_hash, temperature_c, temperature_state, policy_version, itinerary_status, "
    "itinerary_updated_at, temperature_source, staff_name"
)
#: ``?, ?, …`` for an INSERT of ``ENTRY_COLUMNS``.
ENTRY_PLACEHOLDERS = ", ".join("?" * len(ENTRY_COLUMNS.split(",")))

Sync = Literal["FULL", "NORMAL"]
T = TypeVar("T")


class StorageError(Exception):
    """The ledger could not be read or written; the checkpoint shows SEE STAFF, never PASS."""


class StorageFull(StorageError):
    """The disk (or the configured page limit) is full: nothing more can be committed."""


def storage_error(exc: sqlite3.Error, path: Path, doing: str) -> StorageError:
    """Translate a sqlite3 error into a message a technician can act on."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL:
        return StorageFull(
            f"ledger storage full while {doing} ({path}): {exc}; "
            "free disk space on the state directory"
        )
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StorageError(f"ledger busy while {doing} ({path}): {exc}")
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
        return StorageError(
            f"ledger not writable while {doing} ({path}): {exc}; "
            "check the state directory's owner and permissions"
        )
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return StorageError(f"ledger damaged ({path}): {exc}; keep the file for recovery")
    return StorageError(f"ledger error while {doing} ({path}): {exc}")


def connect(path: Path, synchronous: Sync = "FULL") -> sqlite3.Connection:
    """Open (creating if needed) the ledger in WAL mode and bring its schema up to date.

    The connection is in autocommit mode: callers open transactions with ``BEGIN IMMEDIATE``.
    ``synchronous=FULL`` makes every commit durable before it returns; the uplink may use
    ``NORMAL`` because losing one of its acknowledgements only causes a harmless re-send.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create state directory {path.parent}: {exc.strerror}") from exc
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    except sqlite3.Error as exc:
        raise storage_error(exc, path, "opening") from exc
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        _migrate(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise storage_error(exc, path, "opening") from exc
    except StorageError:
        conn.close()
        raise
    return conn


def write(
    conn: sqlite3.Connection, path: Path, doing: str, work: Callable[[sqlite3.Connection], T]
) -> T:
    """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction; all or nothing.

    sqlite3 errors become ``StorageError`` naming the file and what was being done.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise storage_error(exc, path, doing) from exc
    return result


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"ledger {path} has schema v{version}, newer than this software "
            f"(v{SCHEMA_VERSION}); upgrade the kiosk software"
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()  # another process may have won
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={target}")
            logger.info("ledger %s migrated to schema v%d", path, target)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@dataclass(frozen=True)
class OutboxStatus:
    """What still waits to reach the broker."""

    pending: int
    oldest_age_s: float | None
    parked: int
    confirmed_seq: int | None = None  # the county's latest receipt; None before the first

    def to_dict(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "oldest_age_s": self.oldest_age_s,
            "parked": self.parked,
            "confirmed_seq": self.confirmed_seq,
        }


def outbox_status(conn: sqlite3.Connection, now: float | None = None) -> OutboxStatus:
    """Count pending and parked outbox rows and the age of the oldest pending one."""
    wall = time.time() if now is None else now
    pending, oldest, parked = conn.execute(
        "SELECT COUNT(*) FILTER (WHERE parked_at IS NULL),"
        "       MIN(created) FILTER (WHERE parked_at IS NULL),"
        "       COUNT(*) FILTER (WHERE parked_at IS NOT NULL) FROM outbox"
    ).fetchone()
    age = None if oldest is None else round(max(0.0, wall - oldest), 3)
    confirmed = conn.execute(
        "SELECT confirmed_seq FROM receipts ORDER BY received DESC LIMIT 1"
    ).fetchone()
    return OutboxStatus(
        pending=pending,
        oldest_age_s=age,
        parked=parked,
        confirmed_seq=None if confirmed is None else confirmed[0],
    )


def kept_receipt_row(
    conn: sqlite3.Connection, path: Path, kiosk: str
) -> tuple[tuple[int, str, str] | None, int]:
    """The receipt kept for ``kiosk`` as ``(confirmed_seq, missing JSON, ts)`` (None before the
    first) and the kiosk's last committed ``seq`` (0 before the first entry)."""
    try:
        row = conn.execute(
            "SELECT confirmed_seq, missing, ts FROM receipts WHERE kiosk = ?", (kiosk,)
        ).fetchone()
        last = conn.execute("SELECT last_seq FROM counters WHERE kiosk = ?", (kiosk,)).fetchone()
    except sqlite3.Error as exc:
        raise storage_error(exc, path, "reading the receipt") from exc
    kept = None if row is None else (int(row[0]), str(row[1]), str(row[2]))
    return kept, (0 if last is None else int(last[0]))


def purge_delivered(
    conn: sqlite3.Connection,
    path: Path,
    retention_days: int,
    now: datetime | None = None,
    *,
    confirmed_only: bool = False,
) -> int:
    """Delete entries older than the retention period that have nothing left in the outbox.

    Undelivered (pending or parked) entries are never purged, however old. With
    ``confirmed_only`` (receipts on) an entry must also be at or below its kiosk's
    ``confirmed_seq``: the county may still ask for anything above it.
    """
    cutoff = utc_iso((now or datetime.now(UTC)) - timedelta(days=retention_days))
    return write(
        conn,
        path,
        "purging old entries",
        lambda db: (
            db.execute(
                "DELETE FROM entries WHERE ts < ? AND NOT EXISTS "
                "(SELECT 1 FROM outbox WHERE outbox.entry = entries.n) AND (? = 0 OR seq <= "
                "COALESCE((SELECT confirmed_seq FROM receipts "
                "WHERE receipts.kiosk = entries.kiosk), 0))",
                (cutoff, int(confirmed_only)),
            ).rowcount
        ),
    )


def entry_values(entry: Entry) -> tuple[Any, ...]:
    return (
        entry.id,
        entry.seq,
        entry.kiosk,
        entry.site,
        utc_iso(entry.ts),
        entry.decision.value,
        json.dumps(list(entry.reasons)),
        entry.code_kind,
        entry.code_status,
        entry.masked_name,
        entry.subject_hash,
        entry.temperature_c,
        entry.temperature_state,
        entry.policy_version,
        entry.itinerary_status,
        None if entry.itinerary_updated_at is None else utc_iso(entry.itinerary_updated_at),
        entry.temperature_source,
        entry.staff_name,
    )


def entry_from_row(row: tuple[Any, ...]) -> Entry:
    """Inverse of ``entry_values`` for a row selected with ``ENTRY_COLUMNS``."""
    return Entry(
        id=row[0],
        seq=row[1],
        kiosk=row[2],
        site=row[3],
        ts=parse_utc(row[4]),
        decision=Outcome(row[5]),
        reasons=tuple(json.loads(row[6])),
        code_kind=row[7],
        code_status=row[8],
        masked_name=row[9],
        subject_hash=row[10],
        temperature_c=row[11],
        temperature_state=row[12],
        policy_version=row[13],
        itinerary_status=row[14],
        itinerary_updated_at=None if row[15] is None else parse_utc(row[15]),
        temperature_source=row[16],
        staff_name=row[17],
    )
