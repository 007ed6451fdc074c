"""The publisher thread: drains the outbox to the broker at QoS 1, deleting rows only on PUBACK."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, replace

import paho.mqtt.client as mqtt

from kiosk.config import Config, read_secret
from kiosk.storage import StorageError
from kiosk.uplink.client import make_client, puback_reason
from kiosk.uplink.events import (
    Arrived,
    Connected,
    ConnectRefused,
    Disconnected,
    Event,
    Subscribed,
    Wake,
)
from kiosk.uplink.inbound import Inbound
from kiosk.uplink.link import Link
from kiosk.uplink.outbox import Outbox, OutboxRow
from kiosk.uplink.receipts import ReceiptKeeper
from kiosk.uplink.relay import Relay
from kiosk.uplink.window import SendWindow
from kiosk.uplink.wire import Topics, state_payload, status_payload

logger = logging.getLogger(__name__)

POLL_S = 0.25  # idle poll for rows committed by other processes
SAVE_AFTER_S = 0.05  # acknowledgements are written in batches at least this often
HEALTH_EVERY_S = 0.1
PURGE_EVERY_S = 3600.0
# Rows handed to paho per window slot. paho keeps at most the wire window unacknowledged (its
# ``max_inflight_messages``, set per connection by ``Link`` to the broker's Receive Maximum)
# and sends the next one from its own thread the moment a PUBACK frees a slot. The publisher
# hands paho up to this many rows itself when it falls short (a start, new rows after a lull),
# and keeps half as many on the relay's feed, from which paho's thread publishes one per
# PUBACK (see ``relay``): in a drain paho never runs dry and the two threads do not contend.
# Rows handed over but not yet sent live only in memory; the outbox still holds them: a crash
# re-sends them. The publisher sleeps until a quarter of that is acknowledged (or the last
# outstanding message is), then saves the acks and tops up the feed in one pass. Acks are also
# saved once nothing is in flight, and at least every 50 ms: that bounds what a crash re-sends
# (PUBACKs of the last 50 ms at most; the county drops duplicates).
HANDOFF = 32
_OK_RC = (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN)  # NO_CONN: paho queued it for reconnect


@dataclass(frozen=True)
class UplinkHealth:
    """A snapshot for the status page, ``/healthz`` and the supervisor."""

    broker: str
    connected: bool = False
    last_progress: float = 0.0  # time.monotonic() of the last loop pass
    in_flight: int = 0
    window: int = 0
    published: int = 0
    acked: int = 0
    parked: int = 0
    last_error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "broker": self.broker,
            "connected": self.connected,
            "in_flight": self.in_flight,
            "window": self.window,
            "published": self.published,
            "acked": self.acked,
            "parked": self.parked,
            "last_error": self.last_error,
        }


@dataclass
class _Session:
    """Connection facts, owned by the publisher thread."""

    connected: bool = False
    refused: bool = False  # the last connection attempt was refused
    since: float = 0.0
    receive_maximum: int | None = None


class Publisher:
    """Publishes outbox rows in order (alerts first) with a bounded window of unacknowledged
    messages, and deletes a row only when its PUBACK arrives with a success reason code.

    A PUBACK with a v5 failure code parks the row: it stays in the ledger, is counted by
    ``kiosk outbox status`` and is retried when the uplink config changes. Paho callbacks only
    put events on a queue; all state lives in this thread. The constructor does no I/O.
    Setting the shared ``stop`` event makes the thread publish ``offline``, wait briefly for
    outstanding acknowledgements, disconnect and end.
    """

    def __init__(
        self,
        config: Config,
        stop: threading.Event,
        *,
        flush_s: float = 2.0,
        inbound: Inbound | None = None,
    ) -> None:
        self._cfg = config
        self._inbound = inbound
        self._stop = stop
        self._flush_s = flush_s
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._topics = Topics(config.uplink.topic_prefix, config.kiosk.id)
        self._relay = Relay(
            self._events, {"alert": self._topics.alerts, "entry": self._topics.entries}
        )
        self._fingerprint = config.fingerprint("uplink")
        self._lock = threading.Lock()
        self._settled = threading.Event()  # acks saved with nothing left in flight
        self._health = UplinkHealth(broker=f"{config.uplink.host}:{config.uplink.port}")
        self._link: Link | None = None
        self._thread: threading.Thread | None = None
        # owned by the publisher thread
        self._window = SendWindow()
        self._session = _Session()
        self._control_mids: set[int] = set()  # status/state messages
        self._counts = {"published": 0, "acked": 0, "parked": 0}
        self._first_unsaved = 0.0
        self._next = {"state": 0.0, "purge": 0.0, "health": 0.0, "receipt": 0.0}
        self._last_ack = 0.0  # time.monotonic() of the last PUBACK taken
        up = config.uplink
        self._receipts = (
            ReceiptKeeper(config.kiosk.id, self._topics.receipt, up.resend_after_s)
            if up.receipts
            else None
        )

    def start(self) -> None:
        """Read the broker password and TLS files, then start the thread.

        Raises ``ConfigError`` for an unreadable secret and ``OSError``/``ssl.SSLError`` for
        unusable TLS files.
        """
        up = self._cfg.uplink
        password = up.password or read_secret(
            "uplink.password", up.password_file, up.password_credential
        )
        kiosk, events, relay = self._cfg.kiosk, self._events, self._relay
        self._link = Link(
            up,
            lambda cap: make_client(
                up, kiosk.id, kiosk.site, events, relay, password, cap, self._inbound
            ),
        )
        self._link.poll(time.monotonic())  # builds the first client: TLS problems raise here
        self._thread = threading.Thread(target=self._run, name="uplink")
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end after ``stop`` was set; True when it has."""
        if self._thread is not None:
            self._events.put(Wake())  # wake it now rather than at the next poll
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def notify(self) -> None:
        """New rows were committed: look now instead of at the next poll. Thread-safe."""
        self._events.put(Wake())

    def wait_settled(self, timeout: float) -> None:
        """Wait until the publisher has saved its acknowledgements with nothing left in flight
        (the end of a drain), or ``timeout``. A hint to look at the outbox now, for callers
        that wait for it to empty; not a promise that it is empty. Thread-safe."""
        if self._settled.wait(timeout):
            self._settled.clear()

    def health(self) -> UplinkHealth:
        with self._lock:
            return self._health

    def _update(self, **changes: object) -> None:
        with self._lock:
            self._health = replace(self._health, **changes)  # type: ignore[arg-type]

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        link = self._link
        assert link is not None  # noqa: S101 - start() sets it
        outbox = Outbox(self._cfg.ledger_path)
        if not self._open(outbox):
            link.close()
            return
        try:
            while not self._stop.is_set():
                self._step(link, outbox)
            self._shutdown(link, outbox)
        except Exception as exc:  # a bug: record it; the supervisor sees the thread stop
            logger.exception("uplink thread failed")
            self._update(last_error=f"uplink thread failed: {exc!r}")
        finally:
            link.close()
            outbox.close()

    def _open(self, outbox: Outbox) -> bool:
        """Open the outbox, retrying every second while it cannot be opened (e.g. "database is
        locked" while another process creates the ledger); False when stopped first."""
        said = None
        while True:
            try:
                outbox.open()
                retried = outbox.unpark(unless_config=self._fingerprint)
            except StorageError as exc:
                outbox.close()
                if str(exc) != said:
                    logger.error("uplink cannot open the outbox (retrying): %s", exc)
                    said = str(exc)
                self._update(last_error=str(exc), last_progress=time.monotonic())
                if self._stop.wait(1.0):
                    return False
                continue
            if retried:
                logger.info("uplink config changed: %d parked rows queued again", retried)
            if said is not None:
                logger.info("uplink opened the outbox")
                self._update(last_error=None)
            return True

    def _next_events(self, wait: float) -> list[Event]:
        sent = len(self._window.sent)
        outstanding = sent + len(self._control_mids)
        relay = self._relay
        if outstanding and self._session.connected:
            # acknowledgements are due: wake when a batch is worth acting on (a quarter of
            # what paho holds: acks to save, the feed to top up), or for the last outstanding
            relay.wake_at = max(1, min(outstanding, self._wire_window() * HANDOFF // 4))
            wait = 0.0 if len(relay.acks) >= relay.wake_at else min(wait, SAVE_AFTER_S)
        try:
            events = [self._events.get(timeout=wait)] if wait > 0 else []
        except queue.Empty:
            events = []
        finally:
            relay.wake_at = 0
        while len(events) < 4096:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        return events

    def _step(self, link: Link, outbox: Outbox) -> None:
        window = self._window
        wait = SAVE_AFTER_S if window.unsaved_acks or window.unsaved_parks else POLL_S
        try:
            link.poll(time.monotonic())
        except OSError as exc:  # TLS files gone since start(): keep trying, say why
            logger.error("uplink cannot build its MQTT client: %s", exc)
            self._update(last_error=str(exc))
            self._stop.wait(1.0)
            return
        for event in self._next_events(wait):
            if self._handle(event, link, outbox):
                break  # a new connection: what is left in the batch is stale
        client = link.client
        self._take_acks()
        now = time.monotonic()
        try:
            if window.unsaved_parks or (
                window.unsaved_acks
                and (
                    not window.sent
                    or len(window.unsaved_acks) >= self._wire_window() * HANDOFF // 4
                    or now - self._first_unsaved >= SAVE_AFTER_S
                )
            ):
                self._save(outbox)
            if self._session.connected and client is not None:
                self._check_stale(now)
                self._fill(client, outbox, now)
                if self._receipts is not None and now >= self._next["receipt"]:
                    self._next["receipt"] = now + 1.0
                    self._follow_up(outbox, now)
                if now >= self._next["state"]:
                    self._next["state"] = now + self._cfg.uplink.state_interval_s
                    self._publish(client, self._topics.state, state_payload(outbox.status()))
            if now >= self._next["purge"]:
                self._next["purge"] = now + PURGE_EVERY_S
                purged = outbox.purge(
                    self._cfg.kiosk.retention_days, confirmed_only=self._receipts is not None
                )
                if purged:
                    logger.info("purged %d delivered entries past retention", purged)
        except StorageError as exc:
            logger.error("uplink storage error (will retry): %s", exc)
            self._update(last_error=str(exc))
            self._stop.wait(1.0)
        if now >= self._next["health"]:
            self._next["health"] = now + HEALTH_EVERY_S
            self._report_health()

    def _report_health(self) -> None:
        self._update(
            connected=self._session.connected,
            last_progress=time.monotonic(),
            in_flight=len(self._window.sent),
            window=self._wire_window(),
            **self._counts,
        )

    def _take_acks(self) -> None:
        window, control, relay = self._window, self._control_mids, self._relay
        acks = relay.take_acks()  # first: their rows are among the hand-overs taken next
        now = time.monotonic()
        self._take_handed(now)
        if acks:
            self._last_ack = now
            if not window.unsaved_acks:
                self._first_unsaved = now
        for mid, code in acks:
            if mid in control:
                control.discard(mid)
                continue
            refusal = puback_reason(code) if code >= 0x80 else None
            row = window.acked(mid, refusal)
            if row is not None and refusal is not None:
                logger.warning("broker refused %s row %d: %s", row.kind, row.row_id, refusal)

    def _take_handed(self, now: float) -> None:
        """Record the rows paho's thread published from the feed."""
        window, failed = self._window, []
        handed = self._relay.take_handed()
        for mid, rc, row in handed:
            if rc in _OK_RC:
                window.handed(mid, row, now)
            else:
                failed.append(row)
        if failed:
            logger.warning("publish of %d fed rows not queued (rc %s): taken again", len(failed),
                           sorted({rc for _, rc, _ in handed if rc not in _OK_RC}))  # fmt: skip
            window.give_back(failed)
        self._counts["published"] += len(handed) - len(failed)

    def _handle(self, event: Event, link: Link, outbox: Outbox) -> bool:
        """Act on one event; True when the connection was renewed (drop the rest)."""
        session, client = self._session, link.client
        if client is None:
            return False  # between connections: only stale events can arrive
        if isinstance(event, Arrived):
            self._on_receipt(event, outbox)
        elif isinstance(event, Subscribed):
            if event.refusal is not None:
                logger.warning("broker refused the receipt subscription: %s", event.refusal)
                self._update(last_error=f"receipt subscription refused: {event.refusal}")
        elif isinstance(event, Connected):
            if link.needs_new_cap(event.receive_maximum):
                logger.info(
                    "broker receive maximum %s: reconnecting with an in-flight window of %d",
                    event.receive_maximum,
                    min(self._cfg.uplink.window, event.receive_maximum or 65535),
                )
                self._renew(link, outbox, event.receive_maximum, 0.0)
                return True
            session.connected, session.since, session.refused = True, time.monotonic(), False
            session.receive_maximum = event.receive_maximum
            logger.info(
                "uplink connected to %s (broker receive maximum %s)",
                self._health.broker,
                event.receive_maximum,
            )
            self._update(last_error=None, connected=True)
            status = status_payload(True, self._cfg.kiosk.id, self._cfg.kiosk.site)
            self._publish(client, self._topics.status, status)
            self._next["state"] = 0.0  # republish retained state: a broker restart may lose it
            if self._receipts is not None:  # clean start: subscribe on every connection
                client.subscribe(self._topics.receipt, qos=1)
        elif isinstance(event, Disconnected):
            was_connected, session.connected = session.connected, False
            if not session.refused:  # a refused CONNACK is followed by a disconnect: keep it
                self._update(last_error=f"disconnected: {event.reason}", connected=False)
            if was_connected:
                logger.warning("uplink disconnected: %s", event.reason)
                delay = float(self._cfg.uplink.reconnect_min_s)
                self._renew(link, outbox, session.receive_maximum, delay)
                return True
        elif isinstance(event, ConnectRefused):
            repeated = self._health.last_error == f"connection refused: {event.reason}"
            # the first refusal of a kind is a warning; the same one again while retrying is not
            logger.log(logging.DEBUG if repeated else logging.WARNING,
                       "uplink connection refused: %s", event.reason)  # fmt: skip
            session.refused = True
            self._update(last_error=f"connection refused: {event.reason}")
        return False

    def _renew(
        self, link: Link, outbox: Outbox, receive_maximum: int | None, delay_s: float
    ) -> None:
        """End this connection's client and schedule the next one; what it held is sent
        again from the outbox (acknowledged rows are saved first)."""
        link.close()  # no callback runs after this: the ack deque is complete
        self._take_acks()
        try:
            self._save(outbox)
        except StorageError as exc:  # kept in memory, saved later; re-sends are harmless
            logger.error("uplink could not save acknowledgements: %s", exc)
        self._rewind()
        self._control_mids.clear()
        self._relay.clear()
        while True:
            try:
                self._events.get_nowait()  # the old client's: stale
            except queue.Empty:
                break
        self._session.connected = False
        link.renew(receive_maximum, delay_s, time.monotonic())

    def _on_receipt(self, event: Arrived, outbox: Outbox) -> None:
        if self._receipts is None:
            logger.warning("ignored a message on %s: receipts are off", event.topic)
            return
        try:
            self._receipts.handle(outbox, event.topic, event.payload, time.monotonic())
        except StorageError as exc:  # the retained receipt comes again on reconnect
            logger.error("could not keep the county's receipt: %s", exc)
            self._update(last_error=str(exc))

    def _follow_up(self, outbox: Outbox, now: float) -> None:
        """While idle (nothing in flight, no PUBACK for ``resend_after_s``), re-send what the
        county's kept receipt still lacks."""
        quiet = now - self._last_ack >= self._cfg.uplink.resend_after_s
        if self._receipts is not None and not self._window.sent and quiet:
            self._receipts.follow_up(outbox, now)

    def _publish(self, client: mqtt.Client, topic: str, payload: bytes) -> int:
        """A retained QoS 1 control message (status, state); returns its mid."""
        mid = client.publish(topic, payload, qos=1, retain=True).mid
        self._control_mids.add(mid)
        return mid

    def _save(self, outbox: Outbox) -> None:
        """Write acknowledgements and parks; they stay in memory if the write fails."""
        window = self._window
        if window.unsaved_acks:
            outbox.ack(window.unsaved_acks)
            self._counts["acked"] += len(window.unsaved_acks)
            window.unsaved_acks = []
        while window.unsaved_parks:
            row_id, reason = window.unsaved_parks[0]
            outbox.park(row_id, reason, self._fingerprint)
            window.unsaved_parks.pop(0)
            self._counts["parked"] += 1
        self._report_health()
        if not window.sent:
            self._settled.set()

    def _wire_window(self) -> int:
        """At most this many unacknowledged on the wire: config, capped by Receive Maximum."""
        return self._cfg.uplink.window if self._link is None else self._link.cap

    def _fill(self, client: mqtt.Client, outbox: Outbox, now: float) -> None:
        """Hand paho waiting alerts at once, and entries when it holds less than three
        quarters of its share; then top up the relay's feed."""
        window, feed = self._window, self._relay.feed
        limit = self._wire_window() * HANDOFF
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
        if len(feed) < limit // 4:
            feed.extend(window.take(outbox, limit // 2 - len(feed), alerts=False))

    def _hand(self, client: mqtt.Client, rows: list[OutboxRow], now: float) -> None:
        window = self._window
        topic = {"alert": self._topics.alerts, "entry": self._topics.entries}
        for index, row in enumerate(rows):
            info = client.publish(topic[row.kind], row.payload, qos=1, retain=False)
            if info.rc not in _OK_RC:
                logger.warning("publish of %s row %d not queued: %s", row.kind, row.id, info.rc)
                window.give_back(rows[index:])
                rows = rows[:index]
                break
            window.handed(info.mid, row, now)
        self._counts["published"] += len(rows)

    def _check_stale(self, now: float) -> None:
        """Safety net: rows unacknowledged too long while connected are sent again."""
        waited = self._window.oldest_wait(now, self._session.since)
        if waited > self._cfg.uplink.ack_timeout_s:
            logger.warning("%d rows unacknowledged for %.0f s; sending them again",
                           len(self._window.sent), waited)  # fmt: skip
            self._rewind()

    def _rewind(self) -> None:
        """Send everything not yet acknowledged again, from the outbox."""
        self._relay.feed.clear()  # rows paho's thread takes meanwhile are still recorded
        self._window.rewind()

    def _shutdown(self, link: Link, outbox: Outbox) -> None:
        """Say ``offline``, give outstanding PUBACKs a moment, save them (the caller closes
        the link)."""
        deadline = time.monotonic() + self._flush_s
        self._relay.feed.clear()  # what paho holds is sent; the rest stays in the outbox
        offline = None
        client = link.client
        if self._session.connected and client is not None:
            payload = status_payload(False, self._cfg.kiosk.id, self._cfg.kiosk.site)
            offline = self._publish(client, self._topics.status, payload)
        while self._session.connected and time.monotonic() < deadline:
            if not self._window.sent and offline not in self._control_mids:
                break
            # PUBACKs arrive on the ack deque and wake this thread through the event queue
            for event in self._next_events(SAVE_AFTER_S):
                if self._handle(event, link, outbox):
                    break
            self._take_acks()
        try:
            self._save(outbox)
        except StorageError as exc:
            logger.error("uplink could not save final acknowledgements: %s", exc)
        self._report_health()
        logger.info("uplink stopped; %d rows still unacknowledged", len(self._window.sent))
