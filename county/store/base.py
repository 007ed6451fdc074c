"""The store's one small interface and the values that cross it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from county.store.gaps import Run
from kiosk.uplink.wire import AlertRecord, EntryRecord, StateRecord, StatusRecord

#: What retention removes from the desk's tables besides entries and alerts (``%s``: the
#: cutoff time): webhook deliveries (their body names the alert), handlers' acknowledgements
#: (their note is free text) and cleared fleet alerts. Open fleet alerts and the append-only
#: audit log of tracing stay.
DESK_PURGE = (
    "DELETE FROM deliveries WHERE alert_ts < %s",
    "DELETE FROM alert_acks WHERE handled_at < %s",
    "DELETE FROM fleet_alerts WHERE cleared_at < %s",
)


class StoreError(Exception):
    """The database could not be reached or written; nothing of the batch was committed."""


class StoreRejected(StoreError):
    """The database refused the data itself (not the connection): retrying it will not help."""


@dataclass(frozen=True)
class Quarantined:
    """A message that broke the schema, kept with its reason (raw bytes capped)."""

    topic: str
    kiosk: str | None
    reason: str
    detail: str
    size: int
    payload: bytes


@dataclass
class Batch:
    """Everything one transaction writes: what arrived in one batching window."""

    entries: list[EntryRecord] = field(default_factory=list)
    alerts: list[AlertRecord] = field(default_factory=list)
    statuses: list[StatusRecord] = field(default_factory=list)
    states: list[tuple[str, StateRecord]] = field(default_factory=list)
    quarantine: list[Quarantined] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.entries)
            + len(self.alerts)
            + len(self.statuses)
            + len(self.states)
            + len(self.quarantine)
        )

    def kiosks(self) -> list[str]:
        """Every kiosk the batch writes about, sorted (locks are taken in this order)."""
        names = {e.kiosk for e in self.entries}
        names.update(a.kiosk for a in self.alerts)
        names.update(s.kiosk for s in self.statuses)
        names.update(k for k, _ in self.states)
        return sorted(names)

    def entry_kiosks(self) -> list[str]:
        """Kiosks whose sequence runs this batch changes (their receipts are due)."""
        return sorted({e.kiosk for e in self.entries})


@dataclass(frozen=True)
class Progress:
    """What the county holds of one kiosk's sequence: the receipt's content."""

    kiosk: str
    confirmed_seq: int
    last_seq: int
    missing: tuple[Run, ...]


@dataclass(frozen=True)
class KioskRow:
    """One line of ``county kiosks``."""

    kiosk: str
    site: str | None
    online: bool
    last_seen: datetime | None
    last_seq: int
    confirmed_seq: int
    missing: tuple[Run, ...]
    backlog: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kiosk": self.kiosk,
            "site": self.site,
            "online": self.online,
            "last_seen": None if self.last_seen is None else self.last_seen.isoformat(),
            "last_seq": self.last_seq,
            "confirmed_seq": self.confirmed_seq,
            "missing": [list(r) for r in self.missing],
            "backlog": self.backlog,
        }


class Store(Protocol):
    """Entries, alerts, kiosks, quarantine and sequence runs in one database.

    ``open()`` connects and applies pending migrations; ``write()`` commits a whole batch in
    one transaction or raises ``StoreError`` having committed nothing. One instance belongs to
    one thread.
    """

    def open(self) -> None: ...

    def close(self) -> None: ...

    def write(self, batch: Batch, now: datetime) -> None: ...

    def progress(self, kiosks: list[str]) -> list[Progress]: ...

    def kiosks(self) -> list[KioskRow]: ...

    def purge(self, now: datetime) -> int: ...
