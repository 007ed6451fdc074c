"""Facts the paho network thread reports to the publisher thread: immutable events and acks."""

from __future__ import annotations

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
