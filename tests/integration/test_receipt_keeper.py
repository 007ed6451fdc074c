"""ReceiptKeeper against a real ledger file: what it ignores, what it re-queues, and how often."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.ledger import Ledger
from kiosk.model import Entry, Outcome
from kiosk.uplink.outbox import Outbox
from kiosk.uplink.receipts import ReceiptKeeper
from kiosk.uplink.wire import SeqRange, Topics, receipt_payload

TOPIC = Topics("county/demo", "k-001").receipt
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    """Ten delivered entries (outbox emptied); seq 4 raised an alert."""
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        for seq in range(1, 11):
            reasons = ("code.red",) if seq == 4 else ()
            decision = Outcome.DENY if reasons else Outcome.PASS
            ledger.commit(Entry.new("k-001", "fanzhuang", decision, reasons))
    box = Outbox(path).open()
    box.ack([row.id for kind in ("entry", "alert") for row in box.ready(kind, 0, 100)])
    return box


def receipt(confirmed: int, missing: list[SeqRange], at: int = 0, kiosk: str = "k-001") -> bytes:
    return receipt_payload(kiosk, confirmed, missing, T0 + timedelta(seconds=at))


def queued(outbox: Outbox) -> list[tuple[str, int]]:
    rows = outbox.ready("alert", 0, 100) + outbox.ready("entry", 0, 100)
    return [(r.kind, json.loads(r.payload)["seq"]) for r in rows]


def test_ignores_other_topics_kiosks_malformed_and_older(outbox: Outbox) -> None:
    keeper = ReceiptKeeper("k-001", TOPIC, resend_after_s=30)
    assert keeper.handle(outbox, "county/demo/kiosk/k-002/receipt", receipt(10, []), 0) is None
    assert keeper.handle(outbox, TOPIC, receipt(10, [], kiosk="k-002"), 0) is None
    assert keeper.handle(outbox, TOPIC, b'{"schema": 1}', 0) is None
    assert outbox.status().confirmed_seq is None
    assert keeper.handle(outbox, TOPIC, receipt(5, [], at=10), 0) is not None
    assert keeper.handle(outbox, TOPIC, receipt(9, [], at=5), 0) is None  # older
    assert outbox.status().confirmed_seq == 5


def test_requeues_missing_once_per_interval(outbox: Outbox) -> None:
    keeper = ReceiptKeeper("k-001", TOPIC, resend_after_s=30)
    keeper.handle(outbox, TOPIC, receipt(2, [(4, 5), (8, 8)], at=1), now=100)
    assert queued(outbox) == [("alert", 4), ("entry", 4), ("entry", 5), ("entry", 8)]
    outbox.ack([row.id for kind in ("entry", "alert") for row in outbox.ready(kind, 0, 100)])
    # the county's next receipts still miss them (in transit): nothing again within 30 s
    keeper.handle(outbox, TOPIC, receipt(2, [(4, 5), (8, 8)], at=2), now=110)
    keeper.handle(outbox, TOPIC, receipt(3, [(4, 5), (8, 9)], at=3), now=120)
    assert queued(outbox) == [("entry", 9)]  # only the newly missing one
    outbox.ack([row.id for row in outbox.ready("entry", 0, 100)])
    keeper.handle(outbox, TOPIC, receipt(3, [(4, 5), (8, 9)], at=4), now=131)
    assert queued(outbox) == [("alert", 4), ("entry", 4), ("entry", 5), ("entry", 8)]


def test_follow_up_resends_the_tail_and_backs_off(outbox: Outbox) -> None:
    keeper = ReceiptKeeper("k-001", TOPIC, resend_after_s=10)
    assert keeper.follow_up(outbox, now=0) == 0  # no receipt kept: nothing says what is lacking
    keeper.handle(outbox, TOPIC, receipt(7, [], at=1), now=0)  # the county never saw 8-10
    assert keeper.follow_up(outbox, now=5) == 0  # quiet for resend_after_s after a receipt
    assert keeper.follow_up(outbox, now=10) == 3
    assert queued(outbox) == [("entry", 8), ("entry", 9), ("entry", 10)]
    outbox.ack([row.id for row in outbox.ready("entry", 0, 100)])
    # unanswered: each follow-up waits twice as long as the one before
    assert keeper.follow_up(outbox, now=29) == 0
    assert keeper.follow_up(outbox, now=30) == 3
    outbox.ack([row.id for row in outbox.ready("entry", 0, 100)])
    assert keeper.follow_up(outbox, now=69) == 0
    assert keeper.follow_up(outbox, now=70) == 3
    outbox.ack([row.id for row in outbox.ready("entry", 0, 100)])
    # a newer receipt resets the back-off; one that confirms everything ends the follow-ups
    keeper.handle(outbox, TOPIC, receipt(10, [], at=2), now=71)
    assert keeper.follow_up(outbox, now=500) == 0
