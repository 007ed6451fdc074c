"""Raspberry Pi cameras through picamera2 (apt package ``python3-picamera2``, imported lazily)."""

from __future__ import annotations

import logging
import time
from typing import Any

from kiosk.scanner.base import CameraUnavailable, Frame

logger = logging.getLogger(__name__)


class Picamera2Source:
    """A video configuration with one small ``RGB888`` stream (BGR bytes, as OpenCV and the
    decoders expect) at the decoding size.

    Why not the YUV420 ``lores`` stream: on a Pi 4 it is the only lores format, and its
    luminance plane alone loses yellow codes; the ISP scales and converts for free, so a
    640x480 colour stream costs the CPU nothing extra. ``queue=False`` makes every
    ``capture_array`` wait for a fresh frame instead of returning a queued old one. Continuous
    autofocus is switched on where the camera has it (Camera Module 3).
    """

    def __init__(self, camera_num: int = 0, width: int = 640, height: int = 480, fps: float = 15.0):
        self._num = camera_num
        self._size = (width, height)
        self._fps = fps
        self._cam: Any = None
        self._index = 0

    def open(self) -> None:
        try:
            from picamera2 import Picamera2  # hardware library: imported only here, only on a Pi
        except ImportError as exc:
            raise CameraUnavailable(
                f"picamera2 is not installed ({exc}): sudo apt install python3-picamera2 "
                "(the venv must see system packages)"
            ) from exc
        try:
            cam = Picamera2(self._num)
        except IndexError as exc:  # libcamera lists no camera with this number
            raise CameraUnavailable(
                f"no camera {self._num} found by libcamera (none attached, ribbon loose, "
                "or camera_auto_detect off)"
            ) from exc
        try:
            config = cam.create_video_configuration(
                main={"size": self._size, "format": "RGB888"},
                controls={"FrameRate": self._fps},
                buffer_count=4,
                queue=False,
            )
            cam.configure(config)
            if "AfMode" in cam.camera_controls:
                cam.set_controls({"AfMode": 2})  # continuous
            cam.start()
        except Exception:
            cam.close()  # release the camera for the next attempt
            raise
        self._cam = cam
        logger.info("picamera2 %d: started at %dx%d", self._num, *self._size)

    def read(self) -> Frame | None:
        if self._cam is None:
            return None
        image = self._cam.capture_array("main")
        self._index += 1
        return Frame(image[:, :, :3], time.monotonic(), self._index)

    def close(self) -> None:
        if self._cam is not None:
            cam, self._cam = self._cam, None
            cam.stop()
            cam.close()
