"""Find checksummed binary frames in a byte stream: sync on a header, wait, verify, resync."""

from __future__ import annotations

from collections.abc import Callable

from kiosk.sensors.base import ParserStats


def sum8(data: bytes | bytearray) -> int:
    """The 8-bit additive checksum the UART modules use: sum of the bytes, low byte."""
    return sum(data) & 0xFF


class FrameScanner:
    """Cuts verified frames out of a stream; partial frames wait for the next ``feed``.

    ``frame_len(head)`` gets the first ``head_len`` bytes and returns the whole frame's length,
    or ``None`` when the head is implausible (then one byte is dropped and the search goes on).
    A frame that fails ``check`` costs one byte, not the whole frame, so a real frame hiding
    inside a corrupted one is still found.
    """

    def __init__(
        self,
        header: bytes,
        head_len: int,
        frame_len: Callable[[bytes], int | None],
        check: Callable[[bytes], bool],
        stats: ParserStats,
    ) -> None:
        self._header = header
        self._head_len = head_len
        self._frame_len = frame_len
        self._check = check
        self._stats = stats
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        stats = self._stats
        while True:
            start = buf.find(self._header)
            if start < 0:
                keep = self._partial_header(buf)
                stats.skipped_bytes += len(buf) - keep
                del buf[: len(buf) - keep]
                return frames
            if start:
                stats.skipped_bytes += start
                del buf[:start]
            if len(buf) < self._head_len:
                return frames
            length = self._frame_len(bytes(buf[: self._head_len]))
            if length is None:
                stats.frame_errors += 1
                stats.skipped_bytes += 1
                del buf[:1]
                continue
            if len(buf) < length:
                return frames
            frame = bytes(buf[:length])
            if not self._check(frame):
                stats.checksum_errors += 1
                stats.skipped_bytes += 1
                del buf[:1]
                continue
            frames.append(frame)
            del buf[:length]

    def _partial_header(self, buf: bytearray) -> int:
        """How many trailing bytes could be the start of a header split across reads."""
        header = self._header
        for keep in range(min(len(header) - 1, len(buf)), 0, -1):
            if buf[-keep:] == header[:keep]:
                return keep
        return 0


def command(lead: int, code: int) -> bytes:
    """A 3-byte host command ``lead code sum`` (``A5 45 EA``, ``FA CA C4``)."""
    return bytes((lead, code, (lead + code) & 0xFF))


class CommandScanner:
    """The device side of ``lead code sum`` commands: yields the command codes it recognises."""

    def __init__(self, lead: int) -> None:
        self.stats = ParserStats()
        self._scanner = FrameScanner(
            bytes((lead,)), 3, lambda _head: 3, lambda f: sum8(f[:2]) == f[2], self.stats
        )

    def feed(self, data: bytes) -> list[int]:
        codes = [frame[1] for frame in self._scanner.feed(data)]
        self.stats.frames += len(codes)
        return codes
