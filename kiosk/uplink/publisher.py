"""The publisher thread: drains the outbox to the broker at QoS 1, deleting rows only on PUBACK."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field, replace

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kiosk.config import Config, read_secret
from kiosk.storage import StorageError
from kiosk.uplink.client import make_client
from kiosk.uplink.events import Acked, Connected, ConnectRefused, Disconnected, Event, Wake
from kiosk.uplink.outbox import Kind, Outbox
from kiosk.uplink.wire import Topics, alert_payload, entry_payload, state_payload, status_payload

logger = logging.getLogger(__name__)

POLL_S = 0.25
PURGE_EVERY_S = 3600.0
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


@dataclass
class _InFlight:
    row_id: int
    kind: Kind
    sent_at: float


@dataclass
class _Loop:
    """State owned by the publisher thread alone."""

    in_flight: dict[int, _InFlight] = field(default_factory=dict)  # mid -> row
    cursor: dict[Kind, int] = field(default_factory=lambda: {"alert": 0, "entry": 0})
    control_mids: set[int] = field(default_factory=set)  # status/state messages
    unsaved_acks: list[int] = field(default_factory=list)
    unsaved_parks: list[tuple[int, str]] = field(default_factory=list)
    connected: bool = False
    refused: bool = False  # the last connection attempt was refused
    connected_since: float = 0.0
    receive_maximum: int | None = None
    next_state: float = 0.0
    next_purge: float = 0.0


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
    ) -> None:
        self._cfg = config
        self._stop = stop
        self._flush_s = flush_s
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._topics = Topics(config.uplink.topic_prefix, config.kiosk.id)
        self._fingerprint = config.fingerprint("uplink")
        self._lock = threading.Lock()
        self._health = UplinkHealth(broker=f"{config.uplink.host}:{config.uplink.port}")
        self._client: mqtt.Client | None = None
        self._thread: threading.Thread | None = None
        self._props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        self._props.ContentType = "application/json"

    def start(self) -> None:
        """Read the broker password and TLS files, then start the thread.

        Raises ``ConfigError`` for an unreadable secret and ``OSError``/``ssl.SSLError`` for
        unusable TLS files.
        """
        up = self._cfg.uplink
        password = up.password or read_secret(
            "uplink.password", up.password_file, up.password_credential
        )
        self._client = make_client(
            up, self._cfg.kiosk.id, self._cfg.kiosk.site, self._events, password
        )
        self._thread = threading.Thread(target=self._run, name="uplink")
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end after ``stop`` was set; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def notify(self) -> None:
        """New rows were committed; thread-safe and cheap."""
        self._events.put(Wake())

    def health(self) -> UplinkHealth:
        with self._lock:
            return self._health

    def _update(self, **changes: object) -> None:
        with self._lock:
            self._health = replace(self._health, **changes)  # type: ignore[arg-type]

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        client = self._client
        assert client is not None  # noqa: S101 - start() sets it
        outbox = Outbox(self._cfg.ledger_path)
        loop = _Loop()
        try:
            outbox.open()
            retried = outbox.unpark(unless_config=self._fingerprint)
            if retried:
                logger.info("uplink config changed: %d parked rows queued again", retried)
        except StorageError as exc:
            logger.error("uplink cannot open the outbox: %s", exc)
            self._update(last_error=str(exc))
            outbox.close()
            return
        up = self._cfg.uplink
        client.connect_async(up.host, up.port, up.keepalive_s, clean_start=True)
        client.loop_start()
        try:
            while not self._stop.is_set():
                self._step(client, outbox, loop, POLL_S)
            self._shutdown(client, outbox, loop)
        finally:
            client.loop_stop()
            outbox.close()

    def _step(self, client: mqtt.Client, outbox: Outbox, loop: _Loop, wait: float) -> None:
        try:
            events = [self._events.get(timeout=wait)]
        except queue.Empty:
            events = []
        while len(events) < 4096:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        now = time.monotonic()
        for event in events:
            self._handle(event, client, outbox, loop, now)
        try:
            self._save(outbox, loop)
            if loop.connected:
                self._check_stale(loop, now)
                self._fill(client, outbox, loop, now)
                if now >= loop.next_state:
                    self._publish_state(client, outbox, loop)
                    loop.next_state = now + self._cfg.uplink.state_interval_s
            if now >= loop.next_purge:
                loop.next_purge = now + PURGE_EVERY_S
                purged = outbox.purge(self._cfg.kiosk.retention_days)
                if purged:
                    logger.info("purged %d delivered entries past retention", purged)
        except StorageError as exc:
            logger.error("uplink storage error (will retry): %s", exc)
            self._update(last_error=str(exc))
            self._stop.wait(1.0)
        self._update(
            connected=loop.connected,
            last_progress=time.monotonic(),
            in_flight=len(loop.in_flight),
            window=self._window(loop),
        )

    def _handle(
        self, event: Event, client: mqtt.Client, outbox: Outbox, loop: _Loop, now: float
    ) -> None:
        if isinstance(event, Acked):
            if event.mid in loop.control_mids:
                loop.control_mids.discard(event.mid)  # a status/state message
                return
            row = loop.in_flight.pop(event.mid, None)
            if row is None:
                return  # a row already given up as stale and queued again
            if event.failure:
                logger.warning("broker refused %s row %d: %s", row.kind, row.row_id, event.reason)
                loop.unsaved_parks.append((row.row_id, event.reason))
            else:
                loop.unsaved_acks.append(row.row_id)
        elif isinstance(event, Connected):
            loop.connected, loop.connected_since, loop.refused = True, now, False
            loop.receive_maximum = event.receive_maximum
            logger.info(
                "uplink connected to %s (broker receive maximum %s)",
                self._health.broker,
                event.receive_maximum,
            )
            self._update(last_error=None)
            info = client.publish(
                self._topics.status,
                status_payload(True, self._cfg.kiosk.id, self._cfg.kiosk.site),
                qos=1,
                retain=True,
            )
            loop.control_mids.add(info.mid)
            loop.next_state = now  # republish retained state: a broker restart may have lost it
        elif isinstance(event, Disconnected):
            if loop.connected:
                logger.warning("uplink disconnected: %s", event.reason)
            loop.connected = False
            if not loop.refused:  # a refused CONNACK is followed by a disconnect: keep its reason
                self._update(last_error=f"disconnected: {event.reason}")
        elif isinstance(event, ConnectRefused):
            logger.warning("uplink connection refused: %s", event.reason)
            loop.refused = True
            self._update(last_error=f"connection refused: {event.reason}")
        elif isinstance(event, Wake):
            pass

    def _save(self, outbox: Outbox, loop: _Loop) -> None:
        """Write acknowledgements and parks; kept in memory and retried if the write fails."""
        if loop.unsaved_acks:
            outbox.ack(loop.unsaved_acks)
            self._count(acked=len(loop.unsaved_acks))
            loop.unsaved_acks = []
        while loop.unsaved_parks:
            row_id, reason = loop.unsaved_parks[0]
            outbox.park(row_id, reason, self._fingerprint)
            loop.unsaved_parks.pop(0)
            self._count(parked=1)

    def _count(self, **increments: int) -> None:
        with self._lock:
            changes = {k: getattr(self._health, k) + v for k, v in increments.items()}
            self._health = replace(self._health, **changes)

    def _window(self, loop: _Loop) -> int:
        window = self._cfg.uplink.window
        if loop.receive_maximum:
            window = min(window, loop.receive_maximum)
        return window

    def _fill(self, client: mqtt.Client, outbox: Outbox, loop: _Loop, now: float) -> None:
        room = self._window(loop) - len(loop.in_flight)
        kinds: tuple[tuple[Kind, str], ...] = (
            ("alert", self._topics.alerts),
            ("entry", self._topics.entries),
        )
        for kind, topic in kinds:
            if room <= 0:
                return
            for row in outbox.ready(kind, loop.cursor[kind], room):
                payload = alert_payload(row.entry) if kind == "alert" else entry_payload(row.entry)
                info = client.publish(topic, payload, qos=1, retain=False, properties=self._props)
                if info.rc not in _OK_RC:
                    logger.warning("publish of %s row %d not queued: %s", kind, row.id, info.rc)
                    return
                loop.in_flight[info.mid] = _InFlight(row.id, kind, now)
                loop.cursor[kind] = row.id
                room -= 1
                self._count(published=1)

    def _check_stale(self, loop: _Loop, now: float) -> None:
        """Safety net: rows unacknowledged too long while connected are sent again."""
        if not loop.in_flight:
            return
        oldest = next(iter(loop.in_flight.values()))
        waited = now - max(oldest.sent_at, loop.connected_since)
        if waited > self._cfg.uplink.ack_timeout_s:
            logger.warning(
                "%d rows unacknowledged for %.0f s; sending them again", len(loop.in_flight), waited
            )
            loop.in_flight.clear()
            loop.cursor = {"alert": 0, "entry": 0}

    def _publish_state(self, client: mqtt.Client, outbox: Outbox, loop: _Loop) -> None:
        info = client.publish(
            self._topics.state, state_payload(outbox.status()), qos=1, retain=True
        )
        loop.control_mids.add(info.mid)

    def _shutdown(self, client: mqtt.Client, outbox: Outbox, loop: _Loop) -> None:
        """Say ``offline``, give outstanding PUBACKs a moment, save them, disconnect."""
        deadline = time.monotonic() + self._flush_s
        offline_mid = None
        if loop.connected:
            info = client.publish(
                self._topics.status,
                status_payload(False, self._cfg.kiosk.id, self._cfg.kiosk.site),
                qos=1,
                retain=True,
            )
            offline_mid = info.mid
            loop.control_mids.add(offline_mid)
        while loop.connected and time.monotonic() < deadline:
            if not loop.in_flight and offline_mid not in loop.control_mids:
                break
            try:
                event = self._events.get(timeout=0.05)
            except queue.Empty:
                continue
            self._handle(event, client, outbox, loop, time.monotonic())
        try:
            self._save(outbox, loop)
        except StorageError as exc:
            logger.error("uplink could not save final acknowledgements: %s", exc)
        client.disconnect()
        logger.info("uplink stopped; %d rows still unacknowledged", len(loop.in_flight))
