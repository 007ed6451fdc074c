"""Alerts in front of people (立即报备): entry alerts from ingest and fleet alerts of silent
kiosks, newest first with the unhandled on top, and their acknowledgement by a handler."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from county.desk.db import DeskDb

FLEET_PREFIX = "fleet:"


@dataclass(frozen=True)
class Alert:
    """One alert as the desk and the webhooks show it (masked name only)."""

    key: str  # the entry id, or "fleet:N"
    kind: str  # "entry" | "fleet"
    ts: datetime
    site: str
    kiosk: str
    decision: str
    alerts: tuple[str, ...]
    reasons: tuple[str, ...]
    masked_name: str | None
    temperature_c: float | None
    received_at: datetime
    handled_by: str | None = None
    handled_at: datetime | None = None
    note: str | None = None

    @property
    def handled(self) -> bool:
        return self.handled_by is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "ts": self.ts.isoformat(),
            "site": self.site,
            "kiosk": self.kiosk,
            "decision": self.decision,
            "alerts": list(self.alerts),
            "reasons": list(self.reasons),
            "masked_name": self.masked_name,
            "temperature_c": self.temperature_c,
            "handled_by": self.handled_by,
            "handled_at": None if self.handled_at is None else self.handled_at.isoformat(),
            "note": self.note,
        }


_ENTRY_ALERTS = (
    "SELECT a.entry_id, a.ts, a.site, a.kiosk, a.decision, a.alerts, a.reasons, a.masked_name, "
    "a.temperature_c, a.received_at, k.handled_by, k.handled_at, k.note FROM alerts a "
    "LEFT JOIN alert_acks k ON k.alert_key = CAST(a.entry_id AS TEXT) "
)
_FLEET_ALERTS = (
    "SELECT f.id, f.raised_at, f.site, f.kiosk, f.kind, f.last_seen, f.cleared_at, "
    "k.handled_by, k.handled_at, k.note FROM fleet_alerts f "
    "LEFT JOIN alert_acks k ON k.alert_key = ? || CAST(f.id AS TEXT) "
)


def _entry_alert(db: DeskDb, r: tuple[Any, ...]) -> Alert:
    ts = db.ts(r[1])
    received = db.ts(r[9])
    assert ts is not None and received is not None  # noqa: S101 - NOT NULL columns
    return Alert(
        key=str(r[0]),
        kind="entry",
        ts=ts,
        site=r[2],
        kiosk=r[3],
        decision=r[4],
        alerts=tuple(db.json_list(r[5])),
        reasons=tuple(db.json_list(r[6])),
        masked_name=r[7],
        temperature_c=r[8],
        received_at=received,
        handled_by=r[10],
        handled_at=db.ts(r[11]),
        note=r[12],
    )


def _fleet_alert(db: DeskDb, r: tuple[Any, ...]) -> Alert:
    raised = db.ts(r[1])
    assert raised is not None  # noqa: S101 - NOT NULL column
    cleared = db.ts(r[6])
    reasons = ["fleet.silent"] + (["fleet.back"] if cleared is not None else [])
    return Alert(
        key=f"{FLEET_PREFIX}{r[0]}",
        kind="fleet",
        ts=raised,
        site=r[2] or "",
        kiosk=r[3],
        decision="",
        alerts=(str(r[4]),),
        reasons=tuple(reasons),
        masked_name=None,
        temperature_c=None,
        received_at=raised,
        handled_by=r[7],
        handled_at=db.ts(r[8]),
        note=r[9],
    )


def recent_alerts(db: DeskDb, limit: int = 200) -> list[Alert]:
    """The latest ``limit`` alerts of both kinds: unhandled first, then newest first."""
    entries = db.rows(_ENTRY_ALERTS + "ORDER BY a.received_at DESC, a.ts DESC LIMIT ?", (limit,))
    fleet = db.rows(_FLEET_ALERTS + "ORDER BY f.id DESC LIMIT ?", (FLEET_PREFIX, limit))
    found = [_entry_alert(db, r) for r in entries] + [_fleet_alert(db, r) for r in fleet]
    found.sort(key=lambda a: (a.received_at, a.ts), reverse=True)
    found = found[:limit]
    found.sort(key=lambda a: a.handled)  # stable: unhandled on top, each part newest first
    return found


def alerts_since(db: DeskDb, after: datetime, limit: int = 500) -> list[Alert]:
    """Alerts received after ``after``, oldest first (what the notifier still has to send)."""
    entries = db.rows(
        _ENTRY_ALERTS + "WHERE a.received_at > ? ORDER BY a.received_at LIMIT ?", (after, limit)
    )
    fleet = db.rows(
        _FLEET_ALERTS + "WHERE f.raised_at > ? ORDER BY f.id LIMIT ?", (FLEET_PREFIX, after, limit)
    )
    found = [_entry_alert(db, r) for r in entries] + [_fleet_alert(db, r) for r in fleet]
    found.sort(key=lambda a: (a.received_at, a.ts))
    return found[:limit]


def alerts_at(db: DeskDb, received_at: datetime) -> list[Alert]:
    """Every alert received at exactly ``received_at`` (one ingest batch shares its time)."""
    entries = db.rows(_ENTRY_ALERTS + "WHERE a.received_at = ? ORDER BY a.ts", (received_at,))
    fleet = db.rows(
        _FLEET_ALERTS + "WHERE f.raised_at = ? ORDER BY f.id", (FLEET_PREFIX, received_at)
    )
    found = [_entry_alert(db, r) for r in entries] + [_fleet_alert(db, r) for r in fleet]
    found.sort(key=lambda a: (a.received_at, a.ts))
    return found


def acknowledge(db: DeskDb, key: str, who: str, note: str, now: datetime) -> bool:
    """Record that ``who`` handled alert ``key``; False if it was handled already."""
    changed = db.execute(
        "INSERT INTO alert_acks (alert_key, handled_by, handled_at, note) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (alert_key) DO NOTHING",
        (key, who, now, note),
    )
    return changed == 1


def alert_exists(db: DeskDb, key: str) -> bool:
    if key.startswith(FLEET_PREFIX):
        number = key.removeprefix(FLEET_PREFIX)
        if not number.isdigit():
            return False
        return db.one("SELECT 1 FROM fleet_alerts WHERE id = ?", (int(number),)) is not None
    return db.one("SELECT 1 FROM alerts WHERE CAST(entry_id AS TEXT) = ?", (key,)) is not None


def version(db: DeskDb) -> tuple[str, ...]:
    """Changes when an alert arrives, a fleet alert is raised or cleared, or one is handled:
    what the desk's event stream watches (three indexed look-ups)."""
    newest = db.one("SELECT max(received_at) FROM alerts")
    fleet = db.one("SELECT max(id), count(cleared_at) FROM fleet_alerts")
    acks = db.one("SELECT max(handled_at), count(*) FROM alert_acks")
    return tuple(str(v) for v in (*(newest or ()), *(fleet or ()), *(acks or ())))
