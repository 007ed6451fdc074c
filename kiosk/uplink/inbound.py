"""What the kiosk receives from the broker: subscriptions made on every connect and a bounded
queue of received messages. The paho callback only appends; a worker takes them."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

#: Messages kept until the worker takes them; lists are whole documents, so the newest matter.
MAX_WAITING = 4


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retained: bool


class Inbound:
    """Subscribes ``topics`` at QoS 1 whenever the uplink connects (clean start forgets
    subscriptions) and records each message; at most ``MAX_WAITING`` wait, the oldest drop.

    Thread-safe: ``on_message`` runs on paho's thread and never blocks; ``take`` runs on the
    consumer's thread.
    """

    def __init__(self, topics: tuple[str, ...]) -> None:
        self.topics = topics
        self._waiting: deque[Received] = deque(maxlen=MAX_WAITING)
        self._arrived = threading.Event()
        self._mid: int | None = None
        #: The broker's refusal of the last subscription (an ACL), None when granted.
        self.refused: str | None = None

    def subscribe(self, client: mqtt.Client) -> None:
        """Called from ``on_connect``: queue the SUBSCRIBE (non-blocking)."""
        if self.topics:
            self._mid = client.subscribe([(topic, 1) for topic in self.topics])[1]

    def subscribed(self, mid: int, refused: str | None) -> bool:
        """Called from ``on_subscribe``: True (and the result kept) if ``mid`` is ours."""
        if mid != self._mid:
            return False
        self.refused = refused
        return True

    def on_message(self, _client: Any, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._waiting.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))
        self._arrived.set()

    def take(self, timeout: float) -> Received | None:
        """The oldest waiting message, waiting up to ``timeout`` seconds for one."""
        if not self._waiting:
            self._arrived.wait(timeout)
            self._arrived.clear()
        try:
            return self._waiting.popleft()
        except IndexError:
            return None
