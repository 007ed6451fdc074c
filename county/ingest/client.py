"""The paho client of an ingest worker: MQTT v5, persistent session, manual acknowledgements.

Callbacks only record facts on a queue. ``generation`` counts connections, so a message is
acknowledged only on the connection that delivered it (after a reconnect the broker sends it
again and the store drops the duplicate).
"""

from __future__ import annotations

import logging
import queue
import sys
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from county.config import BrokerSection
from kiosk.uplink.client import tls_context
from kiosk.uplink.wire import LEAVES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """One message delivered by the broker, not yet acknowledged."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int


@dataclass(frozen=True)
class Connected:
    generation: int
    session_present: bool


@dataclass(frozen=True)
class Lost:
    reason: str


@dataclass(frozen=True)
class Subscribed:
    """The broker answered the SUBSCRIBE; ``refused`` lists filters it did not grant."""

    refused: tuple[str, ...]


Event = Received | Connected | Lost | Subscribed


def subscriptions(broker: BrokerSection) -> list[str]:
    """``$share/{group}/{prefix}/kiosk/+/{leaf}`` for entries, alerts, status and state."""
    return [f"$share/{broker.share_group}/{broker.topic_prefix}/kiosk/+/{leaf}" for leaf in LEAVES]


def connect_properties(broker: BrokerSection) -> Properties:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = broker.session_expiry_s
    props.ReceiveMaximum = broker.receive_maximum
    return props


class Generation:
    """How many connections the client has made; written by paho's thread in ``on_connect``,
    read by the worker just before it acknowledges (an int read is atomic)."""

    def __init__(self) -> None:
        self.current = 0


def make_client(
    broker: BrokerSection,
    events: queue.SimpleQueue[Event],
    password: str | None,
    generation: Generation,
) -> mqtt.Client:
    """A configured, not yet connected client with manual acknowledgements."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=broker.client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=True,
        reconnect_on_failure=True,
    )
    if broker.username is not None:
        client.username_pw_set(broker.username, password)
    if broker.tls.enabled:
        client.tls_set_context(tls_context(broker.tls))
    client.reconnect_delay_set(broker.reconnect_min_s, broker.reconnect_max_s)

    def on_connect(
        _c: mqtt.Client, _u: Any, flags: Any, rc: ReasonCode, _p: Properties | None
    ) -> None:
        if rc.is_failure:
            events.put(Lost(f"connection refused: {rc.getName()}"))
            return
        generation.current += 1
        events.put(Connected(generation.current, bool(getattr(flags, "session_present", False))))

    def on_connect_fail(_c: mqtt.Client, _u: Any) -> None:
        cause = sys.exc_info()[1]
        events.put(Lost(f"connection failed: {cause}" if cause else "connection failed"))

    def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        events.put(Lost(f"disconnected: {rc.getName()}"))

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        events.put(Received(msg.topic, bytes(msg.payload), msg.mid, msg.qos, generation.current))

    def on_subscribe(_c: mqtt.Client, _u: Any, _mid: int, codes: list[ReasonCode], _p: Any) -> None:
        refused = tuple(c.getName() for c in codes if c.is_failure)
        events.put(Subscribed(refused))

    client.on_subscribe = on_subscribe
    client.on_connect = on_connect
    client.on_connect_fail = on_connect_fail
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    return client


def subscribe(client: mqtt.Client, broker: BrokerSection) -> None:
    """(Re)subscribe at QoS 1; harmless when the session already holds the subscriptions."""
    options = SubscribeOptions(qos=1)
    client.subscribe([(topic, options) for topic in subscriptions(broker)])
