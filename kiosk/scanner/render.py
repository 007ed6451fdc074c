"""Render a QR code on a simulated phone screen as a camera sees it (demo, tests, benchmark)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

import numpy as np
import zxingcpp
from numpy.typing import NDArray

from kiosk.scanner.cv import cv2

Image = NDArray[np.uint8]

#: Module colours as RGB ranges (low, high) for light mode, and the lighter tint used in dark mode.
_LIGHT: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "green": ((0, 150, 60), (40, 190, 100)),
    "yellow": ((245, 195, 0), (255, 225, 30)),
    "red": ((210, 0, 20), (240, 30, 50)),
    "black": ((0, 0, 0), (40, 40, 40)),
}
_DARK: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "green": ((60, 200, 110), (110, 235, 150)),
    "yellow": ((240, 205, 40), (255, 230, 90)),
    "red": ((235, 90, 80), (255, 130, 120)),
    "black": ((195, 195, 195), (235, 235, 235)),
}
COLOURS = tuple(_LIGHT)


@dataclass(frozen=True)
class Scene:
    """What the camera sees: a phone showing ``text`` as a QR code (``None``: no code on screen).

    ``code_px`` is the code's side in frame pixels; ``tilt`` (0-0.35) the perspective strength;
    ``glare`` (0-1) a reflection on the screen; ``brightness`` the screen's as the camera
    sees it (above 1: over-exposed, clipped); ``phone=False``
    leaves only the background (an empty doorway).
    """

    text: str | None = None
    colour: str = "green"
    dark: bool = False
    code_px: int = 200
    rotation_deg: float = 0.0
    tilt: float = 0.0
    blur_px: float = 0.0
    glare: float = 0.0
    brightness: float = 1.0
    noise: float = 2.0
    jpeg_quality: int | None = None
    phone: bool = True
    seed: int = 0


def qr_modules(text: str, ec_level: str = "M") -> NDArray[np.bool_]:
    """The code's module matrix (True = dark module), without quiet zone."""
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=ec_level)
    return np.asarray(code.to_image(scale=1, add_quiet_zones=False)) < 128


def render(scene: Scene, width: int = 640, height: int = 480) -> Image:
    """The frame as BGR ``uint8`` (OpenCV order), deterministic for a given scene."""
    rng = random.Random(scene.seed)  # noqa: S311 - image synthesis, not security
    frame = _background(rng, width, height)
    if scene.phone:
        screen, code_box = _screen(scene, rng)
        _place(frame, screen, code_box, scene, rng)
    if scene.blur_px > 0:
        frame = np.asarray(cv2.GaussianBlur(frame, (0, 0), scene.blur_px), np.uint8)
    if scene.noise > 0:
        grain = np.random.default_rng(scene.seed).normal(0.0, scene.noise, frame.shape)
        frame = np.clip(frame + grain, 0, 255).astype(np.uint8)
    if scene.jpeg_quality is not None:
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, scene.jpeg_quality])
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            frame = np.asarray(decoded, np.uint8)
    return np.ascontiguousarray(frame, dtype=np.uint8)


def random_scene(
    rng: random.Random, text: str | None, colour: str, dark: bool, code_px: int | None = None
) -> Scene:
    """A plausible hand-held phone: the mix the benchmark and the synthetic camera use."""
    return Scene(
        text=text,
        colour=colour,
        dark=dark,
        code_px=code_px if code_px is not None else rng.randint(100, 320),
        rotation_deg=rng.uniform(-25, 25),
        tilt=rng.uniform(0.0, 0.3),
        blur_px=rng.choice((0.0, 0.0, 0.6, 1.0, 1.4)),
        glare=rng.choice((0.0, 0.0, 0.3, 0.5)),
        brightness=rng.uniform(0.55, 1.0) if dark else rng.uniform(0.8, 1.5),
        noise=rng.uniform(1.0, 5.0),
        jpeg_quality=rng.choice((None, 85, 60)),
        seed=rng.randrange(1 << 30),
    )


def _rgb(
    rng: random.Random, span: tuple[tuple[int, int, int], tuple[int, int, int]]
) -> tuple[int, ...]:
    lo, hi = span
    if lo[0] == lo[1] == lo[2] and hi[0] == hi[1] == hi[2]:  # a neutral ink stays neutral
        return (rng.randint(lo[0], hi[0]),) * 3
    r, g, b = (rng.randint(a, z) for a, z in zip(lo, hi, strict=True))
    return (b, g, r)  # BGR


