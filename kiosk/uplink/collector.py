"""A durable subscriber that records what arrives, standing in for the county's ingest."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


@dataclass(frozen=True)
class Received:
    topic: str
    doc: dict[str, Any]
    retained: bool
    dup: bool = False


class Collector:
    """Subscribes at QoS 1 with a persistent session (clean_start false, long session expiry),
    so messages queued at the broker while it is away arrive when it reconnects.

    ``on_message`` only puts what arrived on a queue; ``drain()`` reads it from any thread.
    """

    def __init__(self, port: int, topic: str, client_id: str = "county-ingest") -> None:
        self._port = port
        self._topic = topic
        self._client_id = client_id
        self._messages: queue.SimpleQueue[Received] = queue.SimpleQueue()
        self.connected = threading.Event()
        self._client: mqtt.Client | None = None

    def start(self) -> Collector:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self._client_id, protocol=mqtt.MQTTv5
        )
        client.reconnect_delay_set(1, 2)

        def on_connect(c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            if not rc.is_failure:
                c.subscribe(self._topic, qos=1)
                self.connected.set()

        def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
            self.connected.clear()

        def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            try:
                doc = json.loads(msg.payload)
            except ValueError:
                doc = {"raw": msg.payload.decode(errors="replace")}
            self._messages.put(Received(msg.topic, doc, bool(msg.retain), bool(msg.dup)))

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        client.connect("127.0.0.1", self._port, keepalive=10, clean_start=False, properties=props)
        client.loop_start()
        self._client = client
        return self

    def drain(self) -> list[Received]:
        """Everything received since the last call."""
        out = []
        while True:
            try:
                out.append(self._messages.get_nowait())
            except queue.Empty:
                return out

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
