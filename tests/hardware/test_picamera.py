"""On a Raspberry Pi with a camera: picamera2 delivers BGR frames at the configured size."""

from __future__ import annotations

import pytest

from kiosk.scanner.auto import AutoDecoder
from kiosk.scanner.picamera import Picamera2Source

pytestmark = pytest.mark.hardware


def test_picamera2_frames() -> None:
    camera = Picamera2Source(width=640, height=480, fps=15)
    camera.open()
    try:
        frames = [camera.read() for _ in range(5)]
    finally:
        camera.close()
    assert all(f is not None for f in frames)
    first = frames[0]
    assert first is not None and first.image.shape == (480, 640, 3)
    assert [f.t for f in frames if f] == sorted(f.t for f in frames if f)
    assert isinstance(AutoDecoder().decode(first.image), list)  # a live frame decodes cleanly
