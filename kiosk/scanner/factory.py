"""Build the configured frame source and decoder; the only place that maps names to classes."""

from __future__ import annotations

import threading

from kiosk.config import CameraSection
from kiosk.scanner.base import CameraUnavailable, Frame, FrameSource, QrDecoder, Validator

DECODERS = ("auto", "zxing", "pyzbar")


def make_decoder(name: str, validator: Validator | None = None) -> QrDecoder:
    """``auto``, ``zxing`` or ``pyzbar``; ``validator`` rejects texts that are not a payload."""
    if name == "auto":
        from kiosk.scanner.auto import AutoDecoder

        return AutoDecoder(validator)
    if name == "zxing":
        from kiosk.scanner.zxing import ZxingDecoder

        return ZxingDecoder(validator)
    if name == "pyzbar":
        from kiosk.scanner.zbar import PyzbarDecoder

        return PyzbarDecoder(validator)
    raise ValueError(f"unknown decoder {name!r}; expected one of {', '.join(DECODERS)}")


class MissingLibrary:
    """The configured camera's library is not installed: every ``open()`` says so (the scan
    worker shows it as a missing camera and keeps retrying, ``kiosk doctor`` fails the row)."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def open(self) -> None:
        raise CameraUnavailable(self._reason)

    def read(self) -> Frame | None:
        return None

    def close(self) -> None: ...


def make_source(camera: CameraSection, stop: threading.Event) -> FrameSource:
    """The camera named by ``camera.source``; nothing is opened until ``open()``."""
    try:
        return _source(camera, stop)
    except ImportError as exc:  # OpenCV is optional (kiosk.scanner.cv); picamera2 never needs it
        return MissingLibrary(str(exc))


def _source(camera: CameraSection, stop: threading.Event) -> FrameSource:
    if camera.source == "picamera2":
        from kiosk.scanner.picamera import Picamera2Source

        return Picamera2Source(
            camera.camera_num, camera.width, camera.height, camera.fps, camera.frame_format
        )
    if camera.source == "opencv":
        from kiosk.scanner.opencv import OpenCvSource

        return OpenCvSource(
            camera.device,
            stop,
            camera.width,
            camera.height,
            camera.fps,
            camera.fourcc,
            camera.reconnect_min_s,
            camera.reconnect_max_s,
        )
    if camera.source == "replay":
        from kiosk.scanner.replay import ReplaySource

        assert camera.replay_path is not None  # noqa: S101 - CameraSection.__post_init__ checks
        return ReplaySource(camera.replay_path, stop, camera.fps, camera.replay_loop)
    from kiosk.scanner.synthetic import SyntheticSource

    return SyntheticSource(stop, camera.width, camera.height, camera.fps, camera.synthetic_seed)
