"""The staff login rate limit: failed attempts per client address in a sliding window."""

from __future__ import annotations

import threading
from collections import deque

ANY = "*"  # every client together: rotating addresses does not multiply the guesses


class LoginLimiter:
    """Refuses a client after ``attempts`` failures within ``window_s`` until the oldest of
    them leaves the window; all clients together get four times the allowance.

    Thread-safe; times are passed in (``time.monotonic()``) so the rule is plain to test.
    Memory is bounded: at most ``max_clients`` addresses are remembered.
    """

    def __init__(self, attempts: int, window_s: float, *, max_clients: int = 1024) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    @property
    def remembered(self) -> int:
        """How many addresses (plus the all-clients key) the limiter currently keeps."""
        with self._lock:
            return len(self._failures)

    def retry_after(self, client: str, now: float) -> float | None:
        """Seconds until ``client`` may try again, or None if it may try now."""
        with self._lock:
            waits = []
            for key, limit in ((client, self.attempts), (ANY, self.attempts * 4)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[len(times) - limit] + self.window_s - now)
            return max(waits) if waits else None

    def failed(self, client: str, now: float) -> None:
        with self._lock:
            for key in (client, ANY):
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times
            if len(self._failures) > self._max_clients:
                self._forget(now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _forget(self, now: float) -> None:
        for key in [k for k in self._failures if k != ANY]:
            if not self._recent(key, now):
                del self._failures[key]
        while len(self._failures) > self._max_clients:
            oldest = min(
                (k for k in self._failures if k != ANY), key=lambda k: self._failures[k][-1]
            )
            del self._failures[oldest]
