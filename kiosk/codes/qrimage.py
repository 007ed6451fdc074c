"""QR images as files: read codes with zxing-cpp, write a pass as PNG with segno (lazy imports)."""

from __future__ import annotations

from pathlib import Path


def read_qr_texts(path: Path) -> list[str]:
    """Every QR code's text in the image file at ``path`` (empty if none could be read).

    OSError if the file cannot be opened, ValueError if it is not an image.
    """
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            grey = img.convert("L")
    except UnidentifiedImageError as exc:
        raise ValueError(f"{path}: not an image file") from exc
    found = zxingcpp.read_barcodes(
        grey,
        formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
        text_mode=zxingcpp.TextMode.Plain,
    )
    return [b.text for b in found if b.valid]


def write_qr_png(text: str, path: Path, scale: int = 6) -> None:
    """Write ``text`` as a QR code PNG; alphanumeric mode keeps Base45 passes compact."""
    import segno

    segno.make_qr(text, error="m").save(str(path), scale=scale, border=4)
