"""The uplink's view of the ledger's outbox: ready rows in order, acknowledgements, parking."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal, NamedTuple, TypeVar

from kiosk.model import parse_utc, utc_iso
from kiosk.storage import (
    ENTRY_COLUMNS,
    OutboxStatus,
    StorageError,
    connect,
    entry_from_row,
    kept_receipt_row,
    outbox_status,
    purge_delivered,
    storage_error,
    write,
)
from kiosk.uplink.wire import Receipt, SeqRange

Kind = Literal["entry", "alert"]
T = TypeVar("T")

_READY = (
    "SELECT id, payload FROM outbox WHERE kind = ? AND parked_at IS NULL AND id > ? "
    "ORDER BY id LIMIT ?"
)


class OutboxRow(NamedTuple):
    """One message waiting for the broker: an entry, or the alert raised by an entry.

    ``payload`` is the JSON document, serialised when the entry was committed. A named tuple:
    the uplink builds one per message on its hot path.
    """

    id: int
    kind: Kind
    payload: bytes


def id_runs(ids: Sequence[int]) -> list[tuple[int, int]]:
    """``[3, 1, 2, 7, 8]`` -> ``[(1, 3), (7, 8)]``: inclusive runs of consecutive ids."""
    runs: list[tuple[int, int]] = []
    for i in sorted(set(ids)):
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


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
        """Delete rows the broker has acknowledged (one statement per run of consecutive ids:
        PUBACKs mostly arrive in order)."""
        if ids:
            runs = id_runs(ids)
            self._write(
                "acknowledging",
                lambda db: (
                    db.executemany("DELETE FROM outbox WHERE id BETWEEN ? AND ?", runs).rowcount
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

    def purge(
        self, retention_days: int, now: datetime | None = None, *, confirmed_only: bool = False
    ) -> int:
        """Delete delivered entries older than the retention period; undelivered ones stay
        (and, with ``confirmed_only``, those above the county's ``confirmed_seq``)."""
        return purge_delivered(
            self._db, self.path, retention_days, now, confirmed_only=confirmed_only
        )

    def save_receipt(self, receipt: Receipt) -> bool:
        """Keep the county's receipt unless a newer one is already kept; True when kept."""
        missing = json.dumps([list(r) for r in receipt.missing])
        return bool(
            self._write(
                "saving the county's receipt",
                lambda db: (
                    db.execute(
                        "INSERT INTO receipts (kiosk, confirmed_seq, missing, ts, received) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kiosk) DO UPDATE SET "
                        "confirmed_seq = excluded.confirmed_seq, missing = excluded.missing, "
                        "ts = excluded.ts, received = excluded.received "
                        "WHERE excluded.ts >= receipts.ts",
                        (
                            receipt.kiosk,
                            receipt.confirmed_seq,
                            missing,
                            utc_iso(receipt.ts),
                            time.time(),
                        ),
                    ).rowcount
                ),
            )
        )

    def kept_receipt(self, kiosk: str) -> tuple[Receipt | None, int]:
        """The receipt kept for ``kiosk`` (None before the first) and its last committed seq."""
        row, last = kept_receipt_row(self._db, self.path, kiosk)
        if row is None:
            return None, last
        confirmed, missing, ts = row
        ranges = tuple((a, b) for a, b in json.loads(missing))
        return Receipt(kiosk, confirmed, ranges, parse_utc(ts)), last

    def requeue(
        self, kiosk: str, ranges: Sequence[SeqRange], skip: Callable[[int], bool], limit: int
    ) -> list[int]:
        """Put entries of ``kiosk`` with a ``seq`` in ``ranges`` back in the outbox (with their
        alert), from the entries table, unless they still have an outbox row or ``skip(seq)``.

        At most ``limit`` entries; returns their ``seq`` numbers, in order.
        """
        created = time.time()

        def work(db: sqlite3.Connection) -> list[int]:
            done: list[int] = []
            for first, last in ranges:
                rows = db.execute(
                    f"SELECT n, {ENTRY_COLUMNS} FROM entries "  # noqa: S608 - constant
                    "WHERE kiosk = ? AND seq BETWEEN ? AND ? AND NOT EXISTS "
                    "(SELECT 1 FROM outbox WHERE outbox.entry = entries.n) ORDER BY seq LIMIT ?",
                    (kiosk, first, last, limit - len(done)),
                ).fetchall()
                for row in rows:
                    entry = entry_from_row(row[1:])
                    if skip(entry.seq):
                        continue
                    messages = [("entry", entry.entry_message())]
                    if entry.alert_reasons:
                        messages.append(("alert", entry.alert_message()))
                    db.executemany(
                        "INSERT INTO outbox (entry, kind, payload, created) VALUES (?, ?, ?, ?)",
                        [(row[0], kind, payload, created) for kind, payload in messages],
                    )
                    done.append(entry.seq)
                if len(done) >= limit:
                    break
            return done

        return self._write("re-queueing entries the county misses", work)

    def _write(self, doing: str, work: Callable[[sqlite3.Connection], T]) -> T:
        return write(self._db, self.path, doing, work)
