"""Every venue's ledger (出入登记台账) as the county holds it: per venue and day, counts,
entries per hour, and exports (CSV with formula cells defused, XLSX with inline strings)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from county.desk.db import DeskDb
from kiosk.export import defuse
from kiosk.model import Outcome

COLUMNS = (
    "seq", "id", "ts", "kiosk", "site", "decision", "reasons", "code_kind", "code_status",
    "masked_name", "subject_hash", "temperature_c", "temperature_state", "policy_version",
)  # fmt: skip
_SELECT = (
    "SELECT seq, id, ts, kiosk, site, decision, reasons, code_kind, code_status, masked_name, "
    "subject_hash, temperature_c, temperature_state, policy_version FROM entries "
)


def day_window(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tz)
    return start, start + timedelta(days=1)


@dataclass(frozen=True)
class VenueCounts:
    site: str
    passed: int
    denied: int
    referred: int

    @property
    def total(self) -> int:
        return self.passed + self.denied + self.referred


def venue_counts(db: DeskDb, day: date, tz: tzinfo) -> list[VenueCounts]:
    """pass/deny/refer per venue on ``day`` (in the desk's time zone)."""
    start, end = day_window(day, tz)
    counts: dict[str, dict[str, int]] = {}
    for site, decision, n in db.rows(
        "SELECT site, decision, count(*) FROM entries WHERE ts >= ? AND ts < ? "
        "GROUP BY site, decision",
        (start, end),
    ):
        counts.setdefault(site, {})[decision] = int(n)
    return [
        VenueCounts(s, c.get(Outcome.PASS, 0), c.get(Outcome.DENY, 0), c.get(Outcome.REFER, 0))
        for s, c in sorted(counts.items())
    ]


def sites(db: DeskDb) -> list[str]:
    rows = db.rows(
        "SELECT site FROM kiosks WHERE site IS NOT NULL UNION SELECT DISTINCT site FROM entries"
    )
    return sorted({r[0] for r in rows if r[0]})


def records(
    db: DeskDb, site: str, day: date, tz: tzinfo, limit: int | None = None
) -> list[dict[str, Any]]:
    """The venue's entries of ``day``, oldest first, as export records."""
    start, end = day_window(day, tz)
    sql = _SELECT + "WHERE site = ? AND ts >= ? AND ts < ? ORDER BY ts, kiosk, seq"
    params: tuple[object, ...] = (site, start, end)
    if limit is not None:
        sql += " LIMIT ?"
        params += (limit,)
    out = []
    for r in db.rows(sql, params):
        ts = db.ts(r[2])
        out.append(
            {
                **dict(zip(COLUMNS, r, strict=True)),
                "id": str(r[1]),
                "ts": None if ts is None else ts.astimezone(tz).isoformat(timespec="seconds"),
                "reasons": " ".join(db.json_list(r[6])),
            }
        )
    return out


def hourly(db: DeskDb, site: str, day: date, tz: tzinfo) -> list[dict[Outcome, int]]:
    """Entries per hour of ``day`` and outcome, for the chart."""
    buckets: list[dict[Outcome, int]] = [{o: 0 for o in Outcome} for _ in range(24)]
    start, end = day_window(day, tz)
    for ts_raw, decision in db.rows(
        "SELECT ts, decision FROM entries WHERE site = ? AND ts >= ? AND ts < ?",
        (site, start, end),
    ):
        ts = db.ts(ts_raw)
        if ts is not None and decision in Outcome._value2member_map_:
            buckets[ts.astimezone(tz).hour][Outcome(decision)] += 1
    return buckets


def csv_text(rows: list[dict[str, Any]]) -> Iterator[str]:
    """CSV with a BOM for spreadsheets; cells that would start a formula are defused."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    yield "\ufeff"
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([defuse(row[c]) for c in COLUMNS])
        if buf.tell() > 65536:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
