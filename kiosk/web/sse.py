"""Server-Sent Events for the kiosk screen: a bounded number of streams, each of bounded life.

Every open stream holds one waitress worker thread, so streams are capped (``StreamGate``)
below the pool size and per client, with one kept for the kiosk's own screen; each ends
after ``lifetime_s``; the browser's EventSource then reconnects and gets the current
screen first. A stream also ends within ``slice_s`` of the server closing, and a keep-alive
comment every ``keepalive_s`` makes a vanished client fail a write so its thread is freed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from kiosk.service.status import Screen, StatusView


class StreamGate:
    """At most ``limit`` open streams, one of them kept for the kiosk's own screen, and at
    most ``per_client`` for any other client address; thread-safe.

    A local client (the attached display) takes the reserved slot first, then a shared one;
    nobody else can take the reserved slot. When every slot is taken, a new local stream
    supersedes the oldest reserved one (the display reconnected; its old stream may not be
    noticed as gone until the next write), so the screen always gets its stream at once.
    """

    def __init__(self, limit: int, *, per_client: int | None = None, reserved: int = 1) -> None:
        self._reserved = min(reserved, limit)
        self._shared = limit - self._reserved
        self._per_client = limit if per_client is None else per_client
        self._local: list[StreamSlot] = []
        self._shared_open = 0
        self._by_client: dict[str, int] = {}
        self._lock = threading.Lock()

    def try_open(self, client: str, *, local: bool) -> StreamSlot | None:
        """A slot for one stream, or None when the client may not open another now."""
        with self._lock:
            if local and len(self._local) < self._reserved:
                return self._take_reserved(client)
            held = self._by_client.get(client, 0)
            if (local or held < self._per_client) and self._shared_open < self._shared:
                self._shared_open += 1
                self._by_client[client] = held + 1
                return StreamSlot(self, client, reserved=False)
            if local and self._local:
                self._local.pop(0).supersede()
                return self._take_reserved(client)
            return None

    def _take_reserved(self, client: str) -> StreamSlot:
        slot = StreamSlot(self, client, reserved=True)
        self._local.append(slot)
        return slot

    def _release(self, slot: StreamSlot) -> None:
        with self._lock:
            if slot.reserved:
                if slot in self._local:
                    self._local.remove(slot)
                return
            self._shared_open = max(0, self._shared_open - 1)
            held = self._by_client.get(slot.client, 0) - 1
            if held > 0:
                self._by_client[slot.client] = held
            else:
                self._by_client.pop(slot.client, None)

    @property
    def open(self) -> int:
        with self._lock:
            return len(self._local) + self._shared_open


class StreamSlot:
    """One open stream's place in the gate; ``release()`` gives it back exactly once.
    ``superseded`` is set when a newer local stream took this reserved place: end the stream."""

    def __init__(self, gate: StreamGate, client: str, *, reserved: bool) -> None:
        self.client = client
        self.reserved = reserved
        self.superseded = threading.Event()
        self._gate: StreamGate | None = gate
        self._lock = threading.Lock()

    def supersede(self) -> None:
        """Called by the gate under its lock: the place is already given to another."""
        with self._lock:
            self._gate = None
        self.superseded.set()

    def release(self) -> None:
        with self._lock:
            gate, self._gate = self._gate, None
        if gate is not None:
            gate._release(self)


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
        slot: StreamSlot,
        closing: threading.Event,
        *,
        lifetime_s: float,
        keepalive_s: float,
        retry_ms: int = 1000,
        slice_s: float = 0.5,
    ) -> None:
        self._view = view
        self._payload = payload
        self._slot = slot
        self._closing = closing
        self._lifetime_s = lifetime_s
        self._keepalive_s = keepalive_s
        self._retry_ms = retry_ms
        self._slice_s = slice_s

    def __iter__(self) -> Iterator[str]:
        return self._run()

    def _run(self) -> Iterator[str]:
        start = time.monotonic()
        deadline = start + self._lifetime_s
        screen = self._view.screen()
        yield f"retry: {self._retry_ms}\n\n" + event(screen, self._payload(screen))
        last, last_write = screen.version, time.monotonic()
        while not self._closing.is_set() and not self._slot.superseded.is_set():
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
        self._slot.release()
