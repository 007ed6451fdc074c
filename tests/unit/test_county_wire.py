"""The county's reading of the kiosk's documents: what is accepted, what goes to quarantine."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from kiosk.model import Entry, Outcome
from kiosk.storage import OutboxStatus
from kiosk.uplink.wire import (
    AlertRecord,
    EntryRecord,
    StateRecord,
    StatusRecord,
    TopicRef,
    WireError,
    parse_message,
    parse_topic,
    state_payload,
    status_payload,
)

ENTRY = Entry.new(
    "k-001", "fanzhuang", Outcome.DENY, ("code.red", "temp.fever"),
    code_kind="county-pass", code_status="red", masked_name="张*中", subject_hash="ab" * 16,
    temperature_c=38.4, temperature_state="fever", policy_version="p1",
).with_seq(7)  # fmt: skip
ENTRIES = TopicRef("k-001", "entries")


def _doc(**changes: Any) -> bytes:
    doc = json.loads(ENTRY.entry_message())
    for key, value in changes.items():
        if value is ...:
            doc.pop(key)
        else:
            doc[key] = value
    return json.dumps(doc).encode()


def test_entry_round_trip() -> None:
    record = parse_message(ENTRIES, ENTRY.entry_message())
    assert isinstance(record, EntryRecord)
    assert (record.id, record.seq, record.kiosk, record.site) == (ENTRY.id, 7, "k-001", "fanzhuang")
    assert record.ts == ENTRY.ts and record.decision == "deny"
    assert record.reasons == ("code.red", "temp.fever") and record.masked_name == "张*中"
    assert record.temperature_c == 38.4 and record.policy_version == "p1"


def test_alert_status_state_round_trip() -> None:
    alert = parse_message(TopicRef("k-001", "alerts"), ENTRY.alert_message())
    assert isinstance(alert, AlertRecord)
    assert alert.entry_id == ENTRY.id and alert.alerts == ("code.red", "temp.fever")
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    status = parse_message(
        TopicRef("k-001", "status"), status_payload(True, "k-001", "fanzhuang", now)
    )
    assert status == StatusRecord("k-001", "fanzhuang", True, status.version, now)
    offline = parse_message(TopicRef("k-001", "status"), status_payload(False, "k-001", "x"))
    assert isinstance(offline, StatusRecord) and not offline.online and offline.since is None
    state = parse_message(TopicRef("k-001", "state"), state_payload(OutboxStatus(3, 1.5, 1), now))
    assert state == StateRecord(now, 3, 1.5, 1)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "wire.bad_json"),
        (b"\xff\xfe", "wire.bad_json"),
        (b"[1, 2]", "wire.bad_json"),
        (_doc(schema=2), "wire.unknown_schema"),
        (_doc(schema=...), "wire.unknown_schema"),
        (_doc(schema="1"), "wire.unknown_schema"),
        (_doc(schema=True), "wire.unknown_schema"),
        (_doc(type="alert"), "wire.bad_field"),
        (_doc(id="not-a-uuid"), "wire.bad_field"),
        (_doc(id=...), "wire.bad_field"),
        (_doc(seq=0), "wire.bad_field"),
        (_doc(seq="7"), "wire.bad_field"),
        (_doc(seq=2**70), "wire.bad_field"),
        (_doc(ts="yesterday"), "wire.bad_field"),
        (_doc(decision="maybe"), "wire.bad_field"),
        (_doc(reasons="code.red"), "wire.bad_field"),
        (_doc(masked_name="a\x00b"), "wire.bad_field"),
        (_doc(temperature_c="hot"), "wire.bad_field"),
        (_doc(kiosk="k-002"), "wire.kiosk_mismatch"),
        (_doc(kiosk="../x"), "wire.bad_field"),
        (b"{" + b" " * (64 * 1024) + b"}", "wire.too_large"),
    ],
)
def test_bad_documents_have_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(WireError) as caught:
        parse_message(ENTRIES, payload)
    assert caught.value.reason == reason


def test_status_of_another_kiosk_is_a_mismatch() -> None:
    with pytest.raises(WireError) as caught:
        parse_message(TopicRef("k-001", "status"), status_payload(True, "k-009", "x"))
    assert caught.value.reason == "wire.kiosk_mismatch"


def test_unknown_fields_are_ignored_within_schema_1() -> None:
    record = parse_message(ENTRIES, _doc(firmware="2.1"))
    assert isinstance(record, EntryRecord)


@pytest.mark.parametrize(
    ("topic", "ref"),
    [
        ("county/demo/kiosk/k-001/entries", TopicRef("k-001", "entries")),
        ("county/demo/kiosk/k-001/state", TopicRef("k-001", "state")),
        ("county/demo/kiosk/k-001/receipt", None),
        ("county/demo/kiosk/k-001/entries/x", None),
        ("county/other/kiosk/k-001/entries", None),
        ("county/demo/kiosk//entries", None),
    ],
)
def test_topics(topic: str, ref: TopicRef | None) -> None:
    assert parse_topic("county/demo", topic) == ref
