"""The fleet at a glance: every kiosk's site, availability, last entry, backlog, confirmed
sequence and gaps, clock state; silent kiosks raise (and clear) fleet alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from county.desk.db import DeskDb
from county.store.gaps import Run
from county.store.rows import group_runs, progress_of

SILENT = "silent"


@dataclass(frozen=True)
class KioskView:
    kiosk: str
    site: str | None
    online: bool | None  # the retained status document (LWT: offline); None = never heard
    last_seen: datetime | None
    silent: bool
    last_entry: datetime | None
    backlog: int | None
    confirmed_seq: int
    last_seq: int
    missing: tuple[Run, ...]
    clock_skew_s: float | None  # arrival minus entry time of the newest entry
    clock_ok: bool | None

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "kiosk": self.kiosk,
            "site": self.site,
            "online": self.online,
            "last_seen": iso(self.last_seen),
            "silent": self.silent,
            "last_entry": iso(self.last_entry),
            "backlog": self.backlog,
            "confirmed_seq": self.confirmed_seq,
            "last_seq": self.last_seq,
            "missing": [list(r) for r in self.missing],
            "clock_skew_s": self.clock_skew_s,
            "clock_ok": self.clock_ok,
        }


def fleet(db: DeskDb, now: datetime, silent_after_s: float, skew_warn_s: float) -> list[KioskView]:
    """Every kiosk the county knows of, by site then id."""
    status = {
        r[0]: r[1:] for r in db.rows("SELECT kiosk, site, online, last_seen, backlog FROM kiosks")
    }
    runs = group_runs(db.rows("SELECT kiosk, lo, hi FROM seq_runs ORDER BY kiosk, lo"))
    # each kiosk's newest entry in one query (one per kiosk cost 7,000 round trips per page and
    # per notifier pass for a county of 7,000 kiosks): its seq is the top of its received runs,
    # written in the same transaction as the entry; (kiosk, seq) is indexed
    newest_by_kiosk = {
        r[0]: r[1:]
        for r in db.rows(
            "SELECT e.kiosk, e.ts, e.received_at, e.site FROM entries e JOIN "
            "(SELECT kiosk, MAX(hi) AS seq FROM seq_runs GROUP BY kiosk) top "
            "ON e.kiosk = top.kiosk AND e.seq = top.seq ORDER BY e.received_at"
        )
    }
    views = []
    for kiosk in sorted(set(status) | set(runs)):
        site, online, last_seen_raw, backlog = status.get(kiosk, (None, None, None, None))
        last_seen = db.ts(last_seen_raw)
        newest = newest_by_kiosk.get(kiosk)
        last_entry = db.ts(newest[0]) if newest else None
        skew = None
        if newest:
            received = db.ts(newest[1])
            skew = (
                None
                if received is None or last_entry is None
                else ((received - last_entry).total_seconds())
            )
            site = site or newest[2]
        heard = max((t for t in (last_seen, last_entry) if t is not None), default=None)
        silent = heard is None or (now - heard).total_seconds() > silent_after_s
        progress = progress_of(kiosk, runs.get(kiosk, []))
        views.append(
            KioskView(
                kiosk=kiosk,
                site=site,
                online=None if online is None else bool(online),
                last_seen=heard,
                silent=silent,
                last_entry=last_entry,
                backlog=backlog,
                confirmed_seq=progress.confirmed_seq,
                last_seq=progress.last_seq,
                missing=progress.missing,
                clock_skew_s=None if skew is None else round(skew, 1),
                clock_ok=None if skew is None else skew > -skew_warn_s,
            )
        )
    views.sort(key=lambda v: (v.site or "", v.kiosk))
    return views


def watch(db: DeskDb, views: list[KioskView], now: datetime) -> tuple[int, int]:
    """Raise a fleet alert for each newly silent kiosk, clear those heard from again;
    returns (raised, cleared)."""
    open_alerts = {
        r[0]: r[1] for r in db.rows("SELECT kiosk, id FROM fleet_alerts WHERE cleared_at IS NULL")
    }
    raised = cleared = 0
    for view in views:
        if view.silent and view.kiosk not in open_alerts:
            db.execute(
                "INSERT INTO fleet_alerts (kiosk, site, kind, raised_at, last_seen) "
                "VALUES (?, ?, ?, ?, ?)",
                (view.kiosk, view.site, SILENT, now, view.last_seen),
            )
            raised += 1
        elif not view.silent and view.kiosk in open_alerts:
            db.execute(
                "UPDATE fleet_alerts SET cleared_at = ? WHERE id = ?",
                (now, open_alerts[view.kiosk]),
            )
            cleared += 1
    return raised, cleared
