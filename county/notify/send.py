"""One webhook POST with a deadline for the whole attempt.

A socket timeout alone bounds each read, not the attempt: a receiver (or a proxy in the way)
that trickles its reply a byte at a time could hold its hook's queue for good, with nothing
shown on the desk. Here the connection is shut down once the attempt has run for
``timeout_s`` after connecting, and the attempt fails with ``TimeoutError``. urllib's other
handlers (proxies from the environment, redirects) stay as they are; TLS certificates are
verified with the default context.
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.error
import urllib.request
from functools import partial
from typing import Any

MAX_REPLY = 65536


class _Deadline:
    """Shuts a connected socket down ``seconds`` after ``arm()``; ``fired`` says it did."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = threading.Event()
        self._timer: threading.Timer | None = None

    def arm(self, sock: socket.socket) -> None:
        self._timer = threading.Timer(self.seconds, self._cut, (sock,))
        self._timer.daemon = True
        self._timer.start()

    def _cut(self, sock: socket.socket) -> None:
        self.fired.set()
        try:
            sock.shutdown(socket.SHUT_RDWR)  # a blocked read returns at once
        except OSError:
            pass  # closed already: the attempt is over

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class _Armed:
    """Arms the attempt's deadline as soon as the connection (TCP, then TLS) stands."""

    sock: socket.socket

    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._deadline.arm(self.sock)


class _Connection(_Armed, http.client.HTTPConnection):
    pass


class _TlsConnection(_Armed, http.client.HTTPSConnection):
    pass


class _Handler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(partial(_Connection, deadline=self._deadline), req)


class _TlsHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = partial(_TlsConnection, deadline=self._deadline)
        return self.do_open(connection, req, context=self._context)  # type: ignore[attr-defined]


def post(url: str, data: bytes, timeout_s: float) -> tuple[int, bytes]:
    """POST JSON; (HTTP status, the start of the reply). Raises ``OSError`` (``TimeoutError``
    when the attempt outlived ``timeout_s``), ``ValueError`` or ``http.client.HTTPException``."""
    deadline = _Deadline(timeout_s)
    opener = urllib.request.build_opener(_Handler(deadline), _TlsHandler(deadline))
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked by the config
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with opener.open(request, timeout=timeout_s) as reply:
            status, body = int(reply.status), reply.read(MAX_REPLY)
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""
    except (OSError, http.client.HTTPException) as exc:
        if deadline.fired.is_set():
            raise TimeoutError(f"timed out: no complete reply within {timeout_s:g} s") from exc
        raise
    finally:
        deadline.cancel()
    if deadline.fired.is_set():  # cut short: what was read may be only part of the reply
        raise TimeoutError(f"timed out: no complete reply within {timeout_s:g} s")
    return status, body
