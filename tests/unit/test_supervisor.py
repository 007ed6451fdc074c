"""The supervisor: restarts a stalled worker within its budget, then gives up non-zero, and
feeds the watchdog only while every worker is fresh."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kiosk.config import ServiceSection
from kiosk.service.status import KioskHealth, StatusBoard, WorkerHealth
from kiosk.service.supervisor import EXIT_STALLED, Supervisor
from tests.helpers import wait_until


@dataclass(frozen=True)
class Health:
    last_progress: float
    ready: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"ready": self.ready}


class FakeWorker:
    """Makes progress until told to hang (like a thread stuck in a driver call)."""

    def __init__(self, stop: threading.Event, hang: bool, ready: bool = True) -> None:
        self.stop, self.hang, self.ready = stop, hang, ready
        self.started = time.monotonic()

    def health(self) -> Health:
        return Health(self.started if self.hang else time.monotonic(), self.ready)

    def join(self, timeout: float | None = None) -> bool:
        return self.stop.is_set()


@dataclass
class Notes:
    calls: list[str] = field(default_factory=list)

    def ready(self) -> None:
        self.calls.append("READY")

    def watchdog(self) -> None:
        self.calls.append("WATCHDOG")

    def status(self, text: str) -> None:
        self.calls.append(f"STATUS={text}")

    def stopping(self) -> None:
        self.calls.append("STOPPING")


SETTINGS = ServiceSection(
    stale_after_s=2, restart_budget=1, restart_window_s=600, health_interval_s=0.1
)


def snapshot(workers: tuple[WorkerHealth, ...]) -> KioskHealth:
    return KioskHealth(kiosk="k-001", workers=workers)


def test_a_worker_that_keeps_stalling_is_restarted_then_the_service_exits_non_zero() -> None:
    stop, board, notes = threading.Event(), StatusBoard(), Notes()
    started: list[FakeWorker] = []

    def start_camera(ev: threading.Event) -> FakeWorker:
        started.append(FakeWorker(ev, hang=True))
        return started[-1]

    sup = Supervisor(SETTINGS, stop, board, notes, snapshot=snapshot)
    sup.add("camera", start_camera)
    sup.add("uplink", lambda ev: FakeWorker(ev, hang=False))
    sup.start()
    began = time.monotonic()
    code = sup.run()
    elapsed = time.monotonic() - began
    assert code == EXIT_STALLED and stop.is_set()
    assert len(started) == 2  # the first, and one restart allowed by the budget
    assert started[0].stop.is_set()  # the stalled one was told to stop
    assert 4.0 <= elapsed < 15  # stalled twice for stale_after_s each
    # every pass feeds the watchdog (then reports "ok") exactly when all workers are fresh
    passes = [(notes.calls[i - 1] == "WATCHDOG", c) for i, c in enumerate(notes.calls)
              if c.startswith("STATUS=")]  # fmt: skip
    assert all(fed == (status == "STATUS=ok") for fed, status in passes), passes
    assert passes[0] == (True, "STATUS=ok")  # fresh at first
    assert passes[-1] == (False, "STATUS=not fresh: camera")  # stalled at the end
    assert notes.calls[0] == "READY"


def test_fresh_workers_feed_the_watchdog_and_stop_cleanly() -> None:
    stop, board, notes = threading.Event(), StatusBoard(), Notes()
    sup = Supervisor(SETTINGS, stop, board, notes, snapshot=snapshot)
    workers: list[FakeWorker] = []
    sup.add("camera", lambda ev: workers.append(FakeWorker(ev, hang=False)) or workers[-1])
    sup.add(
        "thermometer",
        lambda ev: FakeWorker(ev, hang=False, ready=False),
        ready=lambda h, _now: bool(h.ready),
    )
    sup.start()

    def stop_after_five_passes() -> None:  # five health passes, however slow the machine
        wait_until(lambda: notes.calls.count("STATUS=not fresh: thermometer") >= 5, timeout=10)
        stop.set()

    threading.Thread(target=stop_after_five_passes, daemon=True).start()
    assert sup.run() == 0
    health = board.health()
    assert not health.fresh  # the thermometer's device is not delivering
    assert health.worker("camera") is not None and health.worker("camera").fresh  # type: ignore[union-attr]
    # its thread progresses: the watchdog is fed (no restart loop for a missing device), and
    # the status names the device that is not delivering
    assert notes.calls.count("STATUS=not fresh: thermometer") >= 5
    assert "WATCHDOG" in notes.calls
    sup.stop_all()
    assert workers[0].stop.is_set() and notes.calls[-1] == "STOPPING"


def test_watchdog_is_fed_while_all_are_fresh() -> None:
    stop, board, notes = threading.Event(), StatusBoard(), Notes()
    sup = Supervisor(SETTINGS, stop, board, notes, snapshot=snapshot)
    sup.add("camera", lambda ev: FakeWorker(ev, hang=False))
    sup.start()

    def stop_after_three_pings() -> None:  # waits for the condition, not for a guessed time
        fed = wait_until(lambda: notes.calls.count("WATCHDOG") >= 3, timeout=10)
        outcome.append(fed)
        stop.set()

    outcome: list[bool] = []
    threading.Thread(target=stop_after_three_pings, daemon=True).start()
    assert sup.run() == 0
    assert outcome == [True]  # fed three times while the one worker stayed fresh
    assert board.health().fresh
