"""The staff login rate limit: attempts per client address in a sliding window, reserved
before the password is checked so that parallel guesses cannot overrun it."""

from __future__ import annotations

import ipaddress
import threading
from collections import deque


def client_key(address: str | None) -> str:
    """The unit a limit applies to: an IPv4 address, or the /64 of an IPv6 address (one
    host usually owns a whole /64, so rotating within it must not multiply its allowance)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginLimiter:
    """At most ``attempts`` password checks per client within ``window_s``; each client is
    counted on its own, so one address guessing never locks out staff at another.

    ``reserve()`` counts the attempt and answers in one locked step, before the (slow)
    password check runs; ``succeeded()`` forgets the client's attempts. Thread-safe; times are
    passed in (``time.monotonic()``). Memory is bounded: at most ``max_clients`` addresses are
    remembered, the quietest forgotten first.
    """

    def __init__(self, attempts: int, window_s: float, *, max_clients: int = 1024) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._max_clients = max_clients
        self._attempts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._attempts.get(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    @property
    def remembered(self) -> int:
        """How many client addresses the limiter currently keeps."""
        with self._lock:
            return len(self._attempts)

    def reserve(self, client: str, now: float) -> float | None:
        """Count one attempt for ``client`` and return None, or refuse: seconds to wait."""
        key = client_key(client)
        with self._lock:
            times = self._recent(key, now)
            if len(times) >= self.attempts:
                return times[len(times) - self.attempts] + self.window_s - now
            times.append(now)
            self._attempts[key] = times
            if len(self._attempts) > self._max_clients:
                self._forget(now)
            return None

    def refund(self, client: str, reserved_at: float) -> None:
        """Give back the one attempt ``reserve()`` counted at ``reserved_at`` (a login that
        succeeded), keeping the client's failures: with several accounts, a login to one
        must not buy more guesses at another."""
        key = client_key(client)
        with self._lock:
            times = self._attempts.get(key)
            if times is not None and reserved_at in times:
                times.remove(reserved_at)
                if not times:
                    del self._attempts[key]

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._attempts.pop(client_key(client), None)

    def _forget(self, now: float) -> None:
        for key in [k for k in self._attempts if not self._recent(k, now)]:
            del self._attempts[key]
        while len(self._attempts) > self._max_clients:
            oldest = min(self._attempts, key=lambda k: self._attempts[k][-1])
            del self._attempts[oldest]
