"""The scanner's boundaries: frames in (``FrameSource``), QR symbols out (``QrDecoder``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

#: A camera image: HxWx3 ``uint8`` in OpenCV's BGR order, or HxW grey.
Image = NDArray[np.uint8]

#: Says whether a decoded text is a payload the kiosk knows (e.g. a county pass or an HC1 code).
Validator = Callable[[str], bool]

#: The only symbology a health code uses; Micro QR and rMQR are left out on purpose (their weak
#: error detection turns noise into short "codes").
QR_FORMAT = "QRCode"


@dataclass(frozen=True, eq=False)
class Frame:
    """One camera image with the ``time.monotonic()`` at which it was captured. A YUV420
    camera frame has its luma as ``image`` and its half-size U and V planes as ``chroma``
    (kiosk.scanner.yuv)."""

    image: Image
    t: float
    index: int = 0
    chroma: tuple[Image, Image] | None = None


class EndOfStream(Exception):
    """A finite source (a replay without ``loop``) has no more frames."""


class CameraUnavailable(OSError):
    """The camera cannot be opened: none attached, unplugged, its library missing. The text
    says which, for the log, the status page and ``kiosk doctor``."""


class FrameSource(Protocol):
    """A camera. ``open()`` acquires the device; ``read()`` returns the newest frame, ``None``
    when there is none right now (device gone and reconnecting, stop requested), or raises
    ``EndOfStream``; ``close()`` releases the device and may be called more than once."""

    def open(self) -> None: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Symbol:
    """A decoded QR code: its text (raw: never log or store it) and its box (x, y, w, h)."""

    text: str
    format: str
    bbox: tuple[int, int, int, int]


class QrDecoder(Protocol):
    """Finds and decodes QR codes in an image; never raises, never returns a text that its
    plausibility checks or the payload validator reject."""

    name: str

    def decode(self, image: Image) -> list[Symbol]: ...


MIN_SIDE = 21  # a version-1 QR code is 21 modules wide: nothing smaller can hold one


def usable(image: object) -> Image | None:
    """The image as contiguous grey or BGR ``uint8`` (alpha dropped), or ``None`` when it is no
    picture a decoder can take: wrong type, dtype or shape, or smaller than a QR code."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        return None
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        return None
    if min(image.shape[:2]) < MIN_SIDE:
        return None
    return np.ascontiguousarray(image)


def plausible_text(text: str) -> bool:
    """Not empty and free of U+FFFD (a byte sequence that did not decode in its charset)."""
    return bool(text) and "\ufffd" not in text


def ascii_text(text: str) -> bool:
    """Printable ASCII plus tab, CR and LF: text whose charset cannot have been guessed wrong."""
    return bool(text) and all(c in "\t\r\n" or " " <= c <= "~" for c in text)


def accepted(text: str, validator: Validator | None) -> bool:
    """Plausible and, if the kiosk gave a validator, a payload it recognises."""
    if not plausible_text(text):
        return False
    if validator is None:
        return True
    try:
        return bool(validator(text))
    except Exception:  # a validator bug must neither let a code through nor crash the scanner
        return False


def bbox_of(points: list[tuple[float, float]]) -> tuple[int, int, int, int]:
    """The axis-aligned box (x, y, w, h) around a symbol's corner points."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x, y = int(min(xs)), int(min(ys))
    return x, y, int(max(xs)) - x, int(max(ys)) - y


def overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether two boxes share any area (used to tell one symbol read twice from two symbols)."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
