"""The gate's outputs on GPIO pins through gpiozero (the only module that imports it)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kiosk.config import GateSection
from kiosk.gate.signals import GateError, Opener, Output

logger = logging.getLogger(__name__)


class GpioOutput:
    """One ``gpiozero.OutputDevice``; gpiozero's errors become ``GateError``."""

    def __init__(self, role: str, device: Any, errors: tuple[type[BaseException], ...]) -> None:
        self.role = role
        self._device = device
        self._errors = errors

    def on(self) -> None:
        self._call("on")

    def off(self) -> None:
        self._call("off")

    def close(self) -> None:
        self._call("close")

    def _call(self, method: str) -> None:
        try:
            getattr(self._device, method)()
        except self._errors as exc:
            raise GateError(f"{self.role} {method}: {exc}") from exc


def open_outputs(section: GateSection, pin_factory: object | None = None) -> Mapping[str, Output]:
    """An ``OutputDevice`` per configured pin, all off; raises ``GateError`` (and releases
    what it opened) when a pin is invalid, busy or not accessible."""
    from gpiozero import GPIOZeroError, OutputDevice  # hardware library: only here

    errors = (GPIOZeroError, OSError)
    active_high = {
        "relay": section.relay_active_high,
        "buzzer": section.buzzer_active_high,
    }
    opened: dict[str, Output] = {}
    try:
        for role, pin in section.pins().items():
            device = OutputDevice(
                pin,
                active_high=active_high.get(role, section.leds_active_high),
                initial_value=False,
                pin_factory=pin_factory,
            )
            opened[role] = GpioOutput(role, device, errors)
            logger.debug("gate: %s on GPIO%d", role, pin)
    except errors as exc:
        for output in opened.values():
            try:
                output.close()
            except GateError as close_exc:
                logger.debug("gate: releasing after a failed open: %s", close_exc)
        raise GateError(f"GPIO{pin} ({role}): {exc}") from exc
    return opened


def gpio_opener(pin_factory: object | None = None) -> Opener:
    """Outputs on real GPIO pins through gpiozero (``pin_factory`` None = gpiozero's choice;
    tests pass ``gpiozero.pins.mock.MockFactory()``)."""

    def opener(section: GateSection) -> Mapping[str, Output]:
        return open_outputs(section, pin_factory)

    return opener
