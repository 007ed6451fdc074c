"""Raspberry Pi cameras through picamera2 (apt package ``python3-picamera2``, imported lazily)."""

from __future__ import annotations

import logging
import time
from typing import Any

from kiosk.scanner.base import CameraUnavailable, Frame, Image
from kiosk.scanner.yuv import planes

logger = logging.getLogger(__name__)


class Picamera2Source:
    """A video configuration with one main stream at the decoding size, in ``frame_format``:

    - ``RGB888`` (default): BGR bytes, as OpenCV and the decoders expect; the ISP converts
      at full chroma resolution, which small yellow codes need.
    - ``YUV420``: the frame is the luma plane, with the U and V planes beside it; the scan
      worker decodes luma first and a colour-safe plane only when yellow is in view
      (kiosk/scanner/yuv.py). Cheaper per frame, but 4:2:0 chroma loses some small yellow
      codes that RGB888 reads (scripts/bench_pi_frame.py), so it is not the default.

    Not the ``lores`` stream: on a Pi 4 it is YUV420 only and a second stream costs ISP time
    for nothing here. ``queue=False`` makes every ``capture_array`` wait for a fresh frame
    instead of returning a queued old one. Continuous autofocus is switched on where the
    camera has it (Camera Module 3). Never imports cv2.
    """

    def __init__(
        self, camera_num: int = 0, width: int = 640, height: int = 480, fps: float = 15.0,
        frame_format: str = "RGB888",
    ) -> None:  # fmt: skip
        self._num = camera_num
        self._size = (width, height)
        self._fps = fps
        self._format = frame_format
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
                main={"size": self._size, "format": self._format},
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
        logger.info("picamera2 %d: started at %dx%d %s", self._num, *self._size, self._format)

    def read(self) -> Frame | None:
        if self._cam is None:
            return None
        image = self._cam.capture_array("main")
        self._index += 1
        return to_frame(image, self._format, self._size, time.monotonic(), self._index)

    def close(self) -> None:
        if self._cam is not None:
            cam, self._cam = self._cam, None
            cam.stop()
            cam.close()


def to_frame(image: Image, fmt: str, size: tuple[int, int], t: float, index: int) -> Frame:
    """A ``Frame`` from ``capture_array``'s array: BGR for RGB888, luma + chroma for YUV420."""
    if fmt == "YUV420":
        y, u, v = planes(image, *size)
        return Frame(y, t, index, chroma=(u, v))
    return Frame(image[:, :, :3], t, index)
