"""The notifier: puts every new alert on each webhook's queue (a ``deliveries`` row) and sends
each queue in order, with back-off while its receiver is down or slow.

It runs beside the desk, never inside ingest: a receiver that hangs costs a sender thread of
its own and nothing else. One thread finds new alerts and watches the fleet; one thread per
hook sends. The queue lives in the database, so a restart loses nothing, and
``UNIQUE (alert_key, hook)`` makes finding an alert twice harmless.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from county.config import Config
from county.desk import fleet as fleet_mod
from county.desk.alerts import Alert, alerts_at, alerts_since
from county.desk.db import DeskDb
from county.notify.hooks import Hook, accepted, body
from county.notify.send import post
from county.store import StoreError

logger = logging.getLogger(__name__)

#: Alerts are looked for again this far behind the newest one seen: ingest workers stamp
#: ``received_at`` before they commit, so a batch may appear a little "in the past".
LAG = timedelta(seconds=120)
#: Alerts read per query by the finder.
PAGE = 500
PERMANENT = {400, 401, 403, 404, 405, 410, 413, 422}
Clock = Callable[[], datetime]


def hook_id(hook: Hook) -> str:
    """Stable id of a hook in the queue table (a digest: the URL holds the robot's key)."""
    return f"{hook.preset}:{hashlib.sha256(hook.url.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class HookDelivery:
    """One alert on one webhook: its state, attempts and last error (the desk lists these)."""

    id: int
    alert_key: str
    hook: str
    state: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None


def deliveries(db: DeskDb, limit: int = 200) -> list[HookDelivery]:
    """The newest deliveries, for the desk."""
    rows = db.rows(
        "SELECT id, alert_key, hook, state, attempts, created_at, sent_at, last_error "
        "FROM deliveries ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    return [
        HookDelivery(r[0], r[1], r[2], r[3], r[4], db.ts(r[5]) or datetime.min, db.ts(r[6]), r[7])
        for r in rows
    ]


class Notifier:
    """``start()`` begins the finder thread and one sender per hook; ``stop`` ends them."""

    def __init__(
        self,
        config: Config,
        db: DeskDb,
        hooks: list[Hook],
        stop: threading.Event,
        clock: Clock | None = None,
        sender: Callable[[str, bytes, float], tuple[int, bytes]] = post,
    ) -> None:
        self.config = config
        self.db = db
        self.hooks = hooks
        self._stop = stop
        self._now = clock or (lambda: datetime.now(UTC))
        self._send = sender
        self._threads: list[threading.Thread] = []
        self._wake = threading.Event()
        self.last_progress = time.monotonic()
        self.sent = 0
        self.failed_attempts = 0

    def start(self) -> Notifier:
        self._threads = [threading.Thread(target=self._find_loop, name="notify-find", daemon=True)]
        for hook in self.hooks:
            self._threads.append(
                threading.Thread(
                    target=self._send_loop, args=(hook,), name=f"notify-{hook.preset}", daemon=True
                )
            )
        for t in self._threads:
            t.start()
        return self

    def join(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    @property
    def alive(self) -> bool:
        return all(t.is_alive() for t in self._threads)

    # -- finding ----------------------------------------------------------------------------

    def _find_loop(self) -> None:
        cursor: datetime | None = None
        next_fleet = 0.0
        while not self._stop.is_set():
            try:
                if cursor is None:
                    cursor = self._start_cursor()
                cursor = self.enqueue(cursor)
                if time.monotonic() >= next_fleet:
                    next_fleet = time.monotonic() + self.config.fleet.check_every_s
                    self.watch_fleet()
                self.last_progress = time.monotonic()
            except StoreError as exc:
                logger.warning("notify: database: %s", exc)
            except Exception:  # one bad pass must not end the notifier
                logger.exception("notify: unexpected error")
            self._stop.wait(self.config.notify.poll_s)
        self.db.close()

    def _start_cursor(self) -> datetime:
        row = self.db.one("SELECT max(alert_ts) FROM deliveries")
        newest = self.db.ts(row[0]) if row else None
        floor = self._now() - timedelta(hours=self.config.notify.give_up_h)
        return max(newest, floor) if newest else floor

    def enqueue(self, cursor: datetime) -> datetime:
        """Queue every alert newer than ``cursor - LAG`` on every hook; the new cursor.

        Read in pages of ``PAGE``; a page that is full ends before its last arrival time,
        and that time's alerts are read whole (one ingest batch shares one time), so a burst
        larger than a page is queued entirely rather than read again and again."""
        if not self.hooks:
            return cursor
        newest, after = cursor, cursor - LAG
        while True:
            found = alerts_since(self.db, after, PAGE)
            full = len(found) >= PAGE
            if full:
                after = found[-1].received_at
                found = [a for a in found if a.received_at < after] + alerts_at(self.db, after)
            self._queue(found)
            newest = max([newest, *(a.received_at for a in found)])
            if not full:
                return newest

    def _queue(self, found: list[Alert]) -> None:
        if not found:
            return
        now = self._now()
        # Only what is not queued yet is inserted: the window is read again on every poll, and
        # an INSERT that does nothing still takes SQLite's write lock away from ingest.
        queued: set[tuple[str, str]] = set()
        keys = [a.key for a in found]
        for i in range(0, len(keys), PAGE):  # by the UNIQUE index; only placeholders in SQL
            part = keys[i : i + PAGE]
            marks = ", ".join("?" * len(part))
            sql = f"SELECT alert_key, hook FROM deliveries WHERE alert_key IN ({marks})"  # noqa: S608
            queued.update((str(r[0]), str(r[1])) for r in self.db.rows(sql, part))
        for alert in found:
            for hook in self.hooks:
                if (alert.key, hook_id(hook)) in queued:
                    continue
                added = self.db.execute(
                    "INSERT INTO deliveries (alert_key, hook, alert_ts, created_at, state, "
                    "next_at, body) VALUES (?, ?, ?, ?, 'pending', ?, ?) "
                    "ON CONFLICT (alert_key, hook) DO NOTHING",
                    (alert.key, hook_id(hook), alert.received_at, now, now,
                     body(hook.preset, alert).decode()),
                )  # fmt: skip
                if added:
                    self._wake.set()

    def watch_fleet(self) -> None:
        f = self.config.fleet
        now = self._now()
        views = fleet_mod.fleet(self.db, now, f.silent_after_s, f.clock_skew_warn_s)
        raised, cleared = fleet_mod.watch(self.db, views, now)
        if raised or cleared:
            logger.warning("fleet: %d kiosk(s) went silent, %d came back", raised, cleared)

    # -- sending ----------------------------------------------------------------------------

    def _send_loop(self, hook: Hook) -> None:
        name = hook_id(hook)
        while not self._stop.is_set():
            try:
                wait = self.send_next(hook, name)
            except StoreError as exc:
                logger.warning("notify %s: database: %s", hook.name, exc)
                wait = self.config.notify.retry_min_s
            except Exception:
                logger.exception("notify %s: unexpected error", hook.name)
                wait = self.config.notify.retry_min_s
            if wait > 0:
                self._wake.wait(min(wait, self.config.notify.poll_s))
                self._wake.clear()
        self.db.close()

    def send_next(self, hook: Hook, name: str) -> float:
        """Send the oldest pending delivery of ``hook`` if it is due; seconds until the next
        try (0: go on at once). Later alerts wait behind it, so every receiver sees order."""
        row = self.db.one(
            "SELECT id, body, attempts, created_at, next_at FROM deliveries "
            "WHERE hook = ? AND state = 'pending' ORDER BY alert_ts, id LIMIT 1",
            (name,),
        )
        if row is None:
            return self.config.notify.poll_s
        delivery_id, data, attempts, created_raw, next_raw = row
        now = self._now()
        next_at = self.db.ts(next_raw) or now
        if next_at > now:
            return (next_at - now).total_seconds()
        try:
            status, reply = self._send(hook.url, str(data).encode(), self.config.notify.timeout_s)
            ok, why = accepted(hook.preset, status, reply)
        # refused, reset, timed out, bad TLS; or not HTTP at all (a wrong port, a proxy's junk)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            status, ok, why = 0, False, " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        now = self._now()
        if ok:
            self.db.execute(
                "UPDATE deliveries SET state = 'sent', attempts = ?, sent_at = ?, "
                "last_error = NULL WHERE id = ?",
                (attempts + 1, now, delivery_id),
            )
            self.sent += 1
            return 0.0
        self.failed_attempts += 1
        created = self.db.ts(created_raw) or now
        gave_up = now - created > timedelta(hours=self.config.notify.give_up_h)
        state = "failed" if status in PERMANENT or gave_up else "pending"
        n = self.config.notify
        delay = min(n.retry_max_s, n.retry_min_s * 2 ** min(attempts, 16))
        self.db.execute(
            "UPDATE deliveries SET state = ?, attempts = ?, next_at = ?, last_error = ? "
            "WHERE id = ?",
            (state, attempts + 1, now + timedelta(seconds=delay), why, delivery_id),
        )
        logger.warning("notify %s: delivery %s failed (%s), %s", hook.name, delivery_id, why,
                       "given up" if state == "failed" else f"retry in {delay:.0f} s")  # fmt: skip
        return 0.0 if state == "failed" else delay
