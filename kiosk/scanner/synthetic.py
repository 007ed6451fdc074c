"""A simulated camera: a phone showing whatever ``show()`` last asked for, rendered live."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from typing import Any

from kiosk.scanner.base import Frame
from kiosk.scanner.render import Scene, random_scene, render


class SyntheticSource:
    """Renders frames at ``fps`` (0: as fast as asked) from the current scene.

    ``show(text, colour=..., dark=..., **scene_fields)`` puts a new phone in front of the
    camera (random pose, blur, glare and exposure unless given as Scene fields);
    ``show(None)`` leaves an empty doorway. Thread-safe: the demo's visitor script calls
    ``show()`` from its own thread while the scan worker reads.
    """

    def __init__(
        self, stop: threading.Event, width: int = 640, height: int = 480, fps: float = 15.0,
        seed: int = 1,
    ) -> None:  # fmt: skip
        self._stop = stop
        self._size = (width, height)
        self._fps = fps
        self._rng = random.Random(seed)  # noqa: S311 - image synthesis
        self._lock = threading.Lock()
        self._scene = Scene(text=None, phone=False, seed=seed)
        self._index = 0
        self._next_due = 0.0

    def show(
        self, text: str | None, colour: str = "green", dark: bool = False, **scene: Any
    ) -> Scene:
        """Change what the camera sees from now on; returns the scene that will be rendered."""
        with self._lock:
            base = random_scene(self._rng, text, colour, dark)
            if text is None:
                base = dataclasses.replace(base, phone=False)
            self._scene = dataclasses.replace(base, **scene)
            return self._scene

    def open(self) -> None:
        self._next_due = time.monotonic()

    def read(self) -> Frame | None:
        if self._fps > 0:
            if self._stop.wait(max(0.0, self._next_due - time.monotonic())):
                return None
            self._next_due = max(self._next_due + 1.0 / self._fps, time.monotonic())
        with self._lock:
            scene = self._scene
        jitter = random.Random(self._index).uniform(-1.5, 1.5)  # noqa: S311 - a shaking hand
        image = render(
            dataclasses.replace(scene, rotation_deg=scene.rotation_deg + jitter), *self._size
        )
        self._index += 1
        return Frame(image, time.monotonic(), self._index)

    def close(self) -> None:
        return None
