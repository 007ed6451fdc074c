"""Simulated gate outputs: record every switch in memory, for the demo and the status page."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from kiosk.config import GateSection
from kiosk.gate.signals import Output

logger = logging.getLogger(__name__)


class SimulatedOutputs:
    """An ``Opener`` whose outputs remember each change as ``(monotonic time, role, on)``.

    Pass an instance as ``Gate(section, stop, opener=SimulatedOutputs())``; ``changes()``
    returns what happened so far. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changes: list[tuple[float, str, bool]] = []
        self._state: dict[str, bool] = {}

    def __call__(self, section: GateSection) -> Mapping[str, Output]:
        return {role: _SimulatedOutput(self, role) for role in section.pins()}

    def changes(self) -> list[tuple[float, str, bool]]:
        with self._lock:
            return list(self._changes)

    def is_on(self, role: str) -> bool:
        with self._lock:
            return self._state.get(role, False)

    def record(self, role: str, on: bool) -> None:
        with self._lock:
            if self._state.get(role, False) == on:
                return
            self._state[role] = on
            self._changes.append((time.monotonic(), role, on))
        logger.debug("simulated gate: %s %s", role, "on" if on else "off")


class _SimulatedOutput:
    def __init__(self, owner: SimulatedOutputs, role: str) -> None:
        self._owner = owner
        self._role = role

    def on(self) -> None:
        self._owner.record(self._role, True)

    def off(self) -> None:
        self._owner.record(self._role, False)

    def close(self) -> None:
        self._owner.record(self._role, False)
