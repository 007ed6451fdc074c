"""``kiosk scan PATH...``: decode QR codes in picture files, one JSON line per picture."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from kiosk.cli import Commands, Context
from kiosk.cli.output import emit


def register(commands: Commands) -> None:
    scan = commands.add(
        "scan", "识别图片中的二维码 / decode QR codes in pictures (files or folders)", _scan
    )
    scan.add_argument(
        "--decoder", choices=["auto", "zxing", "pyzbar"], default="auto", help="default auto"
    )
    scan.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH",
        help="picture files, or folders walked for png, jpg, jpeg, bmp and webp",
    )  # fmt: skip


def _scan(args: argparse.Namespace, ctx: Context) -> int:
    from kiosk.scanner.colour import colour_hint
    from kiosk.scanner.factory import make_decoder

    try:
        from kiosk.scanner.images import ImageError, image_files, load_image
    except ImportError as exc:  # OpenCV reads the picture files
        print(f"scan: {exc}", file=sys.stderr)
        return 2

    decoder = make_decoder(args.decoder)
    failures = 0
    for path in image_files(args.paths):
        if ctx.stop.is_set():
            break
        try:
            image = load_image(path)
        except ImageError as exc:
            failures += 1
            print(f"scan: 无法读取图片 / {exc}", file=sys.stderr)
            emit({"file": str(path), "codes": [], "ms": None, "error": str(exc)})
            continue
        started = time.perf_counter()
        symbols = decoder.decode(image)
        ms = (time.perf_counter() - started) * 1000
        codes = [
            {"text": s.text, "format": s.format, "colour": colour_hint(image, s.bbox)}
            for s in symbols
        ]
        emit({"file": str(path), "codes": codes, "ms": round(ms, 3)})
    return 1 if failures else 0
