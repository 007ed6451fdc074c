"""Tell systemd how the service is doing over ``$NOTIFY_SOCKET`` (sd_notify), or do nothing."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

logger = logging.getLogger(__name__)

#: ``STATUS=`` texts longer than this are cut (systemctl shows one line anyway).
STATUS_MAX = 200


def socket_address(value: str) -> str | bytes | None:
    """The address to send to: a path, or ``b"\\0name"`` for ``@name`` (abstract namespace).

    ``None`` for what this module cannot reach (empty, relative, ``vsock:`` addresses).
    """
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


def watchdog_timeout(environ: Mapping[str, str], pid: int) -> float | None:
    """``WatchdogSec=`` in seconds when the watchdog applies to process ``pid``, else None.

    ``$WATCHDOG_PID``, when set, names the one process the watchdog is for (a child that
    inherited the variables must not ping on its parent's behalf).
    """
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner and (not owner.isdigit() or int(owner) != pid):
        return None
    return int(usec) / 1_000_000


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= STATUS_MAX else flat[: STATUS_MAX - 1] + "…"


class Notifier:
    """sd_notify for ``Type=notify`` services; every method is a cheap no-op without systemd.

    Reads ``$NOTIFY_SOCKET``, ``$WATCHDOG_USEC`` and ``$WATCHDOG_PID`` once, in the
    constructor (no I/O there); the datagram socket is opened on the first message. Methods
    return whether systemd got the message and never raise: a lost notification must not take
    the kiosk down (systemd itself will notice a missing watchdog ping). Thread-safe.
    """

    def __init__(self, environ: Mapping[str, str] | None = None, pid: int | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        self._address = socket_address(raw)
        if raw and self._address is None:
            logger.warning("NOTIFY_SOCKET %r is not a unix socket address: not notifying", raw)
        self._watchdog = watchdog_timeout(env, os.getpid() if pid is None else pid)
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._failures = 0

    @property
    def enabled(self) -> bool:
        """Whether systemd asked for notifications (the service runs as ``Type=notify``)."""
        return self._address is not None

    @property
    def watchdog_timeout(self) -> float | None:
        """``WatchdogSec=`` in seconds, or None when no watchdog is armed for this process."""
        return self._watchdog if self.enabled else None

    @property
    def watchdog_interval(self) -> float | None:
        """How often to call ``watchdog()``: half the timeout, as systemd recommends."""
        timeout = self.watchdog_timeout
        return None if timeout is None else timeout / 2

    def ready(self, status: str | None = None) -> bool:
        """Start-up is complete (``READY=1``); systemd starts ordering dependents after it."""
        return self.notify("READY=1", *self._status(status))

    def watchdog(self) -> bool:
        """Ping the watchdog (``WATCHDOG=1``); call it only while every worker progresses."""
        if self.watchdog_timeout is None:
            return False
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown has begun (``STOPPING=1``)."""
        return self.notify("STOPPING=1", *self._status(status))

    def status(self, text: str) -> bool:
        """A one-line status shown by ``systemctl status`` (``STATUS=...``); no personal data."""
        return self.notify(*self._status(text))

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for ``seconds`` more to finish starting or stopping (``EXTEND_TIMEOUT_USEC``)."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={max(1, int(seconds * 1_000_000))}")

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; False without systemd or on error."""
        if self._address is None or not assignments:
            return False
        message = "\n".join(assignments).encode()
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(
                        socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    )
                    self._sock.settimeout(1.0)
                self._sock.sendto(message, self._address)
            except OSError as exc:
                self._failures += 1
                if self._failures in (1, 10, 100) or self._failures % 1000 == 0:
                    logger.warning("sd_notify failed (%d times): %s", self._failures, exc)
                return False
        return True

    def close(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    @staticmethod
    def _status(text: str | None) -> tuple[str, ...]:
        return () if text is None else (f"STATUS={_one_line(text)}",)
