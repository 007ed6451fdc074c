"""What the publisher has handed to paho and what the broker has acknowledged (thread-local)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from kiosk.uplink.outbox import Kind, OutboxRow

READ_AHEAD = 256  # entry rows fetched per query; alerts are looked up on every fill


class ReadyRows(Protocol):
    """The part of ``Outbox`` the window reads from."""

    def ready(self, kind: Kind, after_id: int, limit: int) -> list[OutboxRow]: ...


#: A row handed to paho and when (one per message in flight; a plain tuple: one is built per
#: message on the hot path).
Sent = tuple[OutboxRow, float]


@dataclass
class SendWindow:
    """Rows handed to paho by message id, cursors into the outbox, and acks not yet saved.

    Rows are taken alerts first, then entries in id (= ``seq``) order. ``cursor`` is the last
    id read per kind: a row is read once (it then lives in the read-ahead, the relay's feed or
    ``sent``) unless ``give_back()`` returns it or ``rewind()`` is called (stale
    acknowledgements, a new connection), which re-sends. Owned by the publisher thread; not
    thread-safe.
    """

    sent: dict[int, Sent] = field(default_factory=dict)  # mid -> row, oldest first
    cursor: dict[Kind, int] = field(default_factory=lambda: {"alert": 0, "entry": 0})
    read_ahead: deque[OutboxRow] = field(default_factory=deque)
    unsaved_acks: list[int] = field(default_factory=list)
    unsaved_parks: list[tuple[int, str]] = field(default_factory=list)

    def take(
        self, outbox: ReadyRows, room: int, *, alerts: bool = True, entries: bool = True
    ) -> list[OutboxRow]:
        """Up to ``room`` rows to publish next: waiting alerts first, then entries (either
        can be left out). Fewer than ``room`` only when the outbox has no more."""
        if room <= 0:
            return []
        rows = outbox.ready("alert", self.cursor["alert"], room) if alerts else []
        if rows:
            self.cursor["alert"] = rows[-1].id
        while entries and len(rows) < room:
            if not self.read_ahead:
                want = max(READ_AHEAD, room - len(rows))
                batch = outbox.ready("entry", self.cursor["entry"], want)
                if not batch:
                    break
                self.read_ahead.extend(batch)
                self.cursor["entry"] = batch[-1].id
            while self.read_ahead and len(rows) < room:
                rows.append(self.read_ahead.popleft())
        return rows

    def handed(self, mid: int, row: OutboxRow, now: float) -> None:
        """paho accepted ``row`` as message ``mid``."""
        self.sent[mid] = (row, now)

    def give_back(self, rows: list[OutboxRow]) -> None:
        """Rows taken but not handed to paho: entries go back to the front of the line, and
        alerts are read again."""
        self.read_ahead.extendleft(reversed([r for r in rows if r.kind == "entry"]))
        alerts = [r.id for r in rows if r.kind == "alert"]
        if alerts:
            self.cursor["alert"] = min(self.cursor["alert"], min(alerts) - 1)

    def acked(self, mid: int, failure: str | None) -> OutboxRow | None:
        """Record a PUBACK; ``failure`` is the v5 reason of a refusal. None for unknown mids."""
        sent = self.sent.pop(mid, None)
        if sent is None:
            return None
        row = sent[0]
        if failure is None:
            self.unsaved_acks.append(row.id)
        else:
            self.unsaved_parks.append((row.id, failure))
        return row

    def oldest_wait(self, now: float, since: float) -> float:
        """Seconds the oldest handed row has waited, counted from ``since`` at the earliest."""
        if not self.sent:
            return 0.0
        _, sent_at = next(iter(self.sent.values()))
        return now - max(sent_at, since)

    def rewind(self) -> None:
        """Forget what was handed over and read the outbox from its start again."""
        self.sent.clear()
        self.read_ahead.clear()
        self.cursor = {"alert": 0, "entry": 0}
