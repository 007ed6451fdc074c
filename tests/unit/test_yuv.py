"""YUV420 camera frames (kiosk/scanner/yuv.py): picamera2's plane layout with stride padding,
luma first, the colour-safe plane only with yellow in view, colour from the code's box."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kiosk.scanner.auto import AutoDecoder
from kiosk.scanner.picamera import to_frame
from kiosk.scanner.render import Scene, render
from kiosk.scanner.yuv import colour_safe, decode_frame, frame_colour, planes

TEXT = "CP1:YUV-TEST-VISITOR-0001"


def camera_yuv(bgr: np.ndarray, stride: int) -> np.ndarray:
    """What capture_array("main") returns for YUV420: I420 rows padded to ``stride`` bytes,
    each U and V row pair packed into one array row."""
    h, w = bgr.shape[:2]
    i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    out = np.full((h * 3 // 2, stride), 77, np.uint8)  # padding that must never be read
    out[:h, :w] = i420[:h]
    for plane, start in ((0, h), (1, h + h // 4)):
        src = i420[h + plane * h // 4 : h + (plane + 1) * h // 4].reshape(h // 2, w // 2)
        dst = out[start : start + h // 4].reshape(h // 2, stride // 2)
        dst[:, : w // 2] = src
    return out


@pytest.mark.parametrize("stride", [640, 704])
def test_planes_follow_picamera2s_layout(stride: int) -> None:
    bgr = render(Scene(text=TEXT, colour="yellow", seed=3))
    y, u, v = planes(camera_yuv(bgr, stride), 640, 480)
    i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    assert y.shape == (480, 640) and u.shape == v.shape == (240, 320)
    assert np.array_equal(y, i420[:480])
    assert np.array_equal(u, i420[480:600].reshape(240, 320))
    assert np.array_equal(v, i420[600:720].reshape(240, 320))


@pytest.mark.parametrize("colour", ["green", "yellow", "red", "black"])
def test_yuv_frames_read_codes_and_their_colour(colour: str) -> None:
    bgr = render(Scene(text=TEXT, colour=colour, code_px=260, seed=5))
    frame = to_frame(camera_yuv(bgr, 640), "YUV420", (640, 480), 1.0, 1)
    symbols = decode_frame(AutoDecoder(), frame)
    assert [s.text for s in symbols] == [TEXT]
    assert frame_colour(frame, symbols[0].bbox) == ("other" if colour == "black" else colour)


def test_the_colour_safe_plane_only_with_yellow_in_view() -> None:
    grey = render(Scene(text=TEXT, colour="black", seed=2))
    y, u, _ = planes(camera_yuv(grey, 640), 640, 480)
    assert colour_safe(y, u) is None  # nothing yellow: luma is all there is to try
    yellow = render(Scene(text=TEXT, colour="yellow", seed=2))
    y, u, _ = planes(camera_yuv(yellow, 640), 640, 480)
    plane = colour_safe(y, u)
    assert plane is not None and plane.shape == (480, 640)
    assert [s.text for s in AutoDecoder().decode(plane)] == [TEXT]


def test_rgb888_frames_are_bgr() -> None:
    bgr = render(Scene(text=None, seed=1))
    frame = to_frame(np.dstack([bgr, bgr[:, :, :1]]), "RGB888", (640, 480), 0.0, 1)
    assert frame.chroma is None and frame.image.shape == (480, 640, 3)
