"""One ingest worker: receive, batch, commit, then acknowledge; publish receipts; keep going.

Nothing is acknowledged before the transaction that holds it has committed. When the
database is down the batch waits (acknowledging nothing, so the broker keeps the messages) and
is retried with backoff; a batch the database refuses for its content is split so that only the
offending message goes to quarantine. Setting ``stop`` finishes the current batch, publishes due
receipts and disconnects.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import paho.mqtt.client as mqtt

from county.config import Config, read_secret
from county.ingest.classify import commit
from county.ingest.client import (
    Connected,
    Event,
    Generation,
    Lost,
    Received,
    Subscribed,
    connect_properties,
    make_client,
    subscribe,
)
from county.ingest.receipts import ReceiptSchedule
from county.store import Store, StoreError
from kiosk.uplink.wire import Topics, receipt_payload

logger = logging.getLogger(__name__)

MAINTAIN_EVERY_S = 3600.0
IDLE_WAIT_S = 0.2
STOP_GRACE_S = 10.0  # on stop, keep retrying an uncommitted batch this long


@dataclass(frozen=True)
class IngestStats:
    """Counters for logs, tests and the benchmark."""

    connected: bool = False
    subscribed: bool = False
    received: int = 0
    committed: int = 0
    acked: int = 0
    quarantined: int = 0
    batches: int = 0
    receipts: int = 0
    store_errors: int = 0
    last_error: str | None = None


class Ingest:
    """The worker thread. The constructor does no I/O; ``start()`` connects."""

    def __init__(self, config: Config, store: Store, stop: threading.Event) -> None:
        self._cfg = config
        self._store = store
        self._stop = stop
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._client: mqtt.Client | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stats = IngestStats()
        self._failed = False
        # owned by the worker thread
        self._inbox: list[Received] = []
        self._first_at = 0.0
        self._generation = Generation()
        self._retry_at = 0.0
        self._backoff = 0.0
        self._receipts = ReceiptSchedule(config.ingest.receipt_interval_s)
        self._next_maintain = 0.0

    def start(self) -> None:
        """Read the broker password, then start the thread (``ConfigError`` if unreadable)."""
        b = self._cfg.broker
        password = read_secret("broker.password", b.password_file, b.password_credential)
        self._client = make_client(b, self._events, password, self._generation)
        self._thread = threading.Thread(target=self._run, name="ingest")
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def succeeded(self) -> bool:
        """False when the last batch could not be committed before stopping."""
        return not self._failed

    def stats(self) -> IngestStats:
        with self._lock:
            return self._stats

    def _count(self, **deltas: int) -> None:
        with self._lock:
            s = self._stats
            changes = {k: getattr(s, k) + v for k, v in deltas.items()}
            self._stats = replace(s, **changes)

    def _note(self, **changes: object) -> None:
        with self._lock:
            self._stats = replace(self._stats, **changes)  # type: ignore[arg-type]

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        client = self._client
        assert client is not None  # noqa: S101 - start() sets it
        b = self._cfg.broker
        client.connect_async(
            b.host, b.port, b.keepalive_s, clean_start=False, properties=connect_properties(b)
        )
        client.loop_start()
        try:
            self._store.open()  # in this thread: the store belongs to the thread that uses it
        except StoreError as exc:
            logger.warning("database not ready (will retry): %s", exc)
            self._note(last_error=str(exc))
        stop_deadline: float | None = None
        try:
            while True:
                now = time.monotonic()
                if self._stop.is_set() and stop_deadline is None:
                    stop_deadline = now + STOP_GRACE_S
                self._take_events(client, self._wait(now, stop_deadline is not None))
                now = time.monotonic()
                self._maybe_commit(client, now, stopping=stop_deadline is not None)
                self._send_receipts(client, now)
                self._maintain(now)
                if stop_deadline is not None and (not self._inbox or now >= stop_deadline):
                    break
            self._shutdown(client)
        finally:
            client.loop_stop()
            self._store.close()

    def _wait(self, now: float, stopping: bool) -> float:
        if stopping:
            return 0.0
        c = self._cfg.ingest
        deadlines = [now + IDLE_WAIT_S]
        if self._inbox:
            deadlines.append(max(self._first_at + c.batch_ms / 1000, self._retry_at))
        due = self._receipts.next_due()
        if due is not None:
            deadlines.append(due)
        return max(0.0, min(deadlines) - now)

    def _take_events(self, client: mqtt.Client, wait: float) -> None:
        try:
            events = [self._events.get(timeout=wait) if wait > 0 else self._events.get_nowait()]
        except queue.Empty:
            return
        limit = self._cfg.ingest.batch_rows * 4
        while len(events) < limit:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        received = 0
        for event in events:
            if isinstance(event, Received):
                if not self._inbox:
                    self._first_at = time.monotonic()
                self._inbox.append(event)
                received += 1
            elif isinstance(event, Connected):
                if event.session_present:
                    # the broker resends every unacknowledged message of the session: keep
                    # one copy, so the inbox stays within Receive Maximum across reconnects
                    before = len(self._inbox)
                    self._inbox = [m for m in self._inbox if m.generation == event.generation]
                    if before > len(self._inbox):
                        logger.info("dropped %d messages the broker sends again",
                                    before - len(self._inbox))  # fmt: skip
                subscribe(client, self._cfg.broker)
                logger.info("ingest connected (session present: %s)", event.session_present)
                self._note(connected=True, subscribed=False)
            elif isinstance(event, Subscribed):
                if event.refused:
                    logger.error("broker refused the subscriptions: %s", ", ".join(event.refused))
                    self._note(last_error=f"subscriptions refused: {', '.join(event.refused)}")
                else:
                    self._note(subscribed=True)
            elif isinstance(event, Lost):
                logger.warning("ingest broker connection: %s", event.reason)
                self._note(connected=False, subscribed=False, last_error=event.reason)
        if received:
            self._count(received=received)

    def _maybe_commit(self, client: mqtt.Client, now: float, stopping: bool) -> None:
        c = self._cfg.ingest
        if not self._inbox or now < self._retry_at:
            return
        full = len(self._inbox) >= c.batch_rows
        if not (full or stopping or now - self._first_at >= c.batch_ms / 1000):
            return
        messages = self._inbox[: c.batch_rows]
        try:
            batch = commit(self._store, self._cfg.broker.topic_prefix, messages, c)
        except StoreError as exc:
            self._backoff = min(max(0.1, self._backoff * 2), c.retry_max_s)
            self._retry_at = now + self._backoff
            logger.error("batch of %d not committed (retry in %.1f s): %s",
                         len(messages), self._backoff, exc)  # fmt: skip
            self._count(store_errors=1)
            self._note(last_error=str(exc))
            self._failed = stopping
            return
        self._failed = False
        self._backoff = 0.0
        acked = 0
        for msg in messages:
            # only on the connection that delivered it: after a reconnect the broker sends the
            # message again (and the store drops the repeat)
            if msg.generation == self._generation.current:
                client.ack(msg.mid, msg.qos)
                acked += 1
        del self._inbox[: len(messages)]
        self._first_at = time.monotonic()
        self._receipts.touched(batch.entry_kiosks(), time.monotonic())
        self._count(
            committed=len(batch.entries) + len(batch.alerts),
            quarantined=len(batch.quarantine),
            acked=acked,
            batches=1,
        )

    def _send_receipts(self, client: mqtt.Client, now: float) -> None:
        due = self._receipts.due(now)
        if due:
            self._publish_receipts(client, due)

    def _publish_receipts(self, client: mqtt.Client, kiosks: list[str]) -> None:
        try:
            progress = self._store.progress(kiosks)
        except StoreError as exc:
            logger.warning("receipts not sent: %s", exc)
            self._receipts.touched(kiosks, time.monotonic())
            return
        wall = datetime.now(UTC)
        prefix = self._cfg.broker.topic_prefix
        for p in progress:
            payload = receipt_payload(p.kiosk, p.confirmed_seq, p.missing, wall)
            client.publish(Topics(prefix, p.kiosk).receipt, payload, qos=1, retain=True)
        self._count(receipts=len(progress))

    def _maintain(self, now: float) -> None:
        if now < self._next_maintain:
            return
        self._next_maintain = now + MAINTAIN_EVERY_S
        try:
            dropped = self._store.purge(datetime.now(UTC))
        except StoreError as exc:
            logger.warning("retention purge failed (retried in an hour): %s", exc)
            self._next_maintain = now + 60.0
            return
        if dropped:
            logger.info("retention: %d past-retention partitions or rows removed", dropped)

    def _shutdown(self, client: mqtt.Client) -> None:
        """Publish the receipts still due, give them a moment on the wire, disconnect."""
        pending = self._receipts.pending()
        if pending and self.stats().connected:
            self._publish_receipts(client, pending)
            deadline = time.monotonic() + 1.0
            while client.want_write() and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.1)
        client.disconnect()
        if self._inbox:
            logger.warning("stopped with %d messages unacknowledged; the broker keeps them",
                           len(self._inbox))  # fmt: skip
