"""Facts the paho network thread reports to the publisher thread: immutable events and acks."""

from __future__ import annotations

import queue
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Connected:
    """CONNACK accepted; ``receive_maximum`` is the broker's limit on unacknowledged QoS 1."""

    receive_maximum: int | None


@dataclass(frozen=True)
class ConnectRefused:
    """CONNACK refused (bad credentials, not authorised, ...); paho keeps retrying."""

    reason: str


@dataclass(frozen=True)
class Disconnected:
    reason: str


@dataclass(frozen=True)
class Wake:
    """New rows were committed: look at the outbox now instead of at the next poll."""


@dataclass(frozen=True)
class Arrived:
    """A message on a subscribed topic (the county's receipt); parsed by the publisher."""

    topic: str
    payload: bytes


@dataclass(frozen=True)
class Subscribed:
    """SUBACK: ``refusal`` is the broker's reason when it refused the subscription."""

    refusal: str | None


Event = Connected | ConnectRefused | Disconnected | Wake | Arrived | Subscribed

#: A PUBACK: (message id, v5 reason code; 0x80 and above is a refusal). PUBACKs are the hot
#: path, so they travel as plain tuples on a deque instead of events on the queue.
Ack = tuple[int, int]


class AckBox:
    """PUBACKs from paho's network thread to the publisher's thread: a deque (``append`` is
    atomic and cheap), and one ``Wake`` on the event queue once ``wake_at`` have gathered.

    The publisher sets ``wake_at`` before it sleeps (0: never wake for acks), so it wakes once
    per batch worth acting on (room to refill, acks worth saving, the last outstanding one)
    rather than per PUBACK or on a timer: fewer hand-overs of the GIL between the two threads.
    A wake lost to the race between the threads only costs the publisher's sleep timeout.
    """

    def __init__(self, events: queue.SimpleQueue[Event]) -> None:
        self.items: deque[Ack] = deque()
        self.wake_at = 0
        self._events = events

    def add(self, mid: int, code: int) -> None:
        """Called by paho's thread for every PUBACK."""
        items = self.items
        items.append((mid, code))
        if self.wake_at and len(items) >= self.wake_at:
            self.wake_at = 0
            self._events.put(Wake())
