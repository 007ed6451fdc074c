"""Model: UUIDv7 layout and ordering, entry records, alert reasons."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from kiosk.model import Entry, Outcome, parse_utc, utc_iso, uuid7


def test_uuid7_layout_and_time_order() -> None:
    ids = [uuid7(1_700_000_000_000 + i) for i in range(50)]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in ids)
    assert ids == sorted(ids, key=lambda u: u.int)
    assert ids[0].int >> 80 == 1_700_000_000_000
    assert len({uuid7(1) for _ in range(1000)}) == 1000  # random bits differ within one ms


def test_timestamps_round_trip_in_utc() -> None:
    ts = datetime(2026, 11, 28, 23, 30, 1, 123456, tzinfo=UTC)
    assert utc_iso(ts) == "2026-11-28T23:30:01.123Z"
    assert parse_utc("2026-11-28T23:30:01.123Z") == ts.replace(microsecond=123000)
    assert parse_utc("2026-11-29T07:30:01+08:00") == datetime(2026, 11, 28, 23, 30, 1, tzinfo=UTC)


def test_entry_record_and_alert_reasons() -> None:
    entry = Entry.new("k-001", "fanzhuang", Outcome.DENY, ("code.red", "temp.fever", "x.other"))
    assert entry.seq == 0
    assert entry.alert_reasons == ("code.red", "temp.fever")
    record = entry.with_seq(7).to_record()
    assert record["seq"] == 7 and record["decision"] == "deny"
    assert record["ts"].endswith("Z")
    assert uuid.UUID(record["id"]).version == 7
    assert Entry.new("k", "s", Outcome.PASS).alert_reasons == ()
