"""Door relay, buzzer and LEDs per decision: patterns as data, played by one worker thread.

The relay is closed on PASS only, once, for ``gate.relay_pulse_s``; DENY and SEE STAFF light
their LED and beep but never touch it. A new decision cuts the running pattern short and
switches every output off first, so the door never stays unlocked for the next visitor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from kiosk.config import GateSection
from kiosk.model import GateHealth, Outcome

logger = logging.getLogger(__name__)

#: Buzzer beeps per outcome: (start, length) in seconds. One short beep: go; three short: no;
#: two long: wait for staff.
BEEPS: dict[Outcome, tuple[tuple[float, float], ...]] = {
    Outcome.PASS: ((0.0, 0.12),),
    Outcome.DENY: ((0.0, 0.15), (0.25, 0.15), (0.5, 0.15)),
    Outcome.REFER: ((0.0, 0.5), (0.8, 0.5)),
}

LEDS: dict[Outcome, str] = {
    Outcome.PASS: "led_pass",
    Outcome.DENY: "led_deny",
    Outcome.REFER: "led_refer",
}

TURN_S = 0.1  # the worker looks at its stop event and stamps progress at least this often


class GateError(OSError):
    """A GPIO output could not be opened or driven (wrong pin, busy, no permission)."""


class Output(Protocol):
    """One digital output: a relay coil, a buzzer or an LED. ``on``/``off`` raise ``OSError``
    (``GateError``) when the pin cannot be driven; ``close`` releases the pin."""

    def on(self) -> None: ...

    def off(self) -> None: ...

    def close(self) -> None: ...


#: Opens the configured outputs by role (``relay``, ``buzzer``, ``led_pass`` ...).
Opener = Callable[[GateSection], Mapping[str, Output]]


@dataclass(frozen=True)
class Step:
    """Switch output ``role`` on or off ``at_s`` seconds after the decision."""

    at_s: float
    role: str
    on: bool


def pattern(outcome: Outcome, section: GateSection) -> tuple[Step, ...]:
    """The timeline played for ``outcome``, for the configured outputs only, in time order
    (at the same instant, "off" before "on"). The LED stays lit for ``led_s`` and at least as
    long as the relay is closed and the buzzer sounds."""
    roles = section.pins()
    steps: list[Step] = []
    if outcome is Outcome.PASS and "relay" in roles:
        steps += [Step(0.0, "relay", True), Step(section.relay_pulse_s, "relay", False)]
    if "buzzer" in roles:
        for start, length in BEEPS[outcome]:
            steps += [Step(start, "buzzer", True), Step(start + length, "buzzer", False)]
    led = LEDS[outcome]
    if led in roles:
        lit = max([section.led_s, *(s.at_s for s in steps)])
        steps += [Step(0.0, led, True), Step(lit, led, False)]
    return tuple(sorted(steps, key=lambda s: (s.at_s, s.on)))


class Gate:
    """Plays ``pattern(outcome)`` on the outputs; ``signal()`` returns at once.

    ``start()`` opens the outputs (nothing at all when no pin is configured) and starts the
    worker; it never raises: outputs that cannot be opened leave the gate ``failed`` and the
    door locked, and ``health()`` says why. A driving error mid-pattern switches everything
    off, marks the gate ``failed`` and ends the worker. ``signal()`` and ``health()`` are
    thread-safe; ``join()`` switches everything off and releases the pins.
    """

    def __init__(self, section: GateSection, stop: threading.Event, opener: Opener) -> None:
        self.section = section
        self._stop = stop
        self._opener = opener
        self._cond = threading.Condition()
        self._pending: Outcome | None = None
        self._closing = False
        self._outputs: Mapping[str, Output] = {}
        self._thread: threading.Thread | None = None
        self._state = "off" if not section.pins() else "idle"
        self._signals = 0
        self._pulses = 0
        self._last: Outcome | None = None
        self._error: str | None = None
        self._progress = time.monotonic()

    def start(self) -> Gate:
        if self._state != "idle":
            return self
        try:
            self._outputs = self._opener(self.section)
        except OSError as exc:
            self._fail(f"cannot open GPIO outputs: {exc}")
            return self
        self._state = "running"
        self._thread = threading.Thread(target=self._run, name="gate", daemon=True)
        self._thread.start()
        return self

    def signal(self, outcome: Outcome) -> None:
        """Show ``outcome`` on the outputs; replaces whatever is playing. Never blocks."""
        with self._cond:
            self._signals += 1
            self._last = outcome
            if self._state == "running":
                self._pending = outcome
                self._cond.notify()

    def health(self) -> GateHealth:
        with self._cond:
            return GateHealth(
                state=self._state,
                signals=self._signals,
                relay_pulses=self._pulses,
                last_outcome=self._last,
                last_error=self._error,
                last_progress=self._progress,
            )

    def join(self, timeout: float | None = 5.0) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._thread is None or not self._thread.is_alive():
            self._release()

    def _ending(self) -> bool:
        return self._closing or self._stop.is_set()

    def _run(self) -> None:
        try:
            while self._state == "running" and not self._ending():
                with self._cond:
                    if self._pending is None:
                        self._cond.wait(TURN_S)
                    outcome, self._pending = self._pending, None
                    self._progress = time.monotonic()
                if outcome is not None:
                    self._play(outcome)
        finally:
            self._all_off()
            with self._cond:
                if self._state == "running":
                    self._state = "stopped"

    def _play(self, outcome: Outcome) -> None:
        self._all_off()
        started = time.monotonic()
        for step in pattern(outcome, self.section):
            if self._interrupted(started + step.at_s):
                return
            output = self._outputs[step.role]
            try:
                if step.on:
                    output.on()
                else:
                    output.off()
            except OSError as exc:
                self._fail(f"{step.role}: {exc}")
                return
            if step.role == "relay" and step.on:
                with self._cond:
                    self._pulses += 1
                logger.info("gate: relay closed for %.1f s", self.section.relay_pulse_s)

    def _interrupted(self, deadline: float) -> bool:
        """Wait until ``deadline``; True when a new decision or the stop came first."""
        with self._cond:
            while self._pending is None and not self._ending() and self._state == "running":
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, TURN_S))
                self._progress = time.monotonic()
            return True

    def _all_off(self) -> None:
        """Relay first: the door locks before anything else happens."""
        for role in sorted(self._outputs, key=lambda r: r != "relay"):
            try:
                self._outputs[role].off()
            except OSError as exc:
                logger.error("gate: cannot switch %s off: %s", role, exc)

    def _fail(self, why: str) -> None:
        logger.error("gate failed, the door stays locked: %s", why)
        with self._cond:
            self._state, self._error = "failed", why

    def _release(self) -> None:
        outputs, self._outputs = self._outputs, {}
        for role, output in outputs.items():
            try:
                output.off()
                output.close()
            except OSError as exc:
                logger.warning("gate: closing %s: %s", role, exc)
        with self._cond:
            if self._state in ("running", "idle"):
                self._state = "stopped"
