"""Simulator scenarios: what is in front of the simulated thermometer, second by second."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Fault = Literal[
    "none",
    "noise",  # random bytes before every frame or reply
    "bad_checksum",  # every second frame or reply has a wrong checksum or CRC
    "split",  # every frame or reply arrives in pieces
    "garbage",  # random bytes instead of frames (a wrong baud rate looks like this)
    "silence",  # nothing at all (a module pulled off a GPIO UART)
    "unplug",  # the port disappears for the phase, then comes back under the same link
    "exception",  # Modbus: every second request gets exception 04 (device failure)
    "no_reply",  # request/response protocols: requests go unanswered
]

AMBIENT_C = 24.9
IDLE_C = 24.3  # nobody in front: the sensor sees the room, a little below ambient
FOREVER = math.inf


@dataclass(frozen=True)
class Phase:
    """``seconds`` of an object temperature ramping ``start_c`` → ``end_c`` with ``jitter_c``."""

    seconds: float
    start_c: float
    end_c: float
    ambient_c: float = AMBIENT_C
    jitter_c: float = 0.0
    fault: Fault = "none"


@dataclass(frozen=True)
class Scenario:
    """A sequence of phases; the last one lasts for ever."""

    name: str
    phases: tuple[Phase, ...]

    def at(self, elapsed: float) -> tuple[float, float, float, Fault]:
        """(object °C, ambient °C, jitter °C, fault) ``elapsed`` seconds into the scenario."""
        for phase in self.phases[:-1]:
            if elapsed < phase.seconds:
                return _point(phase, elapsed)
            elapsed -= phase.seconds
        return _point(self.phases[-1], elapsed)

    @property
    def seconds(self) -> float:
        """How long until the last (endless) phase starts."""
        return sum(p.seconds for p in self.phases[:-1])


def _point(phase: Phase, elapsed: float) -> tuple[float, float, float, Fault]:
    if math.isinf(phase.seconds) or phase.seconds <= 0:
        share = 1.0
    else:
        share = min(1.0, elapsed / phase.seconds)
    value = phase.start_c + (phase.end_c - phase.start_c) * share
    return value, phase.ambient_c, phase.jitter_c, phase.fault


def idle(fault: Fault = "none") -> Phase:
    return Phase(FOREVER, IDLE_C, IDLE_C, jitter_c=0.05, fault=fault)


def visitor(object_c: float = 36.5, fault: Fault = "none", settle_s: float = 2.0) -> Scenario:
    """Someone steps up (0.6 s), holds still for ``settle_s``, leaves (0.4 s); then idle."""
    return Scenario(
        f"visitor {object_c:.2f}",
        (
            Phase(0.5, IDLE_C, IDLE_C, jitter_c=0.05, fault=fault),
            Phase(0.6, 28.0, object_c, jitter_c=0.05, fault=fault),
            Phase(settle_s, object_c, object_c, jitter_c=0.04, fault=fault),
            Phase(0.4, object_c, 27.0, jitter_c=0.05, fault=fault),
            idle(),
        ),
    )


def _named() -> dict[str, Scenario]:
    def faulty(name: str, fault: Fault) -> Scenario:
        return Scenario(name, visitor(36.5, fault).phases)

    return {
        "idle": Scenario("idle", (idle(),)),
        "visitor": visitor(36.5),
        "fever": Scenario("fever", visitor(37.9, settle_s=2.5).phases),
        "hair": Scenario(
            "hair",
            (
                Phase(0.5, IDLE_C, IDLE_C, jitter_c=0.05),
                Phase(0.6, 28.0, 32.6, jitter_c=0.05),
                Phase(2.5, 32.6, 32.6, jitter_c=0.05),
                Phase(0.4, 32.6, 27.0, jitter_c=0.05),
                idle(),
            ),
        ),
        "noise": faulty("noise", "noise"),
        "bad_checksum": faulty("bad_checksum", "bad_checksum"),
        "split": faulty("split", "split"),
        "garbage": Scenario("garbage", (idle("garbage"),)),
        "silence": Scenario(
            "silence", (Phase(0.5, IDLE_C, IDLE_C, jitter_c=0.05), idle("silence"))
        ),
        "unplug": Scenario(
            "unplug",
            (
                Phase(0.5, IDLE_C, IDLE_C, jitter_c=0.05),
                Phase(1.5, IDLE_C, IDLE_C, fault="unplug"),
                Phase(1.0, IDLE_C, IDLE_C, jitter_c=0.05),
                *visitor(36.5).phases[1:],
            ),
        ),
        "exception": faulty("exception", "exception"),
        "no_reply": Scenario(
            "no_reply", (Phase(0.5, IDLE_C, IDLE_C, jitter_c=0.05), idle("no_reply"))
        ),
        "bad_crc": faulty("bad_crc", "bad_checksum"),
    }


#: Scenarios by name, for ``kiosk simulate thermometer --scenario``.
SCENARIOS = _named()


def scenario(name: str) -> Scenario:
    """A named scenario; ``visitor:37.2`` is a visitor with that forehead temperature."""
    if name.startswith("visitor:"):
        return visitor(float(name.split(":", 1)[1]))
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise ValueError(f'unknown scenario "{name}" (known: {known}, visitor:<°C>)') from None
