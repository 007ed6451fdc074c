"""One paho client per network connection, capped at the broker's Receive Maximum."""

from __future__ import annotations

import logging
from collections.abc import Callable

import paho.mqtt.client as mqtt

from kiosk.config import UplinkSection

logger = logging.getLogger(__name__)

#: MQTT v5: a CONNACK without Receive Maximum means 65,535.
DEFAULT_RECEIVE_MAXIMUM = 65_535


def wire_window(configured: int, receive_maximum: int | None) -> int:
    """At most this many QoS 1 publishes unacknowledged: the configured window, capped by the
    broker's Receive Maximum from its CONNACK (absent = 65,535)."""
    return min(configured, receive_maximum or DEFAULT_RECEIVE_MAXIMUM)


class Link:
    """Owns the paho client of the publisher thread; not thread-safe.

    paho applies ``max_inflight_messages`` only to a client that is not connected, ignores the
    broker's Receive Maximum, and on a reconnect sends every message it still holds at once
    (paho #492). So the link uses a **new client for every connection**: its in-flight cap is
    set before connecting to the broker's last advertised Receive Maximum, and what an old
    client held is dropped with it (the outbox still has those rows). paho then keeps exactly
    the broker's window on the wire and sends the next message from its own thread the moment
    a PUBACK frees a slot.
    """

    def __init__(self, uplink: UplinkSection, make: Callable[[int], mqtt.Client]) -> None:
        self._uplink = uplink
        self._make = make
        self.client: mqtt.Client | None = None
        self.cap = uplink.window  # in-flight cap of the current (or next) client
        self._connect_at: float | None = 0.0  # monotonic time of the next connection

    def poll(self, now: float) -> bool:
        """Start the next client when it is due; True when one was started.

        Raises ``OSError``/``ssl.SSLError`` for unusable TLS files (as ``make`` does).
        """
        if self.client is not None or self._connect_at is None or now < self._connect_at:
            return False
        client = self._make(self.cap)
        up = self._uplink
        client.connect_async(up.host, up.port, up.keepalive_s, clean_start=True)
        client.loop_start()
        self.client, self._connect_at = client, None
        return True

    def needs_new_cap(self, receive_maximum: int | None) -> bool:
        """True when the broker's window differs from the current client's cap."""
        return wire_window(self._uplink.window, receive_maximum) != self.cap

    def renew(self, receive_maximum: int | None, delay_s: float, now: float) -> None:
        """End the current client and schedule a new one, capped for ``receive_maximum``."""
        self.close()
        self.cap = wire_window(self._uplink.window, receive_maximum)
        self._connect_at = now + delay_s

    def close(self) -> None:
        """Disconnect and stop the network thread: no callback runs after this returns."""
        if self.client is not None:
            self.client.disconnect()  # also ends a reconnect wait at once
            self.client.loop_stop()
            self.client = None
