"""A local webhook receiver that answers as the 企业微信 / 钉钉 robots do (``{"errcode": 0}``):
what the demo prints the desk's messages with, and what the tests and the benchmark send to.

It can be told to answer slowly (``delay_s``) or to refuse (``errcode`` != 0). It is stdlib
``http.server`` on a thread; the constructor does no I/O, ``start()`` binds.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Received:
    """One POST as it arrived: path, parsed JSON body, ``time.monotonic()`` of its arrival."""

    path: str
    doc: dict[str, Any]
    at: float


class WebhookReceiver:
    """Records every JSON POST (``received``) and answers ``{"errcode": E, "errmsg": ...}``
    after ``delay_s``; ``on_message`` is called with each one (the demo prints them)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        delay_s: float = 0.0,
        errcode: int = 0,
        on_message: Callable[[Received], None] | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.delay_s = delay_s
        self.errcode = errcode
        self.on_message = on_message
        self.tls = tls  # (certificate, key) files: serve HTTPS
        self.received: list[Received] = []
        self.answered = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_BODY:
                    self.send_error(413 if length else 411)
                    return
                try:
                    doc = json.loads(self.rfile.read(length))
                except ValueError:
                    self.send_error(400)
                    return
                receiver._record(Received(self.path, doc, time.monotonic()))
                time.sleep(receiver.delay_s)
                code = receiver.errcode
                reply = json.dumps({"errcode": code, "errmsg": "ok" if code == 0 else "refused"})
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply.encode())
                except OSError:  # the sender gave up waiting (its timeout): nobody to tell
                    return
                with receiver._lock:
                    receiver.answered += 1

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the messages are what matters

        server = ThreadingHTTPServer((self.host, self.port), Handler)
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="webhook-receiver")
        self._thread.daemon = True
        self._thread.start()
        return self

    def _record(self, message: Received) -> None:
        with self._lock:
            self.received.append(message)
        if self.on_message is not None:
            self.on_message(message)

    def messages(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [m for m in self.received if path is None or m.path == path]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
