"""The publisher's window over the outbox, and the relay paho's thread publishes from."""

from __future__ import annotations

import queue
from dataclasses import dataclass, field

import pytest

from kiosk.uplink.events import Event, Wake
from kiosk.uplink.outbox import Kind, OutboxRow
from kiosk.uplink.relay import Relay
from kiosk.uplink.window import READ_AHEAD, SendWindow


@dataclass
class Rows:
    """An outbox stand-in: rows by kind, ``ready()`` as the real query answers it."""

    rows: dict[Kind, list[OutboxRow]]
    queries: list[tuple[Kind, int, int]] = field(default_factory=list)

    def ready(self, kind: Kind, after_id: int, limit: int) -> list[OutboxRow]:
        self.queries.append((kind, after_id, limit))
        return [r for r in self.rows[kind] if r.id > after_id][:limit]


def outbox(entries: int, alerts: tuple[int, ...] = ()) -> Rows:
    return Rows(
        {
            "entry": [OutboxRow(i, "entry", b"e%d" % i) for i in range(1, entries + 1)],
            "alert": [OutboxRow(i, "alert", b"a%d" % i) for i in alerts],
        }
    )


def test_take_fills_the_room_across_read_ahead_batches_without_repeating_a_row() -> None:
    box, window = outbox(2000), SendWindow()
    first = window.take(box, 700)
    assert [r.id for r in first] == list(range(1, 701))  # more than one read-ahead's worth
    second = window.take(box, 700)  # nothing handed yet: the cursor is where reading stopped
    assert [r.id for r in second] == list(range(701, 1401))
    rest = window.take(box, 5000)
    assert [r.id for r in rest] == list(range(1401, 2001))
    assert window.take(box, 10) == []
    assert all(limit >= READ_AHEAD for kind, _, limit in box.queries if kind == "entry")


def test_alerts_come_first_and_either_kind_can_be_left_out() -> None:
    box, window = outbox(10, alerts=(4, 9)), SendWindow()
    assert [(r.kind, r.id) for r in window.take(box, 3)] == [
        ("alert", 4),
        ("alert", 9),
        ("entry", 1),
    ]
    box.rows["alert"].append(OutboxRow(12, "alert", b"a12"))
    assert [r.id for r in window.take(box, 5, entries=False)] == [12]
    assert [r.id for r in window.take(box, 2, alerts=False)] == [2, 3]


def test_given_back_rows_are_taken_again_in_order() -> None:
    box, window = outbox(10, alerts=(5,)), SendWindow()
    taken = window.take(box, 4)  # alert 5, entries 1..3
    window.give_back(taken[1:])  # entries 1..3 were not queued by paho
    window.give_back(taken[:1])  # nor was the alert
    assert [(r.kind, r.id) for r in window.take(box, 4)] == [
        ("alert", 5),
        ("entry", 1),
        ("entry", 2),
        ("entry", 3),
    ]


def test_rewind_reads_from_the_start_again() -> None:
    box, window = outbox(5), SendWindow()
    for row in window.take(box, 5):
        window.handed(row.id + 100, row, 0.0)
    window.rewind()
    assert window.sent == {}
    assert [r.id for r in window.take(box, 5)] == [1, 2, 3, 4, 5]


@dataclass
class Info:
    mid: int
    rc: int = 0


class FakeClient:
    """paho's ``publish`` as the relay sees it."""

    def __init__(self, fail_on: bytes | None = None) -> None:
        self.published: list[tuple[str, bytes]] = []
        self.fail_on = fail_on

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> Info:
        assert qos == 1 and not retain
        if payload == self.fail_on:
            raise ValueError("broken")
        self.published.append((topic, payload))
        return Info(1000 + len(self.published))


TOPICS: dict[Kind, str] = {"alert": "k/alerts", "entry": "k/entries"}


def test_each_puback_publishes_one_fed_row_and_records_the_hand_over() -> None:
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    relay, client = Relay(events, TOPICS), FakeClient()
    relay.feed.extend([OutboxRow(1, "entry", b"e1"), OutboxRow(2, "entry", b"e2")])
    for mid in (7, 8, 9):
        relay.on_puback(client, mid, 0)
    assert client.published == [("k/entries", b"e1"), ("k/entries", b"e2")]  # feed ran out
    assert relay.take_acks() == [(7, 0), (8, 0), (9, 0)]
    handed = relay.take_handed()
    assert [(mid, rc, row.id) for mid, rc, row in handed] == [(1001, 0, 1), (1002, 0, 2)]
    assert relay.take_acks() == [] and relay.take_handed() == []
    assert events.empty()  # wake_at 0: nobody asked to be woken


def test_the_publisher_is_woken_once_when_enough_acks_gathered() -> None:
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    relay, client = Relay(events, TOPICS), FakeClient()
    relay.wake_at = 3
    for mid in range(1, 7):
        relay.on_puback(client, mid, 0)
    assert isinstance(events.get_nowait(), Wake)
    assert events.empty() and relay.wake_at == 0


def test_a_publish_that_raises_comes_back_as_a_failed_hand_over() -> None:
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    relay, client = Relay(events, TOPICS), FakeClient(fail_on=b"e1")
    relay.feed.append(OutboxRow(1, "entry", b"e1"))
    relay.on_puback(client, 5, 0)
    [(_mid, rc, row)] = relay.take_handed()
    assert rc == -1 and row.id == 1
    relay.feed.append(OutboxRow(2, "alert", b"a2"))
    relay.clear()
    relay.on_puback(client, 6, 0)
    assert client.published == [] and relay.take_handed() == []


@pytest.mark.parametrize("code", [0x00, 0x10, 0x87])
def test_acks_keep_their_reason_code(code: int) -> None:
    relay = Relay(queue.SimpleQueue(), TOPICS)
    relay.on_puback(FakeClient(), 3, code)
    assert relay.take_acks() == [(3, code)]
