"""The colour of a code's modules (green/yellow/red/other): evidence beside a verification."""

from __future__ import annotations

import numpy as np

from kiosk.scanner.base import Image

_MIN_CHROMA = 50  # max-min channel spread (0-255) that counts as coloured
_MIN_VALUE = 80  # brightest channel below this is black, whatever its tint
_MIN_SHARE = 0.08  # coloured pixels needed in the code's box, as a share of its area


def colour_hint(image: Image, bbox: tuple[int, int, int, int]) -> str:
    """``green``, ``yellow`` or ``red`` when the box holds enough pixels of one hue, else
    ``other`` (black, grey, washed out, or not a colour a health code uses).

    Looks only at coloured pixels, so it works for dark codes on a white screen and for light
    modules on a dark-mode screen alike; white, grey and black pixels carry no vote.
    """
    if image.ndim != 3 or image.shape[2] < 3:
        return "other"
    x, y, w, h = bbox
    # the middle 60 %: inside the code even when it is rotated, so the scene behind has no vote
    x, y, w, h = x + w // 5, y + h // 5, w - 2 * (w // 5), h - 2 * (h // 5)
    box = image[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)]
    if box.size == 0:
        return "other"
    step = max(1, min(box.shape[:2]) // 64)  # about 64x64 samples are plenty
    pixels = box[::step, ::step, :3].reshape(-1, 3).astype(np.int16)
    high, low = pixels.max(axis=1), pixels.min(axis=1)
    coloured = pixels[((high - low) >= _MIN_CHROMA) & (high >= _MIN_VALUE)]
    if len(coloured) < _MIN_SHARE * len(pixels):
        return "other"
    return _name(_hue(np.median(coloured, axis=0)))


def _hue(bgr: np.ndarray) -> float:
    """Hue in degrees (0-360) of one BGR colour."""
    b, g, r = (float(v) for v in bgr)
    high, low = max(r, g, b), min(r, g, b)
    if high == low:
        return 0.0
    span = high - low
    if high == r:
        return (60 * (g - b) / span) % 360
    if high == g:
        return 60 * (b - r) / span + 120
    return 60 * (r - g) / span + 240


def _name(hue: float) -> str:
    if hue < 20 or hue >= 330:
        return "red"
    if 35 <= hue < 70:
        return "yellow"
    if 80 <= hue < 170:
        return "green"
    return "other"
