"""The hand-over between paho's network thread and the publisher's thread on the hot path.

A backlog drain is paced by PUBACKs. If the publisher thread hands rows to paho itself, its
``publish()`` calls and paho's PUBACK handling fight over paho's message lock and the GIL, and
every hand-over stalls the window for milliseconds. So the publisher puts the next rows on
``feed``, and paho's thread, on each PUBACK, publishes one of them from inside ``on_publish``:
the message is queued behind the one just acknowledged and sent the moment its slot frees,
with no lock or GIL hand-over between threads. What paho's thread did travels back as plain
tuples on deques (``append``/``popleft`` are atomic), and a ``Wake`` on the event queue once
``wake_at`` acknowledgements have gathered. Everything else stays in the publisher thread.
"""

from __future__ import annotations

import queue
from collections import deque
from typing import Protocol, TypeVar

from kiosk.uplink.events import Ack, Event, Wake
from kiosk.uplink.outbox import Kind, OutboxRow

T = TypeVar("T")

#: A row paho's thread handed to paho: (message id, paho's rc, the row); rc -1: publish raised.
Handed = tuple[int, int, OutboxRow]


class _Info(Protocol):
    @property
    def mid(self) -> int: ...

    @property
    def rc(self) -> int: ...


class Publishes(Protocol):
    """The part of ``paho.mqtt.client.Client`` the relay uses."""

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> _Info: ...


class Relay:
    """Owned jointly: paho's thread calls ``on_puback``; the publisher thread everything else.

    The publisher sets ``wake_at`` before it sleeps (0: never wake for acks), so it wakes once
    per batch worth acting on rather than per PUBACK; a wake lost to the race between the
    threads only costs the publisher's sleep timeout.
    """

    def __init__(self, events: queue.SimpleQueue[Event], topics: dict[Kind, str]) -> None:
        self.acks: deque[Ack] = deque()
        self.feed: deque[OutboxRow] = deque()
        self.handed: deque[Handed] = deque()
        self.wake_at = 0
        self.topics = topics  # by kind
        self._events = events

    def on_puback(self, client: Publishes, mid: int, code: int) -> None:
        """paho's thread, for every PUBACK: record it and publish the next fed row."""
        acks = self.acks
        acks.append((mid, code))
        feed = self.feed
        if feed:
            try:
                row = feed.popleft()
            except IndexError:  # the publisher cleared the feed meanwhile
                pass
            else:
                try:
                    info = client.publish(self.topics[row.kind], row.payload, 1, False)
                except Exception:  # the publisher gives the row back and logs it
                    self.handed.append((0, -1, row))
                else:
                    self.handed.append((info.mid, info.rc, row))
        if self.wake_at and len(acks) >= self.wake_at:
            self.wake_at = 0
            self._events.put(Wake())

    def take_acks(self) -> list[Ack]:
        """The PUBACKs so far (publisher thread). Take these *before* ``take_handed``: a row's
        hand-over is recorded before its PUBACK can arrive, so every ack taken here has its
        row among the hand-overs taken after."""
        return _take(self.acks)

    def take_handed(self) -> list[Handed]:
        return _take(self.handed)

    def clear(self) -> None:
        """Forget everything (the client is closed: no callback runs any more)."""
        self.acks.clear()
        self.feed.clear()
        self.handed.clear()
        self.wake_at = 0


def _take(items: deque[T]) -> list[T]:
    """What is on ``items`` now, oldest first; paho's thread may append meanwhile (``len``
    bounds the loop, and ``popleft`` is atomic), never pop."""
    return [items.popleft() for _ in range(len(items))]
