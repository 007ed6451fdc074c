"""The local ledger (台账): durable entries plus their outbox rows, retention and export."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType

from kiosk.model import ALERT_REASONS, Entry, Outcome, utc_iso
from kiosk.storage import (
    ENTRY_COLUMNS,
    ENTRY_PLACEHOLDERS,
    OutboxStatus,
    StorageError,
    connect,
    entry_from_row,
    entry_values,
    kept_receipt_row,
    outbox_status,
    purge_delivered,
    storage_error,
    write,
)

__all__ = ["Ledger", "StorageError"]


class Ledger:
    """Commits entries durably and reads them back.

    One instance per thread (SQLite connections are not shared between threads); several
    processes may open the same file at once (WAL), e.g. ``kiosk outbox status`` beside a
    running kiosk. Every method raises ``StorageError`` (``StorageFull`` for a full disk)
    with a message that names the file; the connection stays usable afterwards.
    """

    def __init__(self, path: Path, *, max_pages: int | None = None) -> None:
        self.path = path
        self._max_pages = max_pages
        self._conn: sqlite3.Connection | None = None

    def open(self) -> Ledger:
        if self._conn is None:
            self._conn = connect(self.path, "FULL")
            if self._max_pages is not None:
                self._conn.execute(f"PRAGMA max_page_count={int(self._max_pages)}")
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Ledger:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(f"ledger {self.path} is not open")
        return self._conn

    def commit(self, entry: Entry) -> Entry:
        """Write the entry, its outbox message and (for alerts) an alert message in one transaction.

        Returns the entry with its gap-free ``seq`` once the transaction is on disk
        (``synchronous=FULL``). On any failure nothing is written and no number is used up.
        """
        created = time.time()

        def insert(db: sqlite3.Connection) -> Entry:
            (seq,) = db.execute(
                "INSERT INTO counters (kiosk, last_seq) VALUES (?, 1) "
                "ON CONFLICT (kiosk) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
                (entry.kiosk,),
            ).fetchone()
            committed = entry.with_seq(seq)
            row = db.execute(
                f"INSERT INTO entries ({ENTRY_COLUMNS}) "  # noqa: S608 - constant
                f"VALUES ({ENTRY_PLACEHOLDERS})",
                entry_values(committed),
            ).lastrowid
            messages = [("entry", committed.entry_message())]
            if committed.alert_reasons:
                messages.append(("alert", committed.alert_message()))
            db.executemany(
                "INSERT INTO outbox (entry, kind, payload, created) VALUES (?, ?, ?, ?)",
                [(row, kind, payload, created) for kind, payload in messages],
            )
            return committed

        return write(self._db, self.path, "committing an entry", insert)

    def entries(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[tuple[Entry, bool]]:
        """Entries in ``seq`` order with whether each has fully reached the broker."""
        clauses, params = [], []
        if since is not None:
            clauses.append("ts >= ?")
            params.append(utc_iso(since))
        if until is not None:
            clauses.append("ts < ?")
            params.append(utc_iso(until))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        yield from self._select(where, "ORDER BY kiosk, seq", params)

    def latest(self, limit: int = 20, *, alerts_only: bool = False) -> list[tuple[Entry, bool]]:
        """The newest entries first (only those that raised an alert, if asked)."""
        where = ""
        if alerts_only:
            where = "WHERE " + " OR ".join(
                f"reasons LIKE '%\"{reason}\"%'" for reason in sorted(ALERT_REASONS)
            )
        return list(self._select(where, "ORDER BY n DESC LIMIT ?", [limit]))

    def _select(
        self, where: str, order: str, params: Sequence[object]
    ) -> Iterator[tuple[Entry, bool]]:
        """Entries with a delivered flag (no outbox row left); ``where``/``order`` are constant."""
        query = (
            f"SELECT {ENTRY_COLUMNS}, NOT EXISTS "  # noqa: S608 - constant text
            f"(SELECT 1 FROM outbox WHERE outbox.entry = entries.n) FROM entries {where} {order}"
        )
        try:
            for row in self._db.execute(query, params):
                yield entry_from_row(row[:-1]), bool(row[-1])
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path, "reading entries") from exc

    def counts(self, since: datetime, until: datetime) -> dict[Outcome, int]:
        """Entries per decision in ``[since, until)``."""
        try:
            rows = self._db.execute(
                "SELECT decision, COUNT(*) FROM entries WHERE ts >= ? AND ts < ? GROUP BY decision",
                (utc_iso(since), utc_iso(until)),
            ).fetchall()
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path, "counting entries") from exc
        found = {Outcome(d): n for d, n in rows}
        return {o: found.get(o, 0) for o in Outcome}

    def outbox_status(self, now: float | None = None) -> OutboxStatus:
        try:
            return outbox_status(self._db, now)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path, "reading the outbox") from exc

    def has_pending(self) -> bool:
        """Whether any outbox row still waits for the broker (parked rows do not wait); one
        look at the ready index, cheap enough to poll."""
        try:
            row = self._db.execute(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE parked_at IS NULL)"
            ).fetchone()
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path, "reading the outbox") from exc
        return bool(row[0])

    def purge(
        self, retention_days: int, now: datetime | None = None, *, confirmed_only: bool = False
    ) -> int:
        """Delete delivered entries older than the retention period; undelivered ones stay,
        and with ``confirmed_only`` (receipts on) so do those the county has not confirmed."""
        return purge_delivered(
            self._db, self.path, retention_days, now, confirmed_only=confirmed_only
        )

    def receipt_progress(self, kiosk: str) -> tuple[int | None, int]:
        """The county's ``confirmed_seq`` for ``kiosk`` (None before a receipt) and the
        kiosk's last committed ``seq`` (0 before the first entry)."""
        row, last = kept_receipt_row(self._db, self.path, kiosk)
        return (None if row is None else row[0]), last
