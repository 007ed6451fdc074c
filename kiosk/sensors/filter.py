"""The reading filter: presence, environment gate, stability, compensation, one re-measure."""

from __future__ import annotations

import logging
import statistics
from collections import deque

from kiosk.config import ThermometerSection
from kiosk.model import Reading, Temperature, TempState

logger = logging.getLogger(__name__)

DEFAULT_FEVER_THRESHOLD_C = 37.3
AMBIENT_RATE_WINDOW_S = 60.0  # ambient drift is judged over the last minute ...
AMBIENT_RATE_MIN_SPAN_S = 20.0  # ... once at least this much history exists
AMBIENT_SAMPLE_EVERY_S = 1.0


class ReadingFilter:
    """Turns raw readings into at most one decision-grade ``Temperature`` per visitor.

    - Environment gate: ambient outside ``ambient_min_c``..``ambient_max_c``, drifting faster
      than ``ambient_rate_max_c_per_min``, missing (and no ``ambient_fallback_c``), or no
      reading for ``silence_s`` (see ``tick``) → ``not_ready``; no decision while it holds.
    - Presence: object - ambient >= ``presence_delta_c`` and object within
      ``presence_min_c``..``presence_max_c``; samples failing it are dropped, and a gap longer
      than ``presence_grace_s`` ends the measurement (``no_subject``).
    - Stability: the last ``stable_samples`` present samples within ``stable_spread_c``.
    - Value: median of that window + ``offset_c`` (the site's forehead-to-axillary compensation).
      A value below ``plausible_min_c`` (hair, hat, too far) is never decision-grade: the
      window is discarded and measuring goes on.
    - At or above ``fever_threshold_c`` the window is discarded and measured once more; only a
      second window at or above it gives ``fever``, a lower one gives ``ok``.

    ``feed`` and ``tick`` return a ``Temperature`` when the state changes (``measuring``,
    ``ok``, ``fever``, ``no_subject``, ``not_ready``) and ``None`` otherwise. After ``ok`` or
    ``fever`` the filter holds until the subject leaves. ``reason`` names why the filter is not
    ready or not deciding (``temp.no_frames``, ``temp.ambient_low``, ``temp.ambient_high``,
    ``temp.ambient_drift``, ``temp.no_ambient``, ``temp.too_low``), or is empty. Not thread-safe:
    one owner (the coordinator) calls it.
    """

    def __init__(
        self, section: ThermometerSection, fever_threshold_c: float = DEFAULT_FEVER_THRESHOLD_C
    ) -> None:
        self._s = section
        self.threshold_c = fever_threshold_c
        self.reason = "temp.no_frames"
        self._state = TempState.NOT_READY
        self._current = Temperature(TempState.NOT_READY, offset_c=section.offset_c)
        self._window: deque[float] = deque(maxlen=section.stable_samples)
        self._remeasuring = False
        self._last_present_t = 0.0
        self._last_t: float | None = None
        self._ambient_history: deque[tuple[float, float]] = deque()

    @property
    def current(self) -> Temperature:
        return self._current

    def tick(self, now: float) -> Temperature | None:
        """Call periodically: no reading for ``silence_s`` makes the sensor not ready."""
        if self._state == TempState.NOT_READY or self._last_t is None:
            return None
        if now - self._last_t > self._s.silence_s:
            return self._enter(TempState.NOT_READY, "temp.no_frames", now)
        return None

    def feed(self, reading: Reading) -> Temperature | None:
        s = self._s
        t = reading.t
        self._last_t = t
        ambient = reading.ambient_c if reading.ambient_c is not None else s.ambient_fallback_c
        blocked = self._gate(ambient, t)
        if blocked or ambient is None:
            if self._state != TempState.NOT_READY or self.reason != blocked:
                return self._enter(TempState.NOT_READY, blocked, t, reading, ambient)
            return None
        assert ambient is not None  # noqa: S101 - the gate rejects a missing ambient
        obj = reading.object_c
        present = (
            obj - ambient >= s.presence_delta_c and s.presence_min_c <= obj <= s.presence_max_c
        )
        if not present:
            if self._state in (TempState.MEASURING, TempState.OK, TempState.FEVER) and (
                t - self._last_present_t <= s.presence_grace_s
            ):
                return None  # a stray sample: the subject may still be there
            if self._state != TempState.NO_SUBJECT:
                return self._enter(TempState.NO_SUBJECT, "", t, reading, ambient)
            return None
        self._last_present_t = t
        if self._state in (TempState.OK, TempState.FEVER):
            return None  # decided; hold until the subject leaves
        event = None
        if self._state != TempState.MEASURING:
            event = self._enter(TempState.MEASURING, "", t, reading, ambient)
        self._window.append(obj)
        decided = self._judge(t, ambient)
        return decided or event

    def _judge(self, t: float, ambient: float) -> Temperature | None:
        s = self._s
        window = self._window
        if len(window) < s.stable_samples or max(window) - min(window) > s.stable_spread_c:
            return None
        median = statistics.median(window)
        value = round(median + s.offset_c, 2)
        if value < s.plausible_min_c:
            self.reason = "temp.too_low"
            window.clear()
            logger.info(
                "stable but implausible %.2f °C (raw %.2f): hair, hat or too far", value, median
            )
            return None
        if value >= self.threshold_c and not self._remeasuring:
            self._remeasuring = True
            window.clear()
            logger.info("%.2f °C at or above %.1f: measuring once more", value, self.threshold_c)
            return None
        state = TempState.FEVER if value >= self.threshold_c else TempState.OK
        logger.info(
            "temperature %s: %.2f = median %.2f + offset %.2f (ambient %.2f, %d samples, "
            "threshold %.1f, re-measured %s)",
            state.value, value, median, s.offset_c, ambient, len(window), self.threshold_c,
            self._remeasuring,
        )  # fmt: skip
        self._state = state
        self.reason = ""
        self._current = Temperature(
            state, value, round(median, 2), ambient, s.offset_c, len(window), t
        )
        return self._current

    def _gate(self, ambient: float | None, t: float) -> str:
        s = self._s
        if ambient is None:
            return "temp.no_ambient"
        if ambient < s.ambient_min_c:
            return "temp.ambient_low"
        if ambient > s.ambient_max_c:
            return "temp.ambient_high"
        history = self._ambient_history
        if not history or t - history[-1][0] >= AMBIENT_SAMPLE_EVERY_S:
            history.append((t, ambient))
        while history and t - history[0][0] > AMBIENT_RATE_WINDOW_S:
            history.popleft()
        span = history[-1][0] - history[0][0]
        if span >= AMBIENT_RATE_MIN_SPAN_S:
            rate = abs(history[-1][1] - history[0][1]) / span * 60.0
            if rate > s.ambient_rate_max_c_per_min:
                return "temp.ambient_drift"
        return ""

    def _enter(
        self,
        state: TempState,
        reason: str,
        t: float,
        reading: Reading | None = None,
        ambient: float | None = None,
    ) -> Temperature:
        if state == TempState.NOT_READY:
            logger.warning("thermometer not ready: %s", reason)
        self._state = state
        self.reason = reason
        self._window.clear()
        self._remeasuring = False
        self._current = Temperature(
            state,
            raw_object_c=reading.object_c if reading is not None else None,
            ambient_c=ambient,
            offset_c=self._s.offset_c,
            t=t,
        )
        return self._current
