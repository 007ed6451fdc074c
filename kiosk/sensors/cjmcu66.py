"""CJMCU-90614 UART protocol (experimental): ``66 66 MODE 04 D1 D2 CS`` frames, ``66 66 cmd 56``.

Unverified on hardware: the checksum is either the sum of the four data bytes or of the whole
frame (both seen in public sources), and which value is the object temperature is unsettled;
both are config options. Accepting either checksum would let one corrupted byte in 256 through.
"""

from __future__ import annotations

import struct
from typing import Literal

from kiosk.model import Reading
from kiosk.sensors.base import ParserStats
from kiosk.sensors.framing import FrameScanner, sum8

HEADER = b"\x66\x66"
MODES = (0x01, 0x02)  # continuous, query
CONTINUOUS = b"\x66\x66\x01\x56"
QUERY = b"\x66\x66\x02\x56"

Order = Literal["object-ambient", "ambient-object"]
ChecksumScope = Literal["data", "frame"]


def _frame_len(head: bytes) -> int | None:
    return 9 if head[2] in MODES and head[3] == 4 else None


def _checksum(frame: bytes, scope: ChecksumScope) -> int:
    return sum8(frame[4:8]) if scope == "data" else sum8(frame[:8])


def decode_values(frame: bytes) -> tuple[float, float]:
    """The two values of a verified frame, in wire order (uint16 BE, 0.01 °C)."""
    first, second = struct.unpack_from(">HH", frame, 4)
    return first / 100, second / 100


class Cjmcu66Parser:
    """CJMCU-90614 frames; ``order`` says which value is the object temperature, ``scope``
    which bytes the checksum covers (the four data bytes, or the whole frame)."""

    def __init__(self, order: Order = "object-ambient", scope: ChecksumScope = "data") -> None:
        self.stats = ParserStats()
        self._order = order
        self._scanner = FrameScanner(
            HEADER, 4, _frame_len, lambda f: _checksum(f, scope) == f[8], self.stats
        )

    def feed(self, data: bytes, t: float) -> list[Reading]:
        readings = []
        for frame in self._scanner.feed(data):
            first, second = decode_values(frame)
            object_c, ambient_c = (
                (first, second)
                if self._order == "object-ambient"
                else (
                    second,
                    first,
                )
            )
            self.stats.frames += 1
            readings.append(Reading(object_c, ambient_c, t))
        return readings


def encode_frame(
    first_c: float, second_c: float, mode: int = 0x01, scope: ChecksumScope = "data"
) -> bytes:
    """A CJMCU frame with the two values in wire order and the chosen checksum scope."""
    data = struct.pack(">HH", round(first_c * 100), round(second_c * 100))
    head = HEADER + bytes((mode, 4))
    frame = head + data + b"\x00"
    return frame[:8] + bytes((_checksum(frame, scope),))
