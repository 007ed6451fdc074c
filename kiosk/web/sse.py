"""Server-Sent Events for the kiosk screen: a bounded number of streams, each of bounded life.

Every open stream holds one waitress worker thread, so streams are capped (``StreamGate``)
below the pool size and each ends after ``lifetime_s``; the browser's EventSource then
reconnects and gets the current screen first. A stream also ends within ``slice_s`` of the
server closing, and a keep-alive comment every ``keepalive_s`` makes a vanished client fail
a write so its thread is freed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from kiosk.service.status import Screen, StatusView


class StreamGate:
    """At most ``limit`` open streams; thread-safe."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open = 0
        self._lock = threading.Lock()

    def try_open(self) -> bool:
        with self._lock:
            if self._open >= self._limit:
                return False
            self._open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._open = max(0, self._open - 1)

    @property
    def open(self) -> int:
        with self._lock:
            return self._open


def event(screen: Screen, payload: dict[str, Any]) -> str:
    """One SSE event: ``id`` is the screen version, ``data`` one line of JSON."""
    data = json.dumps({"version": screen.version, **payload}, ensure_ascii=False)
    return f"id: {screen.version}\ndata: {data}\n\n"


class ScreenStream:
    """The body of one ``/events`` response; ``close()`` (called by the WSGI server when the
    response ends or the client is gone) gives its slot back exactly once, even if iteration
    never started."""

    def __init__(
        self,
        view: StatusView,
        payload: Callable[[Screen], dict[str, Any]],
        gate: StreamGate,
        closing: threading.Event,
        *,
        lifetime_s: float,
        keepalive_s: float,
        retry_ms: int = 1000,
        slice_s: float = 0.5,
    ) -> None:
        self._view = view
        self._payload = payload
        self._gate = gate
        self._closing = closing
        self._lifetime_s = lifetime_s
        self._keepalive_s = keepalive_s
        self._retry_ms = retry_ms
        self._slice_s = slice_s
        self._released = False
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[str]:
        return self._run()

    def _run(self) -> Iterator[str]:
        start = time.monotonic()
        deadline = start + self._lifetime_s
        screen = self._view.screen()
        yield f"retry: {self._retry_ms}\n\n" + event(screen, self._payload(screen))
        last, last_write = screen.version, time.monotonic()
        while not self._closing.is_set():
            now = time.monotonic()
            if now >= deadline:
                return
            screen = self._view.wait_screen(last, min(self._slice_s, deadline - now))
            if screen.version != last:
                last, last_write = screen.version, time.monotonic()
                yield event(screen, self._payload(screen))
            elif time.monotonic() - last_write >= self._keepalive_s:
                last_write = time.monotonic()
                yield ": keep-alive\n\n"

    def close(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._gate.release()
