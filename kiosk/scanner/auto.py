"""The ``auto`` decoder: one plain zxing-cpp call first, and further passes only on frames where
it found nothing, so ``auto`` never reads less than the library alone; reads that disagree are
dropped."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kiosk.scanner import zbar, zxing
from kiosk.scanner.base import Image, Symbol, Validator, overlaps, usable

#: Luminance weights (B, G, R) in 1/256 that keep yellow, green and red codes dark on white.
_COLOUR_SAFE = np.array([77, 150, 29], np.uint16)
_MAX_HINTS = 2  # rescue at most this many regions per frame; a visitor shows one code
_SMALL = 240  # regions narrower than this are upscaled twice before the rescue passes
#: Frames whose long side exceeds this get the scale pyramid: area-averaged halvings down to it.
PYRAMID_FROM = 1000
PYRAMID_TO = 500

#: The passes in the order they run; each runs only if every earlier one found nothing.
PASSES = ("zxing", "colour", "pyramid", "threshold", "rescue")


@dataclass(frozen=True)
class AutoRead:
    """What ``auto`` found in a frame and which pass found it (``None``: nothing found)."""

    symbols: list[Symbol]
    found_by: str | None


class AutoDecoder:
    """zxing-cpp first, exactly as the library reads by default; then, on frames where that
    found nothing, passes that each address one known weakness:

    1. ``zxing``: one zxing-cpp call with library defaults (QR Model 2 only) on the frame as
       the camera delivers it. Whatever it reads is the answer: ``auto`` ⊇ zxing-cpp.
    2. ``colour``: the same on a colour-safe luminance (blue weighted, red almost ignored), where
       true luminance leaves a yellow code on a white screen almost invisible.
    3. ``pyramid``: large frames (a high-resolution photo) on the colour-safe luminance,
       area-averaged down by halves, each level read as it is and sharpened: averaging removes
       the sensor noise and JPEG ringing of a dim high-resolution photo that zxing's own
       downscaling (by thirds) keeps.
    4. ``threshold``: a global threshold at half resolution (a code under uneven light).
    5. ``rescue``: only where zxing saw a QR symbol it could not decode: that region sharpened,
       upscaled if small, read by zxing-cpp and by ZBar (straight and inverted); rescue reads
       that disagree about a region are all dropped.

    An empty frame costs passes 1, 2 and 4 (and 3 on a large frame). Stateless: one instance
    may serve several threads.
    """

    name = "auto"

    def __init__(self, validator: Validator | None = None) -> None:
        self._validator = validator

    def decode(self, image: Image) -> list[Symbol]:
        return self.read(image).symbols

    def read(self, image: Image) -> AutoRead:
        """The symbols and the pass that found them."""
        frame = usable(image)
        if frame is None:
            return AutoRead([], None)
        hints: list[tuple[int, int, int, int]] = []
        passes: list[tuple[str, Callable[[Image, list[tuple[int, int, int, int]]], list[Symbol]]]]
        passes = [
            ("zxing", self._library),
            ("colour", self._colour),
            ("pyramid", self._pyramid),
            ("threshold", self._threshold),
            ("rescue", self._rescue_hints),
        ]
        for name, step in passes:
            found = step(frame, hints)
            if found:
                return AutoRead(found, name)
        return AutoRead([], None)

    def _library(self, frame: Image, _hints: list[tuple[int, int, int, int]]) -> list[Symbol]:
        return zxing.read(frame, self._validator, library_defaults=True).symbols

    def _colour(self, frame: Image, hints: list[tuple[int, int, int, int]]) -> list[Symbol]:
        if frame.ndim == 2:
            return []
        result = zxing.read(zxing.view(frame, swap=True), self._validator)
        hints += result.hints
        return result.symbols

    def _pyramid(self, frame: Image, hints: list[tuple[int, int, int, int]]) -> list[Symbol]:
        if max(frame.shape[:2]) <= PYRAMID_FROM:
            return []
        scale = 1.0
        level = _colour_safe(frame)
        while max(level.shape[:2]) > PYRAMID_FROM:
            level = _halve(level)
            scale *= 2.0
            if max(level.shape[:2]) < PYRAMID_TO:
                break
            for plane in (level, _sharpen(level)):
                result = zxing.read(plane, self._validator, scale=scale)
                hints += result.hints
                if result.symbols:
                    return result.symbols
        return []

    def _threshold(self, frame: Image, hints: list[tuple[int, int, int, int]]) -> list[Symbol]:
        result = zxing.read(
            zxing.view(frame, swap=True, step=2), self._validator, scale=2.0, global_histogram=True
        )
        hints += result.hints
        return result.symbols

    def _rescue_hints(self, frame: Image, hints: list[tuple[int, int, int, int]]) -> list[Symbol]:
        found: list[Symbol] = []
        for box in _merge(hints)[:_MAX_HINTS]:
            found += self._rescue(frame, box)
        return found

    def _rescue(self, image: Image, box: tuple[int, int, int, int]) -> list[Symbol]:
        """Every rescue treatment on one region; the reads must agree or none is returned."""
        crop, (x0, y0) = _region(image, box)
        factor = 2 if max(crop.shape[:2]) < _SMALL else 1
        lum = zbar.grey(crop)
        safe = _colour_safe(crop)
        if factor > 1:
            lum, safe = _upscale(lum, factor), _upscale(safe, factor)
        scale = 1.0 / factor
        reads: list[Symbol] = []
        for plane in (_sharpen(safe), lum):
            reads += zxing.read(plane, self._validator, scale=scale, offset=(x0, y0)).symbols
        for plane in (lum, 255 - lum):
            reads += [_scaled(s, scale, (x0, y0)) for s in zbar.read(plane, self._validator)]
        return settle(reads)


def settle(reads: list[Symbol]) -> list[Symbol]:
    """One symbol per region: reads of overlapping regions must all have the same text, or the
    region yields nothing (a disagreement means at least one of them is a misread)."""
    groups: list[list[Symbol]] = []
    for read in reads:
        for group in groups:
            if any(overlaps(read.bbox, other.bbox) for other in group):
                group.append(read)
                break
        else:
            groups.append([read])
    return [group[0] for group in groups if len({s.text for s in group}) == 1]


def _merge(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Boxes that overlap become their union, largest first."""
    merged: list[tuple[int, int, int, int]] = []
    for box in boxes:
        for i, other in enumerate(merged):
            if overlaps(box, other):
                x, y = min(box[0], other[0]), min(box[1], other[1])
                right = max(box[0] + box[2], other[0] + other[2])
                bottom = max(box[1] + box[3], other[1] + other[3])
                merged[i] = (x, y, right - x, bottom - y)
                break
        else:
            merged.append(box)
    return sorted(merged, key=lambda b: b[2] * b[3], reverse=True)


