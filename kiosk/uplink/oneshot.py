"""Publish one retained QoS 1 message and wait for its PUBACK: how the county (and the tests)
put a signed list on the broker. Blocking, for command-line tools only."""

from __future__ import annotations

import ssl
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode


class PublishFailed(Exception):
    """The broker could not be reached, refused the connection or refused the message."""


def publish_retained(
    host: str,
    port: int,
    topic: str,
    payload: bytes,
    *,
    client_id: str,
    username: str | None = None,
    password: str | None = None,
    tls: ssl.SSLContext | None = None,
    timeout_s: float = 10.0,
) -> None:
    """Connect (MQTT v5), publish ``payload`` retained at QoS 1, wait for a successful PUBACK,
    disconnect. ``PublishFailed`` naming the step otherwise; nothing is left running."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if username is not None:
        client.username_pw_set(username, password)
    if tls is not None:
        client.tls_set_context(tls)
    connected, acked = threading.Event(), threading.Event()
    result: dict[str, Any] = {}

    def on_connect(_c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        result["connect"] = rc
        connected.set()

    def on_publish(_c: Any, _u: Any, _mid: int, rc: ReasonCode, _p: Any) -> None:
        result["puback"] = rc
        acked.set()

    client.on_connect = on_connect
    client.on_publish = on_publish
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise PublishFailed(f"cannot reach the broker {host}:{port}: {exc}") from None
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            raise PublishFailed(f"no CONNACK from {host}:{port} within {timeout_s} s")
        if result["connect"].is_failure:
            raise PublishFailed(f"connection refused: {result['connect']}")
        client.publish(topic, payload, qos=1, retain=True)
        if not acked.wait(timeout_s):
            raise PublishFailed(f"no PUBACK for {topic} within {timeout_s} s")
        if result["puback"].is_failure:
            raise PublishFailed(f"the broker refused {topic}: {result['puback']}")
    finally:
        client.disconnect()
        client.loop_stop()
