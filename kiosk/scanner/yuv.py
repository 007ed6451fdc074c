"""Frames as the camera's YUV420 (I420) planes: decode the luma first, a colour-safe plane
only when the frame holds colour a code could be printed in, and colour only the code's box.

Why: a luma plane is what the decoders binarise anyway, so the RGB888 stream's three bytes a
pixel are two too many for most frames; but true luminance leaves light yellow modules faint
on a white screen. Yellow sits far below neutral in U (Cb ~ 20 against 128 for white, black
and grey), so a plane of luma plus scaled Cb (about the blue channel) shows a yellow code dark
on light. It is decoded only when luma found nothing and enough strongly yellow pixels are
there. The catch, measured in docs/benchmarks.md (scripts/bench_pi_frame.py): 4:2:0 chroma has
half the resolution, and a small yellow code can be lost with it (even a full BGR frame rebuilt
from the same I420 planes fails there), so ``camera.frame_format`` stays RGB888 by default.
"""

from __future__ import annotations

import numpy as np

from kiosk.scanner.base import Frame, Image, QrDecoder, Symbol
from kiosk.scanner.colour import colour_hint

_YELLOW_U = 88  # U below this: a strongly yellow (or orange) pixel; neutral is 128
_MIN_YELLOW = 200  # such pixels (at half resolution) before the chroma pass is worth running


def planes(array: Image, width: int, height: int) -> tuple[Image, Image, Image]:
    """Y (h x w), U and V (h/2 x w/2) views of picamera2's YUV420 array, which is
    ``(height * 3 // 2, stride)`` with each U/V row pair packed into one array row."""
    stride = array.shape[1]
    y = array[:height, :width]
    quarter = height // 4
    u = array[height : height + quarter].reshape(height // 2, stride // 2)[:, : width // 2]
    v = array[height + quarter : height + 2 * quarter].reshape(height // 2, stride // 2)
    return y, u, v[:, : width // 2]


def colour_safe(luma: Image, u: Image) -> Image | None:
    """Luma plus 1.772 x Cb (about the blue channel, where yellow is dark) at full size, or
    None when no yellow code can be in view."""
    if int(np.count_nonzero(u < _YELLOW_U)) < _MIN_YELLOW:
        return None
    cb = u.repeat(2, axis=0).repeat(2, axis=1).astype(np.int16) - 128
    plane = luma.astype(np.int16) + ((cb * 227) >> 7)  # 227/128 = 1.773
    return np.clip(plane, 0, 255).astype(np.uint8)


def decode_frame(decoder: QrDecoder, frame: Frame) -> list[Symbol]:
    """The symbols in a frame: its image, then (YUV frames) the colour-safe plane if needed."""
    symbols = decoder.decode(frame.image)
    if symbols or frame.chroma is None:
        return symbols
    plane = colour_safe(frame.image, frame.chroma[0])
    return [] if plane is None else decoder.decode(plane)


def frame_colour(frame: Frame, bbox: tuple[int, int, int, int]) -> str:
    """``colour_hint`` of a code's box; a YUV frame is converted to BGR in that box only, at
    the chroma planes' half resolution (the hint samples about 64x64 points anyway)."""
    if frame.chroma is None:
        return colour_hint(frame.image, bbox)
    u, v = frame.chroma
    x, y, w, h = bbox
    x0, y0 = max(0, x) // 2, max(0, y) // 2
    x1, y1 = min(u.shape[1], (x + w) // 2), min(u.shape[0], (y + h) // 2)
    if x1 <= x0 or y1 <= y0:
        return "other"
    luma = frame.image[2 * y0 : 2 * y1 : 2, 2 * x0 : 2 * x1 : 2].astype(np.float32)
    cb = u[y0:y1, x0:x1].astype(np.float32) - 128
    cr = v[y0:y1, x0:x1].astype(np.float32) - 128
    bgr = np.stack(  # BT.601 full range, as libcamera's sYCC
        (luma + 1.772 * cb, luma - 0.344136 * cb - 0.714136 * cr, luma + 1.402 * cr), axis=-1
    )
    box = np.clip(bgr, 0, 255).astype(np.uint8)
    return colour_hint(box, (0, 0, x1 - x0, y1 - y0))
