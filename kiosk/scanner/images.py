"""Image files: walking folders, loading pictures, the ``NAME.txt`` answers beside test photos."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.scanner.base import Image
from kiosk.scanner.cv import cv2

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".mjpeg", ".mjpg", ".webm")


class ImageError(Exception):
    """A file that could not be read as a picture; the message says why."""


def image_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, folders walked in name order for picture files."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
            )
        else:
            yield path


def load_image(path: Path) -> Image:
    """A BGR picture; ``ImageError`` if it is missing, unreadable or not a picture."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if data.size == 0:
        raise ImageError(f"{path} is empty")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ImageError(f"{path} is not a picture OpenCV can decode")
    return np.ascontiguousarray(image, dtype=np.uint8)


@dataclass(frozen=True)
class Sample:
    """A test photo and the texts that count as a correct read (none: no code in it)."""

    path: Path
    expected: tuple[str, ...]


def labelled(folder: Path) -> list[Sample]:
    """Pictures of a corpus folder with their answers: ``NAME.txt`` and ``NAME.alt.txt``,
    UTF-8, compared byte for byte (no stripping)."""
    samples = []
    for path in image_files([folder]):
        texts = []
        for suffix in (".txt", ".alt.txt"):
            answer = path.with_suffix(suffix)
            if answer.exists():
                texts.append(answer.read_bytes().decode("utf-8"))
        samples.append(Sample(path, tuple(texts)))
    return samples
