"""The uplink's view of the ledger's outbox: ready rows in order, acknowledgements, parking."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from kiosk.storage import (
    OutboxStatus,
    StorageError,
    connect,
    outbox_status,
    purge_delivered,
    storage_error,
    write,
)

Kind = Literal["entry", "alert"]

_READY = (
    "SELECT id, payload FROM outbox WHERE kind = ? AND parked_at IS NULL AND id > ? "
    "ORDER BY id LIMIT ?"
)


@dataclass(frozen=True)
class OutboxRow:
    """One message waiting for the broker: an entry, or the alert raised by an entry.

    ``payload`` is the JSON document, serialised when the entry was committed.
    """

    id: int
    kind: Kind
    payload: bytes


class Outbox:
    """Owned by the uplink thread: ``ready()`` rows, ``ack()`` them on PUBACK, ``park()`` rejects.

    The connection uses ``synchronous=NORMAL``: an acknowledgement lost in a power cut only
    brings the row back for a duplicate send, never loses it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def open(self) -> Outbox:
        if self._conn is None:
            self._conn = connect(self.path, "NORMAL")
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(f"outbox {self.path} is not open")
        return self._conn

    def ready(self, kind: Kind, after_id: int, limit: int) -> list[OutboxRow]:
        """Up to ``limit`` unparked rows of ``kind`` with ids above ``after_id``, oldest first."""
        try:
            rows = self._db.execute(_READY, (kind, after_id, limit)).fetchall()
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path, "reading the outbox") from exc
        return [OutboxRow(r[0], kind, r[1]) for r in rows]

    def ack(self, ids: Sequence[int]) -> None:
        """Delete rows the broker has acknowledged."""
        if ids:
            self._write(
                "acknowledging",
                lambda db: (
                    db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids]).rowcount
                ),
            )

    def park(self, row_id: int, reason: str, config_fingerprint: str) -> None:
        """Keep a row the broker refused; it is retried after the uplink config changes."""
        self._write(
            "parking a refused row",
            lambda db: (
                db.execute(
                    "UPDATE outbox SET parked_reason = ?, parked_at = ?, parked_config = ? "
                    "WHERE id = ?",
                    (reason, time.time(), config_fingerprint, row_id),
                ).rowcount
            ),
        )

    def unpark(self, unless_config: str | None = None) -> int:
        """Return parked rows to the queue (all, or those parked under another config)."""
        sql = (
            "UPDATE outbox SET parked_reason = NULL, parked_at = NULL, parked_config = NULL "
            "WHERE parked_at IS NOT NULL AND (? IS NULL OR parked_config IS NOT ?)"
        )
        return self._write(
            "retrying parked rows",
            lambda db: db.execute(sql, (unless_config, unless_config)).rowcount,
        )

    def status(self, now: float | None = None) -> OutboxStatus:
        try:
            return outbox_status(self._db, now)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path, "reading the outbox") from exc

    def purge(self, retention_days: int, now: datetime | None = None) -> int:
        """Delete delivered entries older than the retention period; undelivered ones stay."""
        return purge_delivered(self._db, self.path, retention_days, now)

    def _write(self, doing: str, work: Callable[[sqlite3.Connection], int]) -> int:
        return write(self._db, self.path, doing, work)
