"""OpenCV, an optional part: USB cameras, video replays, image files and the synthetic camera
need it; the picamera2 path does not. Import ``cv2`` from here to get a message that says how
to install it when it is missing."""

from __future__ import annotations

MISSING = (
    "OpenCV (cv2) is not installed: on a Raspberry Pi `sudo apt install python3-opencv` "
    "(the venv sees system packages), elsewhere `pip install 'checkpoint-kiosk[opencv]'`; "
    'the Pi camera (camera.source = "picamera2") works without it'
)

try:
    import cv2
except ImportError as exc:
    raise ImportError(MISSING) from exc

__all__ = ["MISSING", "cv2"]
