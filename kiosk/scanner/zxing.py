"""QR decoding with zxing-cpp: one configured call, and the views the ``auto`` decoder uses."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import zxingcpp

from kiosk.scanner.base import QR_FORMAT, Image, Symbol, Validator, accepted, bbox_of, usable

logger = logging.getLogger(__name__)

_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCodeModel2)


@dataclass(frozen=True)
class ZxingResult:
    """What one zxing-cpp call found: accepted symbols, and boxes where it saw a QR code it
    could not decode (checksum or format errors): a hint that a symbol is there."""

    symbols: list[Symbol]
    hints: list[tuple[int, int, int, int]]


def view(image: Image, swap: bool = False, step: int = 1) -> zxingcpp.ImageView | Image:
    """A zero-copy view of a BGR image for zxing-cpp.

    ``swap`` declares the BGR bytes as RGB, so zxing's luminance weighs blue 0.3 and red 0.11:
    yellow, green and red modules then stand out from a white screen, where true luminance
    leaves a yellow code almost invisible. ``step`` reads every n-th pixel (a cheap downscale).
    """
    if image.ndim == 2:
        if step == 1:
            return image
        return image[::step, ::step]
    fmt = zxingcpp.ImageFormat.RGB if swap else zxingcpp.ImageFormat.BGR
    height, width = image.shape[0] // step, image.shape[1] // step
    return zxingcpp.ImageView(image, width, height, fmt, image.strides[0] * step, 3 * step)


def read(
    image: zxingcpp.ImageView | Image,
    validator: Validator | None = None,
    *,
    scale: float = 1.0,
    offset: tuple[int, int] = (0, 0),
    global_histogram: bool = False,
    library_defaults: bool = False,
) -> ZxingResult:
    """Run zxing-cpp once (QR Model 2 only); boxes are mapped back by ``scale`` and ``offset``.

    ``library_defaults`` leaves every option at the library's default except the format and the
    text mode (plain: the bytes as text, where the default writes control characters as
    ``<SOH>``); it reports no hints, since asking for errors changes what the library returns.
    """
    options: dict[str, object] = {"formats": _QR, "text_mode": zxingcpp.TextMode.Plain}
    if not library_defaults:
        options["return_errors"] = True
        if global_histogram:
            options["binarizer"] = zxingcpp.Binarizer.GlobalHistogram
    try:
        found = zxingcpp.read_barcodes(image, **options)  # type: ignore[arg-type]
    except (ValueError, TypeError, RuntimeError) as exc:  # bad shape or dtype, library error
        logger.warning("zxing-cpp failed on a frame: %s", exc)
        return ZxingResult([], [])
    symbols: list[Symbol] = []
    hints: list[tuple[int, int, int, int]] = []
    for code in found:
        pos = code.position
        corners = [pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left]
        box = bbox_of([(offset[0] + p.x * scale, offset[1] + p.y * scale) for p in corners])
        if not code.valid:
            hints.append(box)
        elif accepted(code.text, validator):
            symbols.append(Symbol(code.text, QR_FORMAT, box))
    return ZxingResult(symbols, hints)


class ZxingDecoder:
    """zxing-cpp alone, once per frame, with the library's defaults (QR Model 2 only)."""

    name = "zxing"

    def __init__(self, validator: Validator | None = None) -> None:
        self._validator = validator

    def decode(self, image: Image) -> list[Symbol]:
        frame = usable(image)
        return [] if frame is None else read(frame, self._validator, library_defaults=True).symbols
