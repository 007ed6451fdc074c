"""A camera made of files: an image, a folder of images or a video, paced like a live camera."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from kiosk.scanner.base import EndOfStream, Frame
from kiosk.scanner.cv import cv2
from kiosk.scanner.images import VIDEO_SUFFIXES, ImageError, image_files, load_image

logger = logging.getLogger(__name__)


class ReplaySource:
    """Frames from ``path``. With ``fps`` > 0 a frame is due every 1/fps s and a late reader
    gets the frame due now (older ones are skipped, as a live camera would); ``fps`` = 0 gives
    every frame at once, in order. At the end: start again if ``loop``, else ``EndOfStream``.
    Unreadable pictures in a folder are skipped with a warning.
    """

    def __init__(self, path: Path, stop: threading.Event, fps: float = 0.0, loop: bool = False):
        self._path = path
        self._stop = stop
        self._fps = fps
        self._loop = loop
        self._files: list[Path] = []
        self._video: Any = None  # cv2.VideoCapture
        self._next = 0  # index of the next frame
        self._start = 0.0

    def open(self) -> None:
        if not self._path.exists():
            raise FileNotFoundError(f"replay path {self._path} does not exist")
        if self._path.is_file() and self._path.suffix.lower() in VIDEO_SUFFIXES:
            self._video = cv2.VideoCapture(str(self._path))
            if not self._video.isOpened():
                raise OSError(f"cannot open video {self._path}")
        else:
            self._files = list(image_files([self._path]))
            if not self._files:
                raise FileNotFoundError(f"no pictures in {self._path}")
        self._next = 0
        self._start = time.monotonic()

    def read(self) -> Frame | None:
        if self._video is None and not self._files:
            raise EndOfStream(f"{self._path} is not open")
        if self._fps > 0:
            due = self._start + self._next / self._fps
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return None
            behind = int((time.monotonic() - self._start) * self._fps) - self._next
            self._skip(max(0, behind))
        frame = self._video_frame() if self._video is not None else self._file_frame()
        self._next += 1
        return frame

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None
        self._files = []

    def _skip(self, count: int) -> None:
        for _ in range(count):
            if self._video is not None:
                self._video.grab()
            self._next += 1

    def _video_frame(self) -> Frame | None:
        ok, image = self._video.read()
        if not ok or image is None:
            if not self._loop:
                raise EndOfStream(f"end of {self._path}")
            self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._restart()
            ok, image = self._video.read()
            if not ok or image is None:
                raise EndOfStream(f"{self._path} yields no frames")
        return Frame(image, time.monotonic(), self._next)

    def _file_frame(self) -> Frame | None:
        if self._next >= len(self._files):
            if not self._loop:
                raise EndOfStream(f"end of {self._path}")
            self._restart()
        path = self._files[self._next % len(self._files)]
        try:
            image = load_image(path)
        except ImageError as exc:
            logger.warning("replay: skipping %s", exc)
            return None
        return Frame(image, time.monotonic(), self._next)

    def _restart(self) -> None:
        self._next = 0
        self._start = time.monotonic()
