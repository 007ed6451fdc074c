"""QR decoding with ZBar through pyzbar; only ASCII texts are trusted (ZBar guesses charsets)."""

from __future__ import annotations

import ctypes
import logging

import numpy as np
from pyzbar import pyzbar

from kiosk.scanner.base import (
    QR_FORMAT,
    Image,
    Symbol,
    Validator,
    accepted,
    ascii_text,
    bbox_of,
    usable,
)

logger = logging.getLogger(__name__)


def grey(image: Image) -> Image:
    """True luminance (ITU-R BT.601 weights) of a BGR image, or the image if already grey."""
    if image.ndim == 2:
        return image
    weighted = image.astype(np.uint16) @ np.array([29, 150, 77], np.uint16)
    return (weighted >> 8).astype(np.uint8)


def read(
    image: Image, validator: Validator | None = None, offset: tuple[int, int] = (0, 0)
) -> list[Symbol]:
    """Run ZBar once on a grey image (QR only).

    ZBar turns the code's bytes into text with a guessed charset and gets Shift_JIS and GB2312
    wrong, so a read that is not plain ASCII is dropped rather than risked.
    """
    try:
        found = pyzbar.decode(np.ascontiguousarray(image), symbols=[pyzbar.ZBarSymbol.QRCODE])
    except (pyzbar.PyZbarError, ValueError, TypeError, ctypes.ArgumentError) as exc:
        logger.warning("pyzbar failed on a frame: %s", exc)
        return []
    symbols = []
    for code in found:
        text = code.data.decode("utf-8", errors="replace")
        if not ascii_text(text) or not accepted(text, validator):
            continue
        points = [(offset[0] + p.x, offset[1] + p.y) for p in code.polygon]
        symbols.append(Symbol(text, QR_FORMAT, bbox_of(points)))
    return symbols


class PyzbarDecoder:
    """ZBar alone, once per frame, on true luminance (ZBar reads no inverted codes)."""

    name = "pyzbar"

    def __init__(self, validator: Validator | None = None) -> None:
        self._validator = validator

    def decode(self, image: Image) -> list[Symbol]:
        frame = usable(image)
        return [] if frame is None else read(grey(frame), self._validator)
