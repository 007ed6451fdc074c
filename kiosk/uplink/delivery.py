"""What the publisher has in flight on the current connection, and what the broker answered.

``Delivery`` is the hot path of the publisher thread: it hands rows to paho (alerts at once,
entries directly when paho runs short, the rest through the relay's feed), matches PUBACKs to
rows, and writes acknowledgements and refusals to the outbox in batches. It knows nothing of
connections, receipts or health; ``Publisher`` drives it. Not thread-safe: the publisher
thread owns it, paho's thread touches only the relay.
"""

from __future__ import annotations

import logging

import paho.mqtt.client as mqtt

from kiosk.uplink.client import puback_reason
from kiosk.uplink.outbox import Outbox, OutboxRow
from kiosk.uplink.relay import Relay
from kiosk.uplink.window import SendWindow

logger = logging.getLogger(__name__)

SAVE_AFTER_S = 0.05  # acknowledgements are written in batches at least this often
# Rows handed to paho per window slot. paho keeps at most the wire window unacknowledged (its
# ``max_inflight_messages``, set per connection by ``Link`` to the broker's Receive Maximum)
# and sends the next one from its own thread the moment a PUBACK frees a slot. The publisher
# hands paho up to this many rows itself when it falls short (a start, new rows after a lull),
# and keeps as many again on the relay's feed, from which paho's thread publishes one per
# PUBACK (see ``relay``): in a drain paho never runs dry and the two threads do not contend.
# (Priming paho with only two windows let the stream pause, and a default mosquitto's Nagle
# then held its PUBACKs for 40 ms each time.) Rows handed over but not yet sent live only in
# memory; the outbox still holds them: a crash re-sends them. The publisher sleeps until all
# that paho held is acknowledged (by then paho's thread has taken as many from the feed, so
# paho still holds a full share), or 50 ms, then saves the acks and refills the feed in one
# pass: every wake-up takes the GIL from paho's thread, and waking per quarter of that cost a
# tenth of the drain rate (docs/benchmarks.md). Acks are also saved once nothing is in flight,
# and at least every 50 ms: that bounds what a crash re-sends (PUBACKs of the last 50 ms at
# most; the county drops duplicates).
HANDOFF = 32
_OK_RC = (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN)  # NO_CONN: paho queued it for reconnect


def share(wire: int) -> int:
    """Rows paho holds for a wire window of ``wire``: what it is handed, what the feed keeps,
    and the batch of PUBACKs that wakes the publisher or is saved at once."""
    return wire * HANDOFF


