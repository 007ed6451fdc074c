"""V4L2/USB cameras (or anything ``cv2.VideoCapture`` opens), reconnecting when they vanish."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kiosk.scanner.base import Frame
from kiosk.scanner.cv import cv2

logger = logging.getLogger(__name__)


class OpenCvSource:
    """A camera by index (``"0"``) or path (``"/dev/video0"``), asked for MJPG, the size and the
    fps; the driver keeps one buffer so a read returns a fresh frame, not a queued one.

    When the camera cannot be opened or a read fails (unplugged, driver error), ``read()``
    returns ``None`` and the camera is reopened after ``reconnect_min_s``, doubling up to
    ``reconnect_max_s`` while it stays away; the first good frame resets the back-off.
    Waits end early when ``stop`` is set.
    """

    def __init__(
        self,
        device: str,
        stop: threading.Event,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        fourcc: str = "MJPG",
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 10.0,
    ) -> None:
        self._device = device
        self._stop = stop
        self._size = (width, height)
        self._fps = fps
        self._fourcc = fourcc
        self._min = reconnect_min_s
        self._max = reconnect_max_s
        self._cap: Any = None  # cv2.VideoCapture while connected
        self._backoff = reconnect_min_s
        self._retry_at = 0.0
        self._index = 0
        self.reconnects = 0  # successful reopenings after a loss (read by tests and health)

    def open(self) -> None:
        self._retry_at = 0.0
        self._connect()

    def read(self) -> Frame | None:
        if self._cap is None:
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                self._stop.wait(min(wait, 0.5))
                return None
            if not self._connect():
                return None
        ok, image = self._cap.read()
        if not ok or image is None:
            logger.warning("camera %s: read failed; reconnecting", self._device)
            self._lost()
            return None
        self._backoff = self._min
        self._index += 1
        return Frame(image, time.monotonic(), self._index)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _connect(self) -> bool:
        target: int | str = int(self._device) if self._device.isdigit() else self._device
        v4l2 = isinstance(target, int) or self._device.startswith("/dev/video")
        cap = cv2.VideoCapture(target, cv2.CAP_V4L2) if v4l2 else cv2.VideoCapture(target)
        if not cap.isOpened():
            cap.release()
            logger.warning(
                "camera %s: cannot open; next try in %.1f s", self._device, self._backoff
            )
            self._schedule_retry()
            return False
        if v4l2:
            if self._fourcc:
                cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*self._fourcc))
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self._size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self._size[1])
            cap.set(cv2.CAP_PROP_FPS, self._fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if self._index > 0:
            self.reconnects += 1
        logger.info(
            "camera %s: open at %dx%d",
            self._device,
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self._cap = cap
        return True

    def _lost(self) -> None:
        self.close()
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self._max)
