"""Build the paho-mqtt client: MQTT v5, Last Will, TLS, credentials, callbacks into a queue."""

from __future__ import annotations

import logging
import queue
import ssl
import sys
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from kiosk.config import TlsSection, UplinkSection
from kiosk.uplink.events import (
    Arrived,
    Connected,
    ConnectRefused,
    Disconnected,
    Event,
    Subscribed,
)
from kiosk.uplink.inbound import Inbound
from kiosk.uplink.relay import Relay
from kiosk.uplink.wire import Topics, status_payload

logger = logging.getLogger(__name__)


def tls_context(tls: TlsSection) -> ssl.SSLContext:
    """A client context that always verifies the broker's certificate and host name."""
    ctx = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca_file) if tls.ca_file else None
    )
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.cert_file is not None and tls.key_file is not None:
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    return ctx


class _AfterDisconnect(logging.Filter):
    """paho 2.2's network loop can run once more after ``disconnect()`` closed the socket and
    logs "Client is not connected" at ERROR: noise on every clean stop. A lost connection is
    reported through ``on_disconnect`` anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Client is not connected")


_PAHO_LOG = logging.getLogger("kiosk.uplink.paho")
_PAHO_LOG.addFilter(_AfterDisconnect())


class _PahoLog(logging.Logger):
    """What paho logs, passed on to ``kiosk.uplink.paho``, except its per-packet DEBUG trace
    unless that logger shows DEBUG (as of this client's creation). paho logs twice per
    message; ``Logger.log`` deciding to drop each line cost 2-3 % of a backlog drain."""

    def __init__(self, target: logging.Logger) -> None:
        super().__init__(target.name)
        self._target = target
        self._debug = target.isEnabledFor(logging.DEBUG)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level > logging.DEBUG or self._debug:
            self._target.log(level, msg, *args, **kwargs)


def _reason(rc: Any) -> str:
    if isinstance(rc, ReasonCode):
        return f"0x{rc.value:02X} {rc.getName()}"
    return str(rc)


def puback_reason(code: int) -> str:
    """``0x87 Not authorized`` for a v5 PUBACK reason code."""
    return _reason(ReasonCode(PacketTypes.PUBACK, identifier=code))


def make_client(
    uplink: UplinkSection,
    kiosk_id: str,
    site: str,
    events: queue.SimpleQueue[Event],
    relay: Relay,
    password: str | None,
    inflight: int,
    inbound: Inbound | None = None,
) -> mqtt.Client:
    """A configured, not yet connected client whose callbacks only record facts: events on
    ``events``, PUBACKs to ``relay`` (which publishes the next fed row). At most
    ``inflight`` QoS 1 publishes are unacknowledged on its connection.

    ``inbound`` (the county's lists) is subscribed on every connect and gets the messages.
    Raises ``OSError``/``ssl.SSLError`` when TLS files cannot be read.
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=kiosk_id,
        protocol=mqtt.MQTTv5,
        reconnect_on_failure=True,
    )
    topics = Topics(uplink.topic_prefix, kiosk_id)
    client.will_set(topics.status, status_payload(False, kiosk_id, site), qos=1, retain=True)
    if uplink.username is not None:
        client.username_pw_set(uplink.username, password)
    if uplink.tls.enabled:
        client.tls_set_context(tls_context(uplink.tls))
    # paho tells why a socket failed (e.g. a TLS alert: the broker wants a client certificate)
    # only in its log, at ERROR; its DEBUG packet trace stays off unless debugging
    client.enable_logger(_PahoLog(_PAHO_LOG))
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(uplink.reconnect_min_s, uplink.reconnect_max_s)

    def on_connect(
        _c: mqtt.Client, _u: Any, _flags: Any, rc: ReasonCode, props: Properties | None
    ) -> None:
        if rc.is_failure:
            events.put(ConnectRefused(_reason(rc)))
            return
        receive_max = getattr(props, "ReceiveMaximum", None) if props is not None else None
        events.put(Connected(receive_max))
        if inbound is not None:
            inbound.subscribe(_c)

    def on_connect_fail(_c: mqtt.Client, _u: Any) -> None:
        # paho calls this inside its ``except OSError`` block: the cause is still at hand
        cause = sys.exc_info()[1]
        events.put(ConnectRefused(f"connection failed: {cause}" if cause else "connection failed"))

    def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        events.put(Disconnected(_reason(rc)))

    def on_publish(_c: mqtt.Client, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        relay.on_puback(_c, mid, rc.value)

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        events.put(Arrived(msg.topic, bytes(msg.payload)))

    def on_subscribe(_c: mqtt.Client, _u: Any, mid: int, codes: list[ReasonCode], _p: Any) -> None:
        refused = [_reason(rc) for rc in codes if rc.is_failure]
        if inbound is not None and inbound.subscribed(mid, ", ".join(refused) or None):
            return  # the county's lists: not the receipt's subscription
        events.put(Subscribed(", ".join(refused) if refused else None))

    client.on_connect = on_connect
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.on_connect_fail = on_connect_fail
    client.on_disconnect = on_disconnect
    client.on_publish = on_publish
    if inbound is not None:  # the county's lists go to their own queue, the rest to on_message
        for topic in inbound.topics:
            client.message_callback_add(topic, inbound.on_message)
    return client
