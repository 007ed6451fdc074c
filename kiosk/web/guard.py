"""The accept-side guard in front of waitress: connections per client address, a deadline
for each request to arrive, and room that only the kiosk's own screen may use.

waitress alone caps connections for everyone together and resets its idle timeout on every
byte, so a few dozen clients trickling header bytes could hold every connection. Here each
connection is admitted by ``admit()`` when it is accepted and cut off by ``overdue()`` when
a request has been arriving for longer than ``request_timeout_s``. All of it runs on the
serving loop's thread; ``Admission`` is a pure rule, tested with plain numbers.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from waitress.channel import HTTPChannel

from kiosk.web.limiter import client_key
from kiosk.web.state import is_listed

logger = logging.getLogger(__name__)

REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 25\r\n"
    b"Retry-After: 5\r\nConnection: close\r\n\r\ntoo many connections 503\n"
)


@dataclass(frozen=True)
class Admission:
    """Who may open one more connection: the screen up to ``total``; any other client up to
    ``per_client`` of its own and ``total - reserved`` for all of them together."""

    screen_addresses: tuple[str, ...]
    total: int
    per_client: int
    reserved: int
    request_timeout_s: float

    def refusal(self, address: str, open_by_client: Mapping[str, int], open_total: int) -> str:
        """Why a new connection from ``address`` is refused, or "" to admit it."""
        if is_listed(address, self.screen_addresses):
            return "" if open_total < self.total else "all connections in use"
        if open_by_client.get(client_key(address), 0) >= self.per_client:
            return "too many connections from this client"
        if open_total >= self.total - self.reserved:
            return "only the screen's reserved connections are left"
        return ""


class GuardedChannel(HTTPChannel):
    """waitress's channel, remembering when the request now arriving began."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_began = time.monotonic()  # the first request is due from the connect
        self.awaiting = True

    def received(self, data: bytes) -> bool:
        if data and self.request is None and not self.awaiting:
            self.request_began = time.monotonic()
        self.awaiting = False
        result: bool = super().received(data)
        return result

    def overdue(self, now: float, timeout_s: float) -> bool:
        arriving = self.awaiting or self.request is not None
        return arriving and now - self.request_began > timeout_s


class ConnectionGuard:
    """Admits connections (waitress's ``channel_class``) and cuts off slow requests
    (``sweep()``, called by the serving loop). Counts what it refused and cut off."""

    def __init__(self, rule: Admission) -> None:
        self.rule = rule
        self.refused = 0
        self.cut_off = 0

    def channel_factory(self, channels: Mapping[int, Any]) -> Callable[..., Any]:
        def make(server: Any, conn: socket.socket, addr: Any, adj: Any, map: Any = None) -> Any:
            address = addr[0] if isinstance(addr, tuple) else str(addr)
            guarded = [c for c in channels.values() if isinstance(c, GuardedChannel)]
            by_client = Counter(client_key(c.addr[0]) for c in guarded)
            reason = self.rule.refusal(address, by_client, len(guarded))
            if reason:
                self.refused += 1
                logger.warning("web: refused a connection from %s: %s", address, reason)
                _refuse(conn)
                return None
            return GuardedChannel(server, conn, addr, adj, map=map)

        return make

    def sweep(self, channels: Mapping[int, Any]) -> None:
        now = time.monotonic()
        for channel in list(channels.values()):
            if (
                isinstance(channel, GuardedChannel)
                and not channel.will_close
                and channel.overdue(now, self.rule.request_timeout_s)
            ):
                self.cut_off += 1
                logger.warning("web: cut off %s: request not complete in time", channel.addr[0])
                channel.handle_close()


def _refuse(conn: socket.socket) -> None:
    try:
        conn.setblocking(False)
        conn.send(REFUSAL)
    except OSError:
        pass
    finally:
        conn.close()
