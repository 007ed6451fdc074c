"""Staff sessions kept on the server: the signed cookie only names one, so logout, idle
expiry or a restart end it here and a copied cookie stops working."""

from __future__ import annotations

import secrets
import threading


class StaffSessions:
    """Live staff sessions by random id, each with its last use (``time.monotonic()``).

    ``touch()`` is true only for a session that was begun, not ended and used within
    ``idle_s``; it then counts as used now. At most ``max_sessions`` are kept (the longest
    idle is ended first), so logins cannot grow memory. Thread-safe.
    """

    def __init__(self, idle_s: float, *, max_sessions: int = 64) -> None:
        self.idle_s = idle_s
        self._max = max_sessions
        self._last_use: dict[str, float] = {}
        self._lock = threading.Lock()

    def begin(self, now: float) -> str:
        sid = secrets.token_urlsafe(24)
        with self._lock:
            self._last_use[sid] = now
            if len(self._last_use) > self._max:
                idle = min(self._last_use, key=self._last_use.__getitem__)
                del self._last_use[idle]
        return sid

    def touch(self, sid: object, now: float) -> bool:
        if not isinstance(sid, str):
            return False
        with self._lock:
            last = self._last_use.get(sid)
            if last is None:
                return False
            if now - last > self.idle_s:
                del self._last_use[sid]
                return False
            self._last_use[sid] = now
            return True

    def end(self, sid: object) -> None:
        if isinstance(sid, str):
            with self._lock:
                self._last_use.pop(sid, None)

    @property
    def live(self) -> int:
        with self._lock:
            return len(self._last_use)
