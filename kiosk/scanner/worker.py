"""The scan worker: frames in, de-duplicated ``ScannedCode`` out on a queue, health on demand."""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable

from kiosk.model import ScannedCode, ScannerHealth
from kiosk.scanner.base import CameraUnavailable, EndOfStream, Frame, FrameSource, QrDecoder
from kiosk.scanner.yuv import decode_frame, frame_colour

logger = logging.getLogger(__name__)

_EWMA = 0.1  # weight of the newest sample in fps and ms/frame
_ALIVE_S = 1.0  # while waiting to reopen, progress is stamped this often


def describe_failure(exc: BaseException) -> str:
    """One line for a camera that cannot be used: the adapter's own text for
    ``CameraUnavailable``, else the exception's type and text (``IndexError`` alone says
    nothing to a technician)."""
    if isinstance(exc, CameraUnavailable):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class ScanWorker:
    """One thread that owns the camera: reads frames, decodes at most ``max_decode_hz`` of them
    (``None``: every frame, for replays of files), and puts each new code on ``out``.

    - A code seen again within ``dedupe_window_s`` of its last sighting is not reported again
      (so a phone held up for a minute is one visitor); texts are remembered only as keyed
      hashes.
    - When ``out`` is full the checkpoint is busy: the frame is dropped undecoded (counted in
      ``dropped_busy``), never queued, so the next code delivered is a fresh one.
    - A source that raises anything but ``EndOfStream`` (no camera attached: picamera2 raises
      ``IndexError``; unplugged; driver errors) is closed and reopened with back-off from
      ``reopen_min_s`` doubling to ``reopen_max_s`` (frames since the last failure reset it);
      meanwhile the state is ``missing`` with the reason in ``problem``, and progress is still
      stamped (the thread is alive), so the supervisor shows a device notice instead of
      restarting the service. A ``read()`` of ``None`` is state ``waiting``.
      ``EndOfStream`` ends the thread (state ``ended``). ``stop`` ends it too.
    """

    def __init__(
        self,
        source: FrameSource,
        decoder: QrDecoder,
        out: queue.Queue[ScannedCode],
        stop: threading.Event,
        *,
        source_name: str = "camera",
        dedupe_window_s: float = 5.0,
        max_decode_hz: float | None = 15.0,
        reopen_min_s: float = 0.5,
        reopen_max_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._decoder = decoder
        self._out = out
        self._stop = stop
        self._source_name = source_name
        self._window = dedupe_window_s
        self._min_gap = 0.0 if max_decode_hz is None else 1.0 / max_decode_hz
        self._clock = clock
        self._reopen_min = reopen_min_s
        self._reopen_max = reopen_max_s
        self._problem: str | None = None
        self._retry_at: float | None = None
        self._frames_at_failure = 0
        self._key = os.urandom(16)
        self._seen: dict[bytes, float] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state = "idle"
        self._counts = dict.fromkeys(
            ("frames", "decoded_frames", "codes", "duplicates", "dropped_busy", "rate_skipped"), 0
        )
        self._fps = 0.0
        self._ms: float | None = None
        self._last_frame: float | None = None
        self._last_decode = float("-inf")
        self._last_progress = clock()

    def start(self) -> ScanWorker:
        self._thread = threading.Thread(target=self._run, name="scanner", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (set ``stop`` first); True if it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def health(self) -> ScannerHealth:
        with self._lock:
            now = self._clock()
            age = None if self._last_frame is None else now - self._last_frame
            return ScannerHealth(
                state=self._state,
                source=self._source_name,
                decoder=self._decoder.name,
                fps_in=self._fps,
                ms_per_frame=self._ms,
                last_frame_age_s=age,
                last_progress=self._last_progress,
                frames=self._counts["frames"],
                decoded_frames=self._counts["decoded_frames"],
                codes=self._counts["codes"],
                duplicates=self._counts["duplicates"],
                dropped_busy=self._counts["dropped_busy"],
                rate_skipped=self._counts["rate_skipped"],
                problem=self._problem,
                retry_in_s=None if self._retry_at is None else max(0.0, self._retry_at - now),
            )

    def _run(self) -> None:
        delay = self._reopen_min
        try:
            while not self._stop.is_set():
                try:
                    self._source.open()
                    self._set_state("running", problem=None)
                    self._loop()
                    return
                except EndOfStream:
                    self._set_state("ended")
                    return
                except Exception as exc:  # any camera error: retry, never die
                    self._close()
                    delay = self._failed(exc, delay)
        finally:
            self._close()
            with self._lock:
                if self._state != "ended":
                    self._state = "stopped"
                self._retry_at = None

    def _failed(self, exc: Exception, delay: float) -> float:
        """Record why the camera is unusable, wait ``delay`` (stamping progress: the worker is
        alive, only its device is not), and return the next, longer delay. Frames since the
        last failure reset the back-off."""
        with self._lock:
            if self._counts["frames"] > self._frames_at_failure:
                delay = self._reopen_min
            self._frames_at_failure = self._counts["frames"]
        problem = describe_failure(exc)
        with self._lock:
            repeated, self._problem = problem == self._problem, problem
            self._state, self._retry_at = "missing", self._clock() + delay
            self._last_progress = self._clock()
            deadline = self._retry_at
        log = logger.info if repeated else logger.warning  # the same failure: once loudly
        log("scanner: %s: %s; reopening in %.1f s", self._source_name, problem, delay)
        while not self._stop.is_set():
            left = deadline - self._clock()
            if left <= 0:
                break
            self._stop.wait(min(left, _ALIVE_S))
            with self._lock:
                self._last_progress = self._clock()
        with self._lock:
            self._retry_at = None
        return min(delay * 2, self._reopen_max)

    def _close(self) -> None:
        try:
            self._source.close()
        except Exception as exc:  # a half-opened camera may fail to close: it is gone anyway
            logger.info("scanner: %s: close failed: %s", self._source_name, describe_failure(exc))

    def _loop(self) -> None:
        while not self._stop.is_set():
            frame = self._source.read()
            if frame is None:
                self._set_state("waiting")
                continue
            self._handle(frame)

    def _handle(self, frame: Frame) -> None:
        now = self._clock()
        with self._lock:
            self._state = "running"
            self._counts["frames"] += 1
            if self._last_frame is not None and now > self._last_frame:
                self._fps += _EWMA * (1.0 / (now - self._last_frame) - self._fps)
            self._last_frame = now
            self._last_progress = now
            if now - self._last_decode < self._min_gap:
                self._counts["rate_skipped"] += 1
                return
            if self._out.full():
                self._counts["dropped_busy"] += 1
                return
            self._last_decode = now
        started = time.perf_counter()
        symbols = decode_frame(self._decoder, frame)
        ms = (time.perf_counter() - started) * 1000
        with self._lock:
            self._counts["decoded_frames"] += 1
            self._ms = ms if self._ms is None else self._ms + _EWMA * (ms - self._ms)
        for symbol in symbols:
            self._emit(
                ScannedCode(
                    symbol.text,
                    symbol.format,
                    symbol.bbox,
                    frame_colour(frame, symbol.bbox),
                    frame.t,
                )
            )
        self._forget(frame.t)

    def _emit(self, code: ScannedCode) -> None:
        digest = hashlib.blake2b(code.text.encode(), key=self._key, digest_size=16).digest()
        last = self._seen.get(digest)
        if last is not None and code.t - last < self._window:
            self._seen[digest] = code.t
            with self._lock:
                self._counts["duplicates"] += 1
            return
        try:
            self._out.put_nowait(code)
        except queue.Full:  # the checkpoint got busy meanwhile: report it again next time
            with self._lock:
                self._counts["dropped_busy"] += 1
            return
        self._seen[digest] = code.t
        with self._lock:
            self._counts["codes"] += 1

    def _forget(self, now: float) -> None:
        if len(self._seen) > 32:
            self._seen = {k: t for k, t in self._seen.items() if now - t < self._window}

    def _set_state(self, state: str, **kw: str | None) -> None:
        with self._lock:
            self._state = state
            if "problem" in kw:
                self._problem = kw["problem"]
