"""Thermometer reader thread: owns the port, reconnects, watches for silence, queues readings."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import replace

from kiosk.config import ThermometerSection
from kiosk.model import Reading, SensorState, ThermometerHealth
from kiosk.sensors.base import Link
from kiosk.sensors.links import make_link

logger = logging.getLogger(__name__)


class ThermometerReader:
    """One thread that owns the thermometer's port and puts each ``Reading`` on ``out``.

    Any ``OSError`` (port missing, unplugged, I/O error) closes the port and retries with
    back-off from ``reconnect_min_s`` doubling to ``reconnect_max_s``; when no valid frame has
    arrived for ``silence_s`` the state is *not ready* and the port is re-opened (which re-sends
    the init commands) — the only sign of a module pulled off a GPIO UART is silence.
    ``out`` never blocks the reader: when it is full the oldest reading is dropped and counted.
    ``health()`` may be called from any thread. The constructor does no I/O; ``start()`` starts
    the thread, setting ``stop`` ends it (``join()`` waits).
    """

    def __init__(
        self,
        section: ThermometerSection,
        out: queue.Queue[Reading],
        stop: threading.Event,
        link: Link | None = None,
    ) -> None:
        self._section = section
        self._out = out
        self._stop = stop
        self._link = link if link is not None else make_link(section)
        self._lock = threading.Lock()
        self._health = ThermometerHealth(
            SensorState.CONNECTING, section.port, section.protocol, last_progress=time.monotonic()
        )
        self._thread: threading.Thread | None = None

    def start(self) -> ThermometerReader:
        self._thread = threading.Thread(target=self._run, name="thermometer", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def health(self) -> ThermometerHealth:
        with self._lock:
            return self._health

    def _update(self, **changes: object) -> None:
        stats = self._link.stats
        with self._lock:
            self._health = replace(
                self._health,
                frames=stats.frames,
                checksum_errors=stats.checksum_errors,
                frame_errors=stats.frame_errors,
                skipped_bytes=stats.skipped_bytes,
                last_progress=time.monotonic(),
                **changes,  # type: ignore[arg-type]
            )

    def _set_state(self, state: SensorState, error: str | None = None) -> None:
        previous = self.health().state
        if state != previous:
            if state in (SensorState.UNPLUGGED, SensorState.NOT_READY):
                logger.warning("thermometer %s: %s (%s)", self._section.port, state.value, error)
            else:
                logger.info("thermometer %s: %s", self._section.port, state.value)
        if error is None:
            self._update(state=state)
        else:
            self._update(state=state, last_error=error)

    def _run(self) -> None:
        section = self._section
        backoff = section.reconnect_min_s
        opened_before = False
        try:
            while not self._stop.is_set():
                try:
                    self._link.open()
                except OSError as exc:
                    self._set_state(SensorState.UNPLUGGED, _describe(exc))
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, section.reconnect_max_s)
                    continue
                if opened_before:
                    self._update(reconnects=self.health().reconnects + 1)
                opened_before = True
                try:
                    if self._serve():
                        backoff = section.reconnect_min_s
                except OSError as exc:
                    self._set_state(SensorState.UNPLUGGED, _describe(exc))
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, section.reconnect_max_s)
                finally:
                    self._link.close()
        finally:
            self._set_state(SensorState.STOPPED)

    def _serve(self) -> bool:
        """Read until stopped or silent; True if frames arrived. ``OSError`` means unplugged."""
        silence = self._section.silence_s
        opened = time.monotonic()
        last_frame: float | None = None
        if self.health().state != SensorState.NOT_READY:
            self._set_state(SensorState.CONNECTING)
        while not self._stop.is_set():
            readings = self._link.read()
            now = time.monotonic()
            if readings:
                last_frame = now
                for reading in readings:
                    self._put(reading)
                    logger.debug("reading %.2f / %s", reading.object_c, reading.ambient_c)
                if self.health().state != SensorState.CONNECTED:
                    self._set_state(SensorState.CONNECTED)
                self._update(last_reading=readings[-1], last_frame_t=now)
                continue
            if now - (last_frame if last_frame is not None else opened) > silence:
                self._set_state(SensorState.NOT_READY, f"no valid frame for {silence:g} s")
                return last_frame is not None  # re-open: resends init commands
            self._update()
        return last_frame is not None

    def _put(self, reading: Reading) -> None:
        try:
            self._out.put_nowait(reading)
        except queue.Full:
            try:
                self._out.get_nowait()
            except queue.Empty:
                pass
            self._out.put_nowait(reading)
            self._update(dropped=self.health().dropped + 1)


def _describe(exc: OSError) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
