"""Frames for the fake picamera2 from another process: a file in /dev/shm with two slots of
pre-rendered frames (BGR and I420 of each), written by a benchmark outside the kiosk's cgroup
so that rendering never counts against the kiosk's CPU, as on a Pi where the ISP makes frames.

Layout: a header of three little-endian u64 (generation, active slot, frames in it), then two
slots of ``FRAMES`` frames, each BGR ``h*w*3`` bytes followed by I420 ``h*w*3/2`` bytes.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path
from typing import Any

import numpy as np

FRAMES = 8
_HEADER = struct.Struct("<QQQ")


def _frame_bytes(width: int, height: int) -> int:
    return width * height * 3 + width * height * 3 // 2


class FrameFeed:
    """One side of the feed: ``write`` (the benchmark) or ``read`` (the fake camera)."""

    def __init__(self, path: Path, width: int, height: int, create: bool = False) -> None:
        self.size = (width, height)
        self._each = _frame_bytes(width, height)
        total = _HEADER.size + 2 * FRAMES * self._each
        mode = "w+b" if create else "r+b"
        with open(path, mode) as file:
            if create:
                file.truncate(total)
            self._map = mmap.mmap(file.fileno(), total)
        self._slot = 0

    def write(self, frames: list[Any]) -> None:
        """Show these BGR frames (cycled) from now on; the I420 copies are made here."""
        import cv2

        width, height = self.size
        generation, active, _ = _HEADER.unpack_from(self._map, 0)
        slot = 1 - active if generation else 0
        for i, bgr in enumerate(frames[:FRAMES]):
            offset = self._offset(slot, i)
            yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
            self._map[offset : offset + width * height * 3] = np.ascontiguousarray(bgr).tobytes()
            self._map[offset + width * height * 3 : offset + self._each] = yuv.tobytes()
        _HEADER.pack_into(self._map, 0, generation + 1, slot, min(len(frames), FRAMES))

    def read(self, index: int, fmt: str) -> Any:
        """A copy of frame ``index`` (cycled) in ``RGB888`` (BGR bytes) or ``YUV420`` layout,
        as picamera2's ``capture_array`` returns it; ``None`` before the first write."""
        generation, slot, count = _HEADER.unpack_from(self._map, 0)
        if not generation or not count:
            return None
        width, height = self.size
        offset = self._offset(slot, index % count)
        if fmt == "YUV420":
            start = offset + width * height * 3
            flat = np.frombuffer(self._map, np.uint8, width * height * 3 // 2, start)
            return flat.reshape(height * 3 // 2, width).copy()
        flat = np.frombuffer(self._map, np.uint8, width * height * 3, offset)
        return flat.reshape(height, width, 3).copy()

    def _offset(self, slot: int, i: int) -> int:
        return _HEADER.size + (slot * FRAMES + i) * self._each

    def close(self) -> None:
        self._map.close()
