"""The publisher thread: drains the outbox to the broker at QoS 1, deleting rows only on PUBACK."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, replace

from kiosk.config import Config, read_secret
from kiosk.storage import StorageError
from kiosk.uplink.client import make_client
from kiosk.uplink.delivery import SAVE_AFTER_S, Delivery
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
from kiosk.uplink.outbox import Outbox
from kiosk.uplink.receipts import ReceiptKeeper
from kiosk.uplink.relay import Relay
from kiosk.uplink.wire import Topics, state_payload, status_payload

logger = logging.getLogger(__name__)

POLL_S = 0.25  # idle poll for rows committed by other processes
HEALTH_EVERY_S = 0.1
PURGE_EVERY_S = 3600.0


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
    ``kiosk outbox status`` and is retried when the uplink config changes. paho's callbacks
    put events on a queue and PUBACKs on the relay (where paho's thread also publishes the next
    fed row); the rest of the state lives in this thread, what is in flight in ``Delivery``.
    The constructor does no I/O.
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
        self._delivery = Delivery(self._relay, self._fingerprint)
        self._session = _Session()
        self._next = {"state": 0.0, "purge": 0.0, "health": 0.0, "receipt": 0.0}
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
        delivery = self._delivery
        if self._session.connected and not delivery.arm(self._wire_window()):
            wait = 0.0 if delivery.due() else min(wait, SAVE_AFTER_S)
        try:
            events = [self._events.get(timeout=wait)] if wait > 0 else []
        except queue.Empty:
            events = []
        finally:
            delivery.disarm()
        while len(events) < 4096:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        return events

    def _step(self, link: Link, outbox: Outbox) -> None:
        delivery = self._delivery
        wait = SAVE_AFTER_S if delivery.unsaved else POLL_S
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
        now = time.monotonic()
        delivery.take_acks(now)
        try:
            if delivery.save_due(now, self._wire_window()):
                self._save(outbox)
            if self._session.connected and client is not None:
                delivery.stale(now, self._session.since, self._cfg.uplink.ack_timeout_s)
                delivery.fill(client, outbox, now, self._wire_window())
                if self._receipts is not None and now >= self._next["receipt"]:
                    self._next["receipt"] = now + 1.0
                    self._follow_up(outbox, now)
                if now >= self._next["state"]:
                    self._next["state"] = now + self._cfg.uplink.state_interval_s
                    state = state_payload(outbox.status())
                    delivery.publish_control(client, self._topics.state, state)
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
            in_flight=self._delivery.in_flight,
            window=self._wire_window(),
            **self._delivery.counts,
        )

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
            self._delivery.publish_control(client, self._topics.status, status)
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
        self._delivery.take_acks(time.monotonic())
        try:
            self._save(outbox)
        except StorageError as exc:  # kept in memory, saved later; re-sends are harmless
            logger.error("uplink could not save acknowledgements: %s", exc)
        self._delivery.forget_connection()
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
        quiet = now - self._delivery.last_ack >= self._cfg.uplink.resend_after_s
        if self._receipts is not None and not self._delivery.in_flight and quiet:
            self._receipts.follow_up(outbox, now)

    def _save(self, outbox: Outbox) -> None:
        """Write acknowledgements and parks (``StorageError``: they stay in memory)."""
        self._delivery.save(outbox)
        self._report_health()
        if not self._delivery.in_flight:
            self._settled.set()

    def _wire_window(self) -> int:
        """At most this many unacknowledged on the wire: config, capped by Receive Maximum."""
        return self._cfg.uplink.window if self._link is None else self._link.cap

    def _shutdown(self, link: Link, outbox: Outbox) -> None:
        """Say ``offline``, give outstanding PUBACKs a moment, save them (the caller closes
        the link)."""
        deadline = time.monotonic() + self._flush_s
        delivery = self._delivery
        delivery.stop_feeding()
        offline = None
        client = link.client
        if self._session.connected and client is not None:
            payload = status_payload(False, self._cfg.kiosk.id, self._cfg.kiosk.site)
            offline = delivery.publish_control(client, self._topics.status, payload)
        while self._session.connected and time.monotonic() < deadline:
            if not delivery.in_flight and not delivery.control_pending(offline):
                break
            # PUBACKs arrive on the relay and wake this thread through the event queue
            for event in self._next_events(SAVE_AFTER_S):
                if self._handle(event, link, outbox):
                    break
            delivery.take_acks(time.monotonic())
        try:
            self._save(outbox)
        except StorageError as exc:
            logger.error("uplink could not save final acknowledgements: %s", exc)
        self._report_health()
        logger.info("uplink stopped; %d rows still unacknowledged", self._delivery.in_flight)
