"""The thermometer boundary: parser counters, the stream parser protocol and the link protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kiosk.model import Reading

#: Wire protocols the kiosk speaks (``thermometer.protocol``).
PROTOCOLS = ("gy-mcu90614", "lu90614", "modbus", "ascii", "cjmcu66")


@dataclass
class ParserStats:
    """Counters a parser or link keeps; they only grow, the reader copies them into its health."""

    frames: int = 0  # valid frames that became readings
    checksum_errors: int = 0  # frames dropped for a bad checksum or CRC
    frame_errors: int = 0  # malformed or unexpected frames, device exceptions, no reply
    skipped_bytes: int = 0  # bytes discarded while looking for the next frame (noise)


class StreamParser(Protocol):
    """Bytes in, readings out: keeps partial frames between calls and resynchronises on noise.

    ``feed`` never raises on any input; ``t`` is the ``time.monotonic()`` stamped on readings.
    """

    stats: ParserStats

    def feed(self, data: bytes, t: float) -> list[Reading]: ...


class Link(Protocol):
    """One connection to a thermometer, used by one thread (the reader).

    ``open`` and ``read`` raise ``OSError`` when the device is missing or gone (an unplug);
    ``read`` waits at most a fraction of a second and returns the readings it got (maybe none).
    The constructor does no I/O.
    """

    stats: ParserStats

    def open(self) -> None: ...

    def read(self) -> list[Reading]: ...

    def close(self) -> None: ...
