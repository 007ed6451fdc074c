"""LU90614 UART protocol: ``FA cmd sum`` requests, ``FE {AA|AC} int frac r r r r SUM`` replies."""

from __future__ import annotations

from typing import Literal

from kiosk.model import Reading
from kiosk.sensors.base import ParserStats
from kiosk.sensors.framing import FrameScanner, command, sum8

HEADER = b"\xfe"
COMMAND_LEAD = 0xFA
BODY_MODE = command(COMMAND_LEAD, 0xC5)  # FA C5 BF: the module's own skin-to-body conversion
OBJECT_MODE = command(COMMAND_LEAD, 0xC6)  # FA C6 C0: raw object ("material") temperature
MEASURE = command(COMMAND_LEAD, 0xCA)  # FA CA C4: measure and reply once

INSTR = {"object": 0xAA, "body": 0xAC}
MAX_C = 150.0  # the module's range; more is a corrupted frame (an ESP32 driver does the same)

Mode = Literal["object", "body"]


def _frame_len(head: bytes) -> int | None:
    return 9 if head[1] in (0xAA, 0xAC) else None


def _check(frame: bytes) -> bool:
    return sum8(frame[:8]) == frame[8]


def decode_temperature(frame: bytes) -> float | None:
    """T = DataH + DataL/100 from a verified reply; ``None`` when DataL is not 0-99 or T > 150."""
    whole, hundredths = frame[2], frame[3]
    if hundredths > 99:
        return None
    value = whole + hundredths / 100
    return value if value <= MAX_C else None


class Lu90614Parser:
    """LU90614 replies; the module reports no ambient, so ``Reading.ambient_c`` is ``None``.

    Replies in the other mode than ``mode`` are frame errors: a module that silently reset to
    body mode must not pass its converted value off as an object temperature.
    """

    def __init__(self, mode: Mode = "object") -> None:
        self.stats = ParserStats()
        self._instr = INSTR[mode]
        self._scanner = FrameScanner(HEADER, 2, _frame_len, _check, self.stats)

    def feed(self, data: bytes, t: float) -> list[Reading]:
        readings = []
        for frame in self._scanner.feed(data):
            value = decode_temperature(frame)
            if value is None or frame[1] != self._instr:
                self.stats.frame_errors += 1
                continue
            self.stats.frames += 1
            readings.append(Reading(value, None, t))
        return readings


def encode_reply(temp_c: float, mode: Mode = "object") -> bytes:
    """The module's reply for ``temp_c`` (0-150 °C) in ``mode``."""
    hundredths = round(temp_c * 100)
    body = bytes((0xFE, INSTR[mode], hundredths // 100, hundredths % 100, 0, 0, 0, 0))
    return body + bytes((sum8(body),))
