"""The ``auto`` decoder: cheap colour-aware zxing passes on every frame, a rescue only where
zxing saw a code it could not read, and reads that disagree are dropped."""

from __future__ import annotations

import numpy as np

from kiosk.scanner import zbar, zxing
from kiosk.scanner.base import Image, Symbol, Validator, overlaps, usable

#: Luminance weights (B, G, R) in 1/256 that keep yellow, green and red codes dark on white.
_COLOUR_SAFE = np.array([77, 150, 29], np.uint16)
_MAX_HINTS = 2  # rescue at most this many regions per frame; a visitor shows one code
_SMALL = 240  # regions narrower than this are upscaled twice before the rescue passes


class AutoDecoder:
    """zxing-cpp and ZBar combined so that it reads more than either, yet an empty frame costs
    about two zxing passes.

    Every frame gets (1) zxing on a colour-safe luminance (blue weighted, red almost ignored),
    inverted codes included, then (2) zxing with a global threshold at half resolution. Only if
    zxing reported a QR symbol it failed to decode does a rescue run on that region (sharpened,
    true luminance, ZBar straight and inverted); rescue reads that disagree about a region are
    all dropped. Stateless: one instance may serve several threads.
    """

    name = "auto"

    def __init__(self, validator: Validator | None = None) -> None:
        self._validator = validator

    def decode(self, image: Image) -> list[Symbol]:
        frame = usable(image)
        if frame is None:
            return []
        image = frame
        hints: list[tuple[int, int, int, int]] = []
        first = zxing.read(zxing.view(image, swap=True), self._validator)
        if first.symbols:
            return first.symbols
        hints += first.hints
        second = zxing.read(
            zxing.view(image, swap=True, step=2), self._validator, scale=2.0, global_histogram=True
        )
        if second.symbols:
            return second.symbols
        hints += second.hints
        found: list[Symbol] = []
        for box in _merge(hints)[:_MAX_HINTS]:
            found += self._rescue(image, box)
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