def _region(image: Image, box: tuple[int, int, int, int]) -> tuple[Image, tuple[int, int]]:
    """The box with a margin of half its size (the quiet zone and a misplaced corner)."""
    x, y, w, h = box
    mx, my = w // 2 + 8, h // 2 + 8
    x0, y0 = max(0, x - mx), max(0, y - my)
    x1, y1 = min(image.shape[1], x + w + mx), min(image.shape[0], y + h + my)
    return image[y0:y1, x0:x1], (x0, y0)


def _colour_safe(image: Image) -> Image:
    if image.ndim == 2:
        return image
    return ((image.astype(np.uint16) @ _COLOUR_SAFE) >> 8).astype(np.uint8)


def _upscale(plane: Image, factor: int) -> Image:
    return np.ascontiguousarray(plane.repeat(factor, axis=0).repeat(factor, axis=1))


def _sharpen(plane: Image) -> Image:
    """Unsharp mask with a 5x5 box blur: restores module edges softened by focus or motion."""
    padded = np.pad(plane.astype(np.int32), 2, mode="edge")
    acc = np.cumsum(np.cumsum(padded, axis=0), axis=1)
    acc = np.pad(acc, ((1, 0), (1, 0)))
    h, w = plane.shape
    box = (acc[5 : 5 + h, 5 : 5 + w] - acc[:h, 5 : 5 + w] - acc[5 : 5 + h, :w] + acc[:h, :w]) / 25
    return np.clip(plane * 2.0 - box, 0, 255).astype(np.uint8)


def _scaled(symbol: Symbol, scale: float, offset: tuple[int, int]) -> Symbol:
    x, y, w, h = symbol.bbox
    bbox = (offset[0] + int(x * scale), offset[1] + int(y * scale), int(w * scale), int(h * scale))
    return Symbol(symbol.text, symbol.format, bbox)


def _halve(plane: Image) -> Image:
    """Half size by averaging each 2×2 block (what OpenCV's INTER_AREA does for exactly half),
    in numpy: the decoder must not need OpenCV, which the Pi camera path leaves out."""
    height, width = plane.shape[0] // 2 * 2, plane.shape[1] // 2 * 2
    p = plane[:height, :width].astype(np.uint16)
    total = p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2]
    return np.asarray((total + 2) // 4, np.uint8)
