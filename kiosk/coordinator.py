"""The coordinator thread: codes and readings in, the checkpoint's decisions out."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from kiosk.checkpoint import Checkpoint, Signals
from kiosk.codes.base import CodeVerifier
from kiosk.config import Config
from kiosk.ledger import Ledger
from kiosk.model import Entry, Reading, ScannedCode
from kiosk.sensors.filter import ReadingFilter
from kiosk.service.status import StatusBoard
from kiosk.storage import StorageError

logger = logging.getLogger(__name__)

POLL_S = 0.02  # how long to wait for a code before looking at readings and timeouts again


@dataclass(frozen=True)
class CoordinatorHealth:
    last_progress: float
    phase: str = "idle"
    entries: int = 0
    temperature: str = "not_ready"
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "entries": self.entries,
            "temperature": self.temperature,
            "last_error": self.last_error,
        }


class LedgerRecorder:
    """Commits through a ledger owned by the coordinator thread, then wakes the uplink.

    A ledger that failed to open is retried on the next commit; until then every commit raises
    ``StorageError`` and the checkpoint shows SEE STAFF.
    """

    def __init__(self, ledger: Ledger, notify: Callable[[], None]) -> None:
        self._ledger = ledger
        self._notify = notify
        self.committed = 0

    def commit(self, entry: Entry) -> Entry:
        self._ledger.open()
        committed = self._ledger.commit(entry)
        self.committed += 1
        self._notify()
        return committed


class Coordinator:
    """Owns the visitor flow: takes codes from the scanner's queue and readings from the
    thermometer's, runs them through the reading filter and the checkpoint, and ticks its
    timeouts every ``POLL_S``. The ledger connection and the filter live in this thread.
    The constructor does no I/O; ``start()`` starts the thread, ``stop`` ends it.
    """

    def __init__(
        self,
        config: Config,
        board: StatusBoard,
        verifier: CodeVerifier,
        codes: queue.Queue[ScannedCode],
        readings: queue.Queue[Reading],
        stop: threading.Event,
        *,
        notify_uplink: Callable[[], None],
        signals: Signals | None = None,
    ) -> None:
        self._cfg = config
        self._board = board
        self._verifier = verifier
        self._codes = codes
        self._readings = readings
        self._stop = stop
        self._notify = notify_uplink
        self._signals = signals
        self._lock = threading.Lock()
        self._health = CoordinatorHealth(last_progress=time.monotonic())
        self._thread: threading.Thread | None = None

    def start(self) -> Coordinator:
        self._thread = threading.Thread(target=self._run, name="checkpoint", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def health(self) -> CoordinatorHealth:
        with self._lock:
            return self._health

    def _run(self) -> None:
        cfg = self._cfg
        ledger = Ledger(cfg.ledger_path)
        try:
            ledger.open()
        except StorageError as exc:
            logger.error("ledger unavailable, visitors will be sent to staff: %s", exc)
            self._set(last_error=str(exc))
        readings = ReadingFilter(cfg.thermometer, fever_threshold_c=cfg.policy.fever_threshold_c)
        recorder = LedgerRecorder(ledger, self._notify)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify") as executor:
            checkpoint = Checkpoint(
                kiosk_id=cfg.kiosk.id,
                site=cfg.kiosk.site,
                settings=cfg.checkpoint,
                rules=cfg.policy,
                verifier=self._verifier,
                verify_timeout_s=cfg.verify.online.timeout_s + 1.0,
                recorder=recorder,
                display=self._board,
                executor=executor,
                signals=self._signals,
            )
            try:
                while not self._stop.is_set():
                    self._turn(checkpoint, readings)
                    self._set(
                        last_progress=time.monotonic(),
                        phase=checkpoint.phase.value,
                        entries=recorder.committed,
                        temperature=readings.current.state.value,
                    )
            finally:
                ledger.close()

    def _turn(self, checkpoint: Checkpoint, readings: ReadingFilter) -> None:
        try:
            checkpoint.on_code(self._codes.get(timeout=POLL_S))
        except queue.Empty:
            pass
        while True:
            try:
                reading = self._readings.get_nowait()
            except queue.Empty:
                break
            changed = readings.feed(reading)
            if changed is not None:
                checkpoint.on_temperature(changed)
        changed = readings.tick(time.monotonic())
        if changed is not None:
            checkpoint.on_temperature(changed)
        checkpoint.tick()

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._health = replace(self._health, **changes)
