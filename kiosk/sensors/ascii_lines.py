"""ASCII line protocol of MCU bridges: ``TO=36.50,TA=24.90\\r\\n`` and common Arduino styles."""

from __future__ import annotations

import re
from typing import Literal

from kiosk.model import Reading
from kiosk.sensors.base import ParserStats

MAX_LINE = 256  # longer runs without a line end are noise
PAIR_WINDOW_S = 0.2  # TO and TA printed on separate lines pair within this time

_NUMBER = r"\s*[:=]\s*(-?\d{1,3}(?:\.\d+)?)"
_OBJECT = re.compile(r"(?i)\b(?:TO|T_?OBJ|OBJECT|OBJETO|BODY|TB)" + _NUMBER)
_AMBIENT = re.compile(r"(?i)\b(?:TA|T_?AMB|AMBIENT|AMBIENTE)" + _NUMBER)
_KEY = re.compile(r"(?i)\b(?:TO|T_?OBJ|OBJECT|OBJETO|BODY|TB|TA|T_?AMB|AMBIENT|AMBIENTE)\s*[:=]")
_FAHRENHEIT = re.compile(r"(?i)(?:\*|°|º|deg\s?)F\b")
_SEPARATOR = re.compile(rb"[\r\n]")

OBJECT_RANGE = (-70.0, 380.0)
AMBIENT_RANGE = (-40.0, 125.0)

Style = Literal["canonical", "adafruit", "two-line"]


def parse_line(line: str) -> tuple[float | None, float | None] | None:
    """(object, ambient) found in one line; ``None`` if it has no value or is in Fahrenheit."""
    if _FAHRENHEIT.search(line):
        return None
    obj_match, amb_match = _OBJECT.search(line), _AMBIENT.search(line)
    if obj_match is None and amb_match is None:
        return None
    obj = float(obj_match.group(1)) if obj_match else None
    amb = float(amb_match.group(1)) if amb_match else None
    if obj is not None and not OBJECT_RANGE[0] <= obj <= OBJECT_RANGE[1]:
        return None
    if amb is not None and not AMBIENT_RANGE[0] <= amb <= AMBIENT_RANGE[1]:
        return None
    return obj, amb


class AsciiLineParser:
    """Tolerant line parser: one line with both values, or TO and TA lines within 200 ms.

    Values on separate lines pair by arrival (either order). A bridge that never prints an
    ambient value yields readings with ``ambient_c = None``, one line late; once a stream has
    shown ambient values, an object value without one is dropped. Lines
    without a temperature count as noise, lines with a key but no usable value (Fahrenheit,
    out of range) as frame errors.
    """

    def __init__(self) -> None:
        self.stats = ParserStats()
        self._buf = bytearray()
        self._seen_ambient = False
        self._pending_object: tuple[float, float] | None = None  # (value, t)
        self._pending_ambient: tuple[float, float] | None = None

    def feed(self, data: bytes, t: float) -> list[Reading]:
        self._buf += data
        parts = _SEPARATOR.split(bytes(self._buf))
        tail = parts.pop()
        if len(tail) > MAX_LINE:
            self.stats.frame_errors += 1
            self.stats.skipped_bytes += len(tail)
            tail = b""
        self._buf = bytearray(tail)
        readings: list[Reading] = []
        for raw in parts:
            if raw:
                self._line(raw, t, readings)
        return readings

    def _line(self, raw: bytes, t: float, out: list[Reading]) -> None:
        line = raw[:MAX_LINE].decode("ascii", errors="replace")
        has_key = _KEY.search(line) is not None
        values = parse_line(line)
        if values is None:
            if has_key:
                self.stats.frame_errors += 1
            else:
                self.stats.skipped_bytes += len(raw)
            return
        obj, amb = values
        if amb is not None:
            self._seen_ambient = True
        if obj is not None and amb is not None:
            self._pending_object = self._pending_ambient = None
            self._emit(Reading(obj, amb, t), out)
        elif obj is not None:
            ambient = self._fresh(self._pending_ambient, t)
            if ambient is not None:
                self._pending_ambient = None
                self._emit(Reading(obj, ambient, t), out)
                return
            if self._pending_object is not None:
                if self._seen_ambient:
                    self.stats.frame_errors += 1  # an object value that never found its ambient
                else:  # a bridge that prints no ambient at all
                    self._emit(Reading(self._pending_object[0], None, self._pending_object[1]), out)
            self._pending_object = (obj, t)
        elif amb is not None:
            obj_before = self._fresh(self._pending_object, t)
            if obj_before is not None:
                self._pending_object = None
                self._emit(Reading(obj_before, amb, t), out)
                return
            self._pending_ambient = (amb, t)

    @staticmethod
    def _fresh(pending: tuple[float, float] | None, t: float) -> float | None:
        """The pending value if it arrived within the pairing window, else ``None``."""
        if pending is not None and t - pending[1] <= PAIR_WINDOW_S:
            return pending[0]
        return None

    def _emit(self, reading: Reading, out: list[Reading]) -> None:
        self.stats.frames += 1
        out.append(reading)


def encode_line(object_c: float, ambient_c: float, style: Style = "canonical") -> bytes:
    """What a bridge prints for these temperatures, in one of the known styles."""
    if style == "adafruit":
        return f"Ambient = {ambient_c:.2f}*C\tObject = {object_c:.2f}*C\r\n".encode()
    if style == "two-line":
        return f"TO:{object_c:.2f}\r\nTA:{ambient_c:.2f}\r\n".encode()
    return f"TO={object_c:.2f},TA={ambient_c:.2f}\r\n".encode()