class Delivery:
    """Rows in flight, control messages in flight, acknowledgements not yet saved."""

    def __init__(self, relay: Relay, config_fingerprint: str) -> None:
        self.relay = relay
        self.window = SendWindow()
        self.counts = {"published": 0, "acked": 0, "parked": 0}
        self.last_ack = 0.0  # time.monotonic() of the last PUBACK taken
        self._fingerprint = config_fingerprint
        self._control: set[int] = set()  # status/state messages
        self._first_unsaved = 0.0

    @property
    def in_flight(self) -> int:
        return len(self.window.sent)

    def control_pending(self, mid: int | None) -> bool:
        return mid in self._control

    def arm(self, wire: int) -> bool:
        """Before the publisher sleeps: ask paho's thread to wake it when a batch of PUBACKs
        is worth acting on (as many as paho holds), or the last outstanding one has come.
        True when nothing is outstanding (sleep as long as you like)."""
        outstanding = len(self.window.sent) + len(self._control)
        if not outstanding:
            return True
        self.relay.wake_at = max(1, min(outstanding, share(wire)))
        return False

    def disarm(self) -> None:
        self.relay.wake_at = 0

    def due(self) -> bool:
        """Enough PUBACKs have gathered already: do not sleep."""
        return 0 < self.relay.wake_at <= len(self.relay.acks)

    def take_acks(self, now: float) -> None:
        """Match the PUBACKs paho's thread recorded to their rows."""
        window, control = self.window, self._control
        acks = self.relay.take_acks()  # first: their rows are among the hand-overs taken next
        self._take_handed(now)
        if acks:
            self.last_ack = now
            if not window.unsaved_acks:
                self._first_unsaved = now
        for mid, code in acks:
            if mid in control:
                control.discard(mid)
                continue
            refusal = puback_reason(code) if code >= 0x80 else None
            row = window.acked(mid, refusal)
            if row is not None and refusal is not None:
                logger.warning("broker refused %s row %d: %s", row.kind, row.id, refusal)

    def _take_handed(self, now: float) -> None:
        """Record the rows paho's thread published from the feed."""
        window, failed = self.window, []
        handed = self.relay.take_handed()
        for mid, rc, row in handed:
            if rc in _OK_RC:
                window.handed(mid, row, now)
            else:
                failed.append(row)
        if failed:
            logger.warning("publish of %d fed rows not queued (rc %s): taken again", len(failed),
                           sorted({rc for _, rc, _ in handed if rc not in _OK_RC}))  # fmt: skip
            window.give_back(failed)
        self.counts["published"] += len(handed) - len(failed)

    def save_due(self, now: float, wire: int) -> bool:
        window = self.window
        return bool(window.unsaved_parks) or bool(
            window.unsaved_acks
            and (
                not window.sent
                or len(window.unsaved_acks) >= share(wire)
                or now - self._first_unsaved >= SAVE_AFTER_S
            )
        )

    @property
    def unsaved(self) -> bool:
        return bool(self.window.unsaved_acks or self.window.unsaved_parks)

    def save(self, outbox: Outbox) -> None:
        """Write acknowledgements and parks; they stay in memory if the write fails
        (``StorageError``)."""
        window = self.window
        if window.unsaved_acks:
            outbox.ack(window.unsaved_acks)
            self.counts["acked"] += len(window.unsaved_acks)
            window.unsaved_acks = []
        while window.unsaved_parks:
            row_id, reason = window.unsaved_parks[0]
            outbox.park(row_id, reason, self._fingerprint)
            window.unsaved_parks.pop(0)
            self.counts["parked"] += 1

    def publish_control(self, client: mqtt.Client, topic: str, payload: bytes) -> int:
        """A retained QoS 1 control message (status, state); returns its mid."""
        mid = client.publish(topic, payload, qos=1, retain=True).mid
        self._control.add(mid)
        return mid

    def fill(self, client: mqtt.Client, outbox: Outbox, now: float, wire: int) -> None:
        """Hand paho waiting alerts at once, and entries when it holds less than three
        quarters of its share; then fill the relay's feed to a full share."""
        window, feed = self.window, self.relay.feed
        limit = share(wire)
        room = limit - len(window.sent)
        rows = window.take(outbox, max(room, limit // 4), entries=False)  # alerts go ahead
        if room - len(rows) >= limit // 4:  # paho runs short: hand it entries, feed first
            while feed and len(rows) < room:
                try:
                    rows.append(feed.popleft())
                except IndexError:  # paho's thread took the last one
                    break
            rows += window.take(outbox, room - len(rows), alerts=False)
        self._hand(client, rows, now)
        if len(feed) < limit:
            feed.extend(window.take(outbox, limit - len(feed), alerts=False))

    def _hand(self, client: mqtt.Client, rows: list[OutboxRow], now: float) -> None:
        window, topic = self.window, self.relay.topics
        for index, row in enumerate(rows):
            info = client.publish(topic[row.kind], row.payload, qos=1, retain=False)
            if info.rc not in _OK_RC:
                logger.warning("publish of %s row %d not queued: %s", row.kind, row.id, info.rc)
                window.give_back(rows[index:])
                rows = rows[:index]
                break
            window.handed(info.mid, row, now)
        self.counts["published"] += len(rows)

    def stale(self, now: float, since: float, ack_timeout_s: float) -> None:
        """Safety net: rows unacknowledged too long while connected are sent again."""
        waited = self.window.oldest_wait(now, since)
        if waited > ack_timeout_s:
            logger.warning("%d rows unacknowledged for %.0f s; sending them again",
                           len(self.window.sent), waited)  # fmt: skip
            self.rewind()

    def rewind(self) -> None:
        """Send everything not yet acknowledged again, from the outbox."""
        self.relay.feed.clear()  # rows paho's thread takes meanwhile are still recorded
        self.window.rewind()

    def stop_feeding(self) -> None:
        """Shutting down: what paho holds is sent; the rest stays in the outbox."""
        self.relay.feed.clear()

    def forget_connection(self) -> None:
        """The client is closed (no callback runs any more): whatever it held is sent again
        from the outbox on the next connection. Take and save the acks first."""
        self.rewind()
        self._control.clear()
        self.relay.clear()