def _background(rng: random.Random, width: int, height: int) -> Image:
    """A doorway: a lit wall gradient with a few darker shapes."""
    top = np.array([rng.randint(90, 200) for _ in range(3)], np.float32)
    bottom = np.array([rng.randint(40, 160) for _ in range(3)], np.float32)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    frame = (top * (1 - ramp) + bottom * ramp).repeat(width, axis=1).astype(np.uint8)
    for _ in range(rng.randint(2, 6)):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randint(20, width // 2), rng.randint(20, height // 2)
        shade = tuple(rng.randint(20, 230) for _ in range(3))
        cv2.rectangle(frame, (x, y), (x + w, y + h), shade, -1)
    return frame


def _screen(scene: Scene, rng: random.Random) -> tuple[Image, tuple[int, int, int, int]]:
    """The phone's screen (with bezel) upright, and the code's box on it (x, y, w, h)."""
    table = _DARK if scene.dark else _LIGHT
    ink = _rgb(rng, table.get(scene.colour, table["black"]))
    page = (rng.randint(14, 34),) * 3 if scene.dark else (rng.randint(238, 255),) * 3
    side = max(2 * scene.code_px, 60)  # draw at twice the final size, then scale down
    quiet = side // 10
    width = side + 2 * quiet + side // 4
    height = int(width * 1.9)
    bezel = max(4, width // 25)
    canvas = np.zeros((height + 2 * bezel, width + 2 * bezel, 3), np.uint8)
    canvas[:] = (rng.randint(5, 25),) * 3
    canvas[bezel:-bezel, bezel:-bezel] = page
    x0 = bezel + (width - side) // 2
    y0 = bezel + int(height * 0.28)
    cv2.rectangle(canvas, (bezel, bezel), (bezel + width, bezel + height // 9), ink, -1)  # header
    for i in range(3):  # lines of text under the code
        y = y0 + side + quiet + i * (side // 10)
        cv2.rectangle(canvas, (x0, y), (x0 + side * (5 - i) // 5, y + side // 20), ink, -1)
    if scene.text is not None:
        modules = qr_modules(scene.text)
        cells = cv2.resize(
            modules.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST
        ).astype(bool)
        canvas[y0 : y0 + side, x0 : x0 + side][cells] = ink
    if scene.brightness != 1.0:  # a dimmed screen, or one the camera over-exposes (clipped)
        canvas = np.clip(canvas * scene.brightness, 0, 255).astype(np.uint8)
    return canvas, (x0, y0, side, side)


def _place(
    frame: Image,
    screen: Image,
    code_box: tuple[int, int, int, int],
    scene: Scene,
    rng: random.Random,
) -> None:
    """Warp the screen into the frame so the code is ``code_px`` wide, rotated and tilted."""
    fh, fw = frame.shape[:2]
    sh, sw = screen.shape[:2]
    scale = scene.code_px / code_box[2]
    theta = math.radians(scene.rotation_deg)
    cos, sin = math.cos(theta), math.sin(theta)
    cx, cy = code_box[0] + code_box[2] / 2, code_box[1] + code_box[3] / 2  # code centre
    corners = np.array([(0, 0), (sw, 0), (sw, sh), (0, sh)], np.float32)
    squeeze = [1 - scene.tilt * rng.uniform(0.5, 1.0), 1.0]  # one edge further away
    rng.shuffle(squeeze)
    target = []
    for x, y in corners:
        dx, dy = (x - cx) * scale, (y - cy) * scale
        dx *= squeeze[0] if dy < 0 else squeeze[1]
        target.append((dx * cos - dy * sin, dx * sin + dy * cos))
    half = scene.code_px * 0.75
    px = rng.uniform(min(half, fw / 2), max(fw - half, fw / 2))
    py = rng.uniform(min(half, fh / 2), max(fh - half, fh / 2))
    dst = np.array([(x + px, y + py) for x, y in target], np.float32)
    matrix = cv2.getPerspectiveTransform(corners, dst)
    warped = np.asarray(
        cv2.warpPerspective(screen, matrix, (fw, fh), flags=cv2.INTER_AREA), np.uint8
    )
    mask = np.asarray(
        cv2.warpPerspective(np.full((sh, sw), 255, np.uint8), matrix, (fw, fh)), np.uint8
    )
    if scene.glare > 0:
        _glare(warped, mask, scene.glare, rng)
    inside = mask > 127
    frame[inside] = warped[inside]


def _glare(image: Image, mask: Image, strength: float, rng: random.Random) -> None:
    """A soft reflection: blend a Gaussian spot on the screen towards white."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return
    i = rng.randrange(len(xs))
    cx, cy = float(xs[i]), float(ys[i])
    sigma = max(10.0, math.sqrt(len(xs)) * rng.uniform(0.15, 0.35))
    yy, xx = np.ogrid[: image.shape[0], : image.shape[1]]
    spot = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma * sigma)) * strength
    lifted = image + (255.0 - image) * spot[..., None]
    np.copyto(image, lifted.astype(np.uint8))


def sample_payload(rng: random.Random) -> str:
    """A made-up health-code payload of realistic length: a verification URL with a token."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    token = "".join(rng.choice(alphabet) for _ in range(rng.randint(22, 48)))
    return f"https://hc.example.gov.cn/v?c={token}"


def coloured_set(per_group: int, seed: int) -> list[tuple[str, str, Image]]:
    """The benchmark's synthetic set: ``per_group`` frames for each colour in light and dark
    mode, as (group such as ``yellow-dark``, expected text, frame)."""
    rng = random.Random(seed)  # noqa: S311 - image synthesis, not security
    frames = []
    for colour in COLOURS:
        for dark in (False, True):
            group = f"{colour}-{'dark' if dark else 'light'}"
            for _ in range(per_group):
                text = sample_payload(rng)
                frames.append((group, text, render(random_scene(rng, text, colour, dark))))
    return frames


def high_resolution_set(count: int, seed: int) -> list[tuple[str, str, Image]]:
    """Photos as a phone's 12 MP main camera takes them in a dim doorway: 4032x3024, the code
    150-400 px wide, strong sensor noise, some blur, JPEG; as (``high-res``, text, frame)."""
    rng = random.Random(seed)  # noqa: S311 - image synthesis, not security
    frames = []
    for _ in range(count):
        text = sample_payload(rng)
        scene = random_scene(
            rng, text, rng.choice(COLOURS), rng.random() < 0.3, rng.randint(150, 400)
        )
        scene = replace(
            scene,
            blur_px=rng.choice((1.0, 2.0, 3.0)),
            noise=rng.uniform(20, 45),
            jpeg_quality=rng.choice((90, 75, 50)),
        )
        frames.append(("high-res", text, render(scene, 4032, 3024)))
    return frames
