"""The supervisor: watches every worker's progress, restarts a stalled one within a budget,
publishes health, and feeds the systemd watchdog only while every worker's thread is alive.

A worker whose device is missing (no camera, thermometer unplugged) is alive but not fresh:
the screen shows a device notice and the watchdog is still fed, so systemd does not restart
the service in a loop for a part that a restart cannot bring back. A hung worker (no progress)
stops the pings."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kiosk.config import ServiceSection
from kiosk.service.status import KioskHealth, StatusBoard, WorkerHealth

logger = logging.getLogger(__name__)

EXIT_STALLED = 3  # a worker kept stalling: systemd's Restart=on-failure takes over


class Worker(Protocol):
    """A started worker thread: its ``health()`` has a ``last_progress`` monotonic stamp."""

    def health(self) -> Any: ...

    def join(self, timeout: float | None = None) -> Any: ...


class Notifier(Protocol):
    """systemd's notification socket (``kiosk.service.sdnotify.Notifier``), or nothing."""

    def ready(self) -> object: ...

    def watchdog(self) -> object: ...

    def status(self, text: str) -> object: ...

    def stopping(self) -> object: ...


class NoNotifier:
    """Outside systemd: nobody to tell."""

    def ready(self) -> None: ...

    def watchdog(self) -> None: ...

    def status(self, text: str) -> None: ...

    def stopping(self) -> None: ...


Ready = Callable[[Any, float], bool]  # (health, now) -> is its device delivering?


@dataclass
class _Unit:
    name: str
    start: Callable[[threading.Event], Worker]
    ready: Ready
    stop: threading.Event = field(default_factory=threading.Event)
    worker: Worker | None = None
    restarts: deque[float] = field(default_factory=deque)
    total_restarts: int = 0


class Supervisor:
    """Runs on the main thread. Each unit's worker gets its own stop event, set when the
    service stops or when the unit is restarted; a worker whose ``last_progress`` is older
    than ``stale_after_s`` is stopped and started again, at most ``restart_budget`` times in
    ``restart_window_s`` — after that ``run()`` returns ``EXIT_STALLED``.
    """

    def __init__(
        self,
        settings: ServiceSection,
        stop: threading.Event,
        board: StatusBoard,
        notifier: Notifier,
        *,
        snapshot: Callable[[tuple[WorkerHealth, ...]], KioskHealth],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cfg = settings
        self._stop = stop
        self._board = board
        self._notifier = notifier
        self._snapshot = snapshot
        self._clock = clock
        self._units: list[_Unit] = []

    def add(self, name: str, start: Callable[[threading.Event], Worker],
            ready: Ready | None = None) -> None:  # fmt: skip
        """Register a worker; ``start(stop_event)`` builds and starts a fresh one."""
        self._units.append(_Unit(name, start, ready or (lambda _h, _n: True)))

    def worker(self, name: str) -> Worker | None:
        unit = next((u for u in self._units if u.name == name), None)
        return None if unit is None else unit.worker

    def start(self) -> None:
        for unit in self._units:
            unit.worker = unit.start(unit.stop)

    def run(self) -> int:
        """Supervise until the service's stop event is set (0) or a budget is spent."""
        self._notifier.ready()
        while not self._stop.wait(self._cfg.health_interval_s):
            now = self._clock()
            workers, alive = [], True
            for unit in self._units:
                age = self._age(unit, now)
                if age > self._cfg.stale_after_s and not self._restart(unit, now, age):
                    self._stop.set()
                    return EXIT_STALLED
                workers.append(self._health_of(unit, now))
                alive = alive and self._age(unit, now) <= self._cfg.stale_after_s / 2
            health = self._snapshot(tuple(workers))
            self._board.set_health(health)
            if alive:
                self._notifier.watchdog()
            stale = [w.name for w in workers if not w.fresh]
            self._notifier.status("ok" if not stale else "not fresh: " + ", ".join(stale))
        return 0

    def stop_all(self, order: tuple[str, ...] = (), timeout: float = 10.0) -> None:
        """Stop workers, the ones named in ``order`` last and in that order."""
        self._notifier.stopping()
        last = [u for name in order for u in self._units if u.name == name]
        first = [u for u in self._units if u not in last]
        for unit in first + last:
            unit.stop.set()
            if unit.worker is not None and unit.worker.join(timeout) is False:
                logger.warning("%s did not stop within %.0f s", unit.name, timeout)

    def _age(self, unit: _Unit, now: float) -> float:
        if unit.worker is None:
            return float("inf")
        return now - float(unit.worker.health().last_progress)

    def _health_of(self, unit: _Unit, now: float) -> WorkerHealth:
        assert unit.worker is not None  # noqa: S101 - start() ran
        health = unit.worker.health()
        age = now - float(health.last_progress)
        # not fresh after half the stall time: the watchdog is withheld before the restart
        fresh = age <= self._cfg.stale_after_s / 2 and unit.ready(health, now)
        detail = health.to_dict() if hasattr(health, "to_dict") else {}
        return WorkerHealth(unit.name, fresh, age, unit.total_restarts, detail)

    def _restart(self, unit: _Unit, now: float, age: float) -> bool:
        while unit.restarts and now - unit.restarts[0] > self._cfg.restart_window_s:
            unit.restarts.popleft()
        if len(unit.restarts) >= self._cfg.restart_budget:
            logger.critical(
                "%s stalled (%.0f s without progress) after %d restarts in %.0f s: giving up",
                unit.name, age, len(unit.restarts), self._cfg.restart_window_s,
            )  # fmt: skip
            return False
        logger.error("%s stalled (%.0f s without progress): restarting it", unit.name, age)
        unit.stop.set()
        if unit.worker is not None:
            unit.worker.join(2.0)  # a thread stuck in a driver call is left behind (daemon)
        unit.stop = threading.Event()
        if self._stop.is_set():
            unit.stop.set()
        unit.worker = unit.start(unit.stop)
        unit.restarts.append(now)
        unit.total_restarts += 1
        return True
