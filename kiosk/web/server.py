"""Serve the web app with waitress on a thread of its own: guarded against hostile clients,
watched by the supervisor like any worker, and stopped cleanly."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ThreadedTaskDispatcher

from kiosk.config.web import RESERVED_CONNECTIONS, WebSection
from kiosk.web.guard import Admission, ConnectionGuard
from kiosk.web.state import EXTENSION, WebState

logger = logging.getLogger(__name__)

POLL_S = 0.2  # how often the serving loop looks at the stop flag and sweeps slow requests
#: waitress refuses a declared body this size or larger before reading it (Flask's own limit
#: is 16 KiB), and stops reading a chunked body at it; nothing is spooled to disk.
MAX_BODY = 16 * 1024 + 1
MAX_HEADERS = 32 * 1024


@dataclass(frozen=True)
class WebHealth:
    """The serving loop's progress (``time.monotonic()``), for the supervisor and /healthz."""

    state: str
    last_progress: float
    connections: int
    refused: int
    cut_off: int
    queued: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "connections": self.connections,
            "refused": self.refused,
            "cut_off": self.cut_off,
            "queued": self.queued,
        }


def admission(web: WebSection) -> Admission:
    return Admission(
        screen_addresses=web.screen_addresses,
        total=web.max_connections,
        per_client=web.connections_per_client,
        reserved=RESERVED_CONNECTIONS,
        request_timeout_s=web.request_timeout_s,
    )


class WebServer:
    """waitress serving ``app`` on ``host:port`` (port 0 picks a free one, see ``port``).

    The constructor does no I/O; ``start()`` binds (raising ``OSError`` if the address is
    taken) and starts the serving thread; ``stop()`` (or setting ``stop``) ends open screen
    streams, closes every connection from the serving thread itself, stops waitress's workers
    and joins. The thread pool holds ``threads`` workers; the app caps its screen streams
    below that. Connections pass a ``ConnectionGuard`` built from the app's ``[web]`` config.

    As a supervised worker, ``health().last_progress`` advances while the serving loop turns
    and waitress's workers take the requests queued for them; a loop that died or hangs, or
    a pool that stopped taking work, goes stale.
    """

    def __init__(
        self,
        app: Flask,
        host: str,
        port: int,
        *,
        threads: int = 8,
        stop: threading.Event | None = None,
        admission_rule: Admission | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.threads = threads
        self._server: BaseWSGIServer | None = None
        self._map: dict[int, Any] = {}
        self._stopping = stop or threading.Event()
        self._thread: threading.Thread | None = None
        state = app.extensions.get(EXTENSION)
        web = state.config.web if isinstance(state, WebState) else WebSection()
        self.guard = ConnectionGuard(admission_rule or admission(web))
        self._last_progress = time.monotonic()
        self._queue_head: object = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> WebServer:
        dispatcher = ThreadedTaskDispatcher()  # ours, so that a failed bind can stop its threads
        dispatcher.set_thread_count(self.threads)
        try:
            server = create_server(
                self.app,
                map=self._map,
                _dispatcher=dispatcher,
                host=self.host,
                port=self.port,
                threads=self.threads,
                ident="kiosk",
                clear_untrusted_proxy_headers=True,
                channel_timeout=60,
                # the listener and waitress's wake-up pipe are in the map too
                connection_limit=self.guard.rule.total + 2,
                max_request_body_size=MAX_BODY,
                max_request_header_size=MAX_HEADERS,
            )
        except OSError:
            self._close_all()  # waitress leaves its wake-up pipe and socket open on failure
            dispatcher.shutdown(cancel_pending=True, timeout=1)
            raise
        assert isinstance(server, BaseWSGIServer)  # noqa: S101 - one host, one listener
        server.channel_class = self.guard.channel_factory(self._map)  # type: ignore[assignment]
        self._server = server
        self._last_progress = time.monotonic()
        self.port = int(server.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, name="web", daemon=True)
        self._thread.start()
        logger.info("web: serving on %s", self.url)
        return self

    def _serve(self) -> None:
        server = self._server
        assert server is not None  # noqa: S101 - set by start()
        while not self._stopping.is_set():
            server.asyncore.loop(timeout=POLL_S, map=self._map, use_poll=True, count=1)
            self.guard.sweep(self._map)
            self._note_progress(server)
        state = self.app.extensions.get(EXTENSION)
        if isinstance(state, WebState):
            state.closing.set()  # open screen streams end before the workers are stopped
        self._close_all()
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)

    def _note_progress(self, server: BaseWSGIServer) -> None:
        """Progress: the loop turned and the pool is not sitting on the same queued task."""
        queue = server.task_dispatcher.queue
        head = queue[0] if queue else None
        if head is None or head is not self._queue_head:
            self._last_progress = time.monotonic()
        self._queue_head = head

    def health(self) -> WebHealth:
        server = self._server
        alive = self._thread is not None and self._thread.is_alive()
        return WebHealth(
            state="serving" if alive else "stopped",
            last_progress=self._last_progress,
            connections=max(0, len(self._map) - 2),
            refused=self.guard.refused,
            cut_off=self.guard.cut_off,
            queued=0 if server is None else len(server.task_dispatcher.queue),
        )

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the serving thread; if it will not end, close the listener anyway so that
        a restarted server can bind the port. True when the thread ended."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("web: server thread did not end; closing its listener")
                listener = None if self._server is None else self._server.socket
                if listener is not None:
                    listener.close()
                return False
        return True

    def _close_all(self) -> None:
        for channel in list(self._map.values()):
            channel.close()
        self._map.clear()

    def stop(self, timeout: float = 10.0) -> None:
        state = self.app.extensions.get(EXTENSION)
        if isinstance(state, WebState):
            state.closing.set()
        self._stopping.set()
        if not self.join(timeout):
            logger.warning("web: server thread did not end within %.0f s", timeout)

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
