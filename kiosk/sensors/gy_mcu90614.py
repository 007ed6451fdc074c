"""GY-MCU90614/90615 UART protocol: ``5A 5A 45 04 TO TA SUM`` frames and ``A5 cmd sum`` commands."""

from __future__ import annotations

import struct

from kiosk.model import Reading
from kiosk.sensors.base import ParserStats
from kiosk.sensors.framing import FrameScanner, command, sum8

HEADER = b"\x5a\x5a"
TYPE_TEMPERATURE = 0x45
MAX_DATA = 32  # longer "length" bytes are noise, not a frame

COMMAND_LEAD = 0xA5
CONTINUOUS = command(COMMAND_LEAD, 0x45)  # A5 45 EA: stream frames
QUERY = command(COMMAND_LEAD, 0x15)  # A5 15 BA: answer one frame
BAUD_9600 = command(COMMAND_LEAD, 0xAE)  # stored, effective after a power cycle
BAUD_115200 = command(COMMAND_LEAD, 0xAF)
AUTOSTART_ON = command(COMMAND_LEAD, 0x51)  # stream on power-up (GY-MCU90614 default)
AUTOSTART_OFF = command(COMMAND_LEAD, 0x52)

# Ranges of the MLX90614; values outside are another GY board sharing the 5A 5A header.
OBJECT_RANGE = (-70.0, 380.0)
AMBIENT_RANGE = (-40.0, 125.0)


def _frame_len(head: bytes) -> int | None:
    length = head[3]
    return None if length > MAX_DATA else 4 + length + 1


def _check(frame: bytes) -> bool:
    return sum8(frame[:-1]) == frame[-1]


class GyMcu90614Parser:
    """Temperature frames of the GY-MCU90614/90615: object and ambient, int16 BE in 0.01 °C.

    Honours the length byte, so variants that append an ID byte after the checksum (10-byte
    frames) parse too; the extra byte is skipped. Frames of another type or length are counted
    as frame errors, never read as temperatures.
    """

    def __init__(self) -> None:
        self.stats = ParserStats()
        self._scanner = FrameScanner(HEADER, 4, _frame_len, _check, self.stats)

    def feed(self, data: bytes, t: float) -> list[Reading]:
        readings = []
        for frame in self._scanner.feed(data):
            if frame[2] != TYPE_TEMPERATURE or frame[3] != 4:
                self.stats.frame_errors += 1
                continue
            raw_object, raw_ambient = struct.unpack_from(">hh", frame, 4)
            object_c, ambient_c = raw_object / 100, raw_ambient / 100
            if not (
                OBJECT_RANGE[0] <= object_c <= OBJECT_RANGE[1]
                and AMBIENT_RANGE[0] <= ambient_c <= AMBIENT_RANGE[1]
            ):
                self.stats.frame_errors += 1
                continue
            self.stats.frames += 1
            readings.append(Reading(object_c, ambient_c, t))
        return readings


def encode_frame(object_c: float, ambient_c: float, extra: bytes = b"") -> bytes:
    """The module's frame for these temperatures (the simulator's side of the parser)."""
    body = HEADER + bytes((TYPE_TEMPERATURE, 4))
    body += struct.pack(">hh", round(object_c * 100), round(ambient_c * 100))
    return body + bytes((sum8(body),)) + extra
