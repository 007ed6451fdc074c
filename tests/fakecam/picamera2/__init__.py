"""A stand-in for picamera2 with its behaviour when no camera is attached: ``Picamera2(n)``
raises ``IndexError`` (libcamera's camera list is empty) until the file named by
``$FAKECAM_PRESENT`` exists; then it delivers grey 640x480 frames with a QR code of
``$FAKECAM_TEXT`` (if set), or the frames a benchmark writes to ``$FAKECAM_FRAMES``
(tests/fakecam/framefeed.py). Used by tests that put this folder on ``PYTHONPATH`` or in
``sys.modules``. Only the calls kiosk/scanner/picamera.py makes are here."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

attempts = 0  # Picamera2() calls, for tests in the same process


def _present() -> bool:
    flag = os.environ.get("FAKECAM_PRESENT")
    return bool(flag) and Path(flag).exists()


def _frame(size: tuple[int, int], fmt: str) -> Any:
    width, height = size
    image = np.full((height, width, 3), 200, np.uint8)
    text = os.environ.get("FAKECAM_TEXT")
    if text:
        import segno

        modules = np.array(segno.make_qr(text, error="m").matrix, np.uint8)
        side = modules.shape[0] * 6
        cells = modules.repeat(6, axis=0).repeat(6, axis=1)
        y, x = (height - side) // 2, (width - side) // 2
        image[y : y + side, x : x + side] = np.where(cells[..., None] == 1, 20, 245)
    if fmt == "YUV420":
        grey = image[:, :, 0]
        chroma = np.full((height // 2, width), 128, np.uint8)
        return np.concatenate([grey, chroma])
    return image


class Picamera2:
    def __init__(self, camera_num: int = 0) -> None:
        global attempts
        attempts += 1
        if not _present():
            raise IndexError("list index out of range")  # what picamera2 raises: no camera
        self.camera_controls: dict[str, Any] = {}
        self._main: dict[str, Any] = {}
        self._fps = 15.0
        self._due = 0.0
        self._index = 0
        self._feed: Any = None
        self.started = False

    def create_video_configuration(
        self, main: dict[str, Any], controls: dict[str, Any] | None = None, **_: Any
    ) -> dict[str, Any]:
        return {"main": main, "controls": controls or {}}

    def configure(self, config: dict[str, Any]) -> None:
        self._main = config["main"]
        self._fps = float(config["controls"].get("FrameRate", 15.0))
        feed = os.environ.get("FAKECAM_FRAMES")
        if feed:
            from framefeed import FrameFeed  # beside this package on PYTHONPATH

            self._feed = FrameFeed(Path(feed), *self._main["size"])

    def set_controls(self, controls: dict[str, Any]) -> None: ...

    def start(self) -> None:
        self.started = True

    def capture_array(self, name: str = "main") -> Any:
        if not _present():
            raise RuntimeError("Camera frontend has timed out!")  # unplugged while running
        # like a sensor at FrameRate: wait for the next frame (queue=False), never a stale one
        now = time.monotonic()
        self._due = max(self._due + 1 / self._fps, now)
        time.sleep(self._due - now)
        fmt = self._main.get("format", "RGB888")
        if self._feed is not None:
            self._index += 1
            frame = self._feed.read(self._index, fmt)
            if frame is not None:
                return frame
        return _frame(self._main["size"], fmt)

    def stop(self) -> None:
        self.started = False

    def close(self) -> None: ...
