"""``/events``: Server-Sent Events telling open desks that the alerts changed (a new alert, a
fleet alert, an acknowledgement); the page then fetches the table again.

Streams are bounded: at most ``sse_max_streams`` at once, ``sse_streams_per_client`` per
client address, each ending after ``sse_stream_s`` (the browser reconnects); a closed
stream's place is free again within ``KEEPALIVE_S``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator

from flask import Flask, Response, request

from county.desk.alerts import version
from county.store import StoreError
from county.web.auth import DeskState, requires
from kiosk.web.limiter import client_key

#: A comment this often: a client that went away fails the write, so its stream's thread and
#: place are given back within seconds (only a write tells the server a client has gone).
KEEPALIVE_S = 2.0


def register(app: Flask, state: DeskState) -> None:
    desk = state.config.desk

    @app.get("/events")
    @requires(state, "view")
    def events() -> Response:
        client = client_key(request.remote_addr or "unknown")
        slot = state.streams.try_open(client, local=False)
        if slot is None:
            return Response("too many streams\n", 503, {"Retry-After": "5"}, mimetype="text/plain")

        def stream() -> Generator[str, None, None]:
            try:
                yield "retry: 2000\n\n"
                seen: tuple[str, ...] | None = None
                end = time.monotonic() + desk.sse_stream_s
                quiet = 0.0
                while time.monotonic() < end:
                    try:
                        now = version(state.db)
                    except StoreError:
                        now = seen or ()
                    if seen is not None and now != seen:
                        yield "event: alerts\ndata: changed\n\n"
                        quiet = 0.0
                    seen = now
                    time.sleep(desk.poll_s)
                    quiet += desk.poll_s
                    if quiet >= KEEPALIVE_S:
                        yield ": keepalive\n\n"
                        quiet = 0.0
            finally:
                state.db.close()

        body = StreamBody(stream(), slot.release)
        return Response(body, mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})


class StreamBody:
    """The body of one ``/events`` response. ``close()``, which the WSGI server calls when the
    response ends or the client is gone, gives the stream's place back exactly once, also
    when the body was never iterated (a ``HEAD /events`` gets the headers only): a release
    in the generator's ``finally`` would never run then, and the place would be lost."""

    def __init__(self, body: Generator[str, None, None], release: Callable[[], None]) -> None:
        self._body = body
        self._release: Callable[[], None] | None = release
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[str]:
        return self._body

    def close(self) -> None:
        with self._lock:
            release, self._release = self._release, None
        if release is None:
            return
        try:
            self._body.close()  # ends the loop (and closes its database connection)
        finally:
            release()
