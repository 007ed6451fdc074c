"""The receipt document shared by the kiosk and the county: topic, round trip, strict parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from kiosk.uplink.outbox import id_runs
from kiosk.uplink.wire import (
    RECEIPT_MAX_BYTES,
    RECEIPT_MAX_RANGES,
    Receipt,
    ReceiptError,
    Topics,
    parse_receipt,
    receipt_payload,
)

NOW = datetime(2026, 12, 1, 8, 30, 0, 123000, tzinfo=UTC)


def test_receipt_topic() -> None:
    assert Topics("county/demo", "k-01").receipt == "county/demo/kiosk/k-01/receipt"


def test_payload_is_the_documented_document() -> None:
    payload = receipt_payload("k-01", 41, [(43, 44), (47, 47)], NOW)
    assert json.loads(payload) == {
        "schema": 1,
        "type": "receipt",
        "kiosk": "k-01",
        "confirmed_seq": 41,
        "missing": [[43, 44], [47, 47]],
        "ts": "2026-12-01T08:30:00.123Z",
    }


@pytest.mark.parametrize(
    ("confirmed", "missing"),
    [(0, ()), (500, ()), (0, ((1, 1),)), (41, ((42, 44), (46, 46), (48, 1000)))],
)
def test_round_trip(confirmed: int, missing: tuple[tuple[int, int], ...]) -> None:
    receipt = parse_receipt(receipt_payload("k-01", confirmed, missing, NOW))
    assert receipt == Receipt("k-01", confirmed, missing, NOW)
    assert receipt.missing_seqs() == sum(b - a + 1 for a, b in missing)


def _doc(**changes: object) -> bytes:
    doc: dict[str, object] = {
        "schema": 1,
        "type": "receipt",
        "kiosk": "k-01",
        "confirmed_seq": 10,
        "missing": [[12, 13]],
        "ts": "2026-12-01T08:30:00.123Z",
    }
    for key, value in changes.items():
        if value is _DROP:
            del doc[key]
        else:
            doc[key] = value
    return json.dumps(doc).encode()


_DROP = object()


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b'{"schema": NaN}', "NaN"),
        (b'{"schema": 1, "schema": 1}', "twice"),
        (b"[1, 2]", "not a JSON object"),
        (b" " * (RECEIPT_MAX_BYTES + 1), "too large"),
        (_doc(schema=2), "schema"),
        (_doc(schema=True), "schema"),
        (_doc(schema="1"), "schema"),
        (_doc(type="entry"), "type"),
        (_doc(kiosk=""), "kiosk"),
        (_doc(kiosk=7), "kiosk"),
        (_doc(kiosk=_DROP), "keys: missing ['kiosk']"),
        (_doc(extra=1), "unexpected ['extra']"),
        (_doc(confirmed_seq=-1), "confirmed_seq"),
        (_doc(confirmed_seq=10.0), "confirmed_seq"),
        (_doc(confirmed_seq=True), "confirmed_seq"),
        (_doc(confirmed_seq="10"), "confirmed_seq"),
        (_doc(missing={"12": 13}), "missing"),
        (_doc(missing=[[12]]), "missing"),
        (_doc(missing=[[12, 13, 14]]), "missing"),
        (_doc(missing=[12, 13]), "missing"),
        (_doc(missing=[[12.0, 13]]), "not a pair of integers"),
        (_doc(missing=[[13, 12]]), "backwards"),
        (_doc(missing=[[10, 12]]), "not above confirmed_seq"),
        (_doc(missing=[[3, 4]]), "not above confirmed_seq"),
        (_doc(missing=[[12, 14], [14, 15]]), "do not overlap"),
        (_doc(missing=[[16, 17], [12, 13]]), "ascending"),
        (_doc(missing=[[11 + 2 * i, 11 + 2 * i] for i in range(RECEIPT_MAX_RANGES + 1)]), "ranges"),
        (_doc(ts=_DROP), "keys: missing ['ts']"),
        (_doc(ts=12), "ts"),
        (_doc(ts="yesterday"), "ts"),
        (_doc(ts="2026-12-01T08:30:00"), None),  # naive: taken as UTC (accepted)
    ],
)
def test_parse_refuses_with_a_named_reason(payload: bytes, names: str | None) -> None:
    if names is None:
        assert parse_receipt(payload).ts == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
        return
    with pytest.raises(ReceiptError) as caught:
        parse_receipt(payload)
    assert names in str(caught.value)


def test_payload_refuses_what_could_not_be_parsed_back() -> None:
    with pytest.raises(ReceiptError, match="backwards"):
        receipt_payload("k-01", 3, [(9, 5)], NOW)
    with pytest.raises(ReceiptError, match="time zone"):
        receipt_payload("k-01", 3, [], datetime(2026, 12, 1))


@pytest.mark.parametrize(
    ("ids", "runs"),
    [
        ([], []),
        ([5], [(5, 5)]),
        ([1, 2, 3], [(1, 3)]),
        ([3, 1, 2, 7, 8], [(1, 3), (7, 8)]),
        ([10, 12, 14], [(10, 10), (12, 12), (14, 14)]),
        ([4, 4, 5], [(4, 5)]),
    ],
)
def test_acknowledged_ids_are_deleted_in_runs(ids: list[int], runs: list[tuple[int, int]]) -> None:
    assert id_runs(ids) == runs
