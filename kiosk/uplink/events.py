"""Facts the paho network thread reports to the publisher thread, as immutable events."""

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
class Acked:
    """A PUBACK for ``mid``; ``failure`` is a v5 reason code of 0x80 or above."""

    mid: int
    failure: bool
    reason: str


@dataclass(frozen=True)
class Wake:
    """New rows were committed: look at the outbox now instead of at the next poll."""


Event = Connected | ConnectRefused | Disconnected | Acked | Wake
