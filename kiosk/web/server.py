"""Serve the web app with waitress on a thread of its own, with a clean stop."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ThreadedTaskDispatcher

from kiosk.web.state import EXTENSION, WebState

logger = logging.getLogger(__name__)

POLL_S = 0.2  # how often the serving loop looks at the stop flag


class WebServer:
    """waitress serving ``app`` on ``host:port`` (port 0 picks a free one, see ``port``).

    The constructor does no I/O; ``start()`` binds (raising ``OSError`` if the address is
    taken) and starts the serving thread; ``stop()`` ends open screen streams, closes every
    connection from the serving thread itself, stops waitress's workers and joins. The
    thread pool holds ``threads`` workers; the app caps its screen streams below that.
    """

    def __init__(self, app: Flask, host: str, port: int, *, threads: int = 8) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.threads = threads
        self._server: BaseWSGIServer | None = None
        self._map: dict[int, Any] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

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
            )
        except OSError:
            self._close_all()  # waitress leaves its wake-up pipe and socket open on failure
            dispatcher.shutdown(cancel_pending=True, timeout=1)
            raise
        assert isinstance(server, BaseWSGIServer)  # noqa: S101 - one host, one listener
        self._server = server
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
        self._close_all()
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)

    def _close_all(self) -> None:
        for channel in list(self._map.values()):
            channel.close()
        self._map.clear()

    def stop(self, timeout: float = 10.0) -> None:
        state = self.app.extensions.get(EXTENSION)
        if isinstance(state, WebState):
            state.closing.set()
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("web: server thread did not end within %.0f s", timeout)
            self._thread = None

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
