"""Online health-code tokens: ask the county verification service, within a hard deadline."""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kiosk import __version__
from kiosk.codes.privacy import mask_name
from kiosk.model import (
    CodeStatus,
    Itinerary,
    ItineraryStatus,
    Verification,
    parse_utc,
    utc_iso,
    uuid7,
)
from kiosk.reasons import (
    CODE_EXPIRED,
    CODE_NOT_FOUND,
    VERIFY_BAD_RESPONSE,
    VERIFY_NOT_CONFIGURED,
    VERIFY_SERVER_ERROR,
    VERIFY_TIMEOUT,
    VERIFY_TLS,
    VERIFY_UNAUTHORIZED,
    VERIFY_UNREACHABLE,
)

logger = logging.getLogger(__name__)

KIND = "online-token"
MAX_RESPONSE = 64 * 1024
STATUSES = {
    "green": CodeStatus.GREEN,
    "yellow": CodeStatus.YELLOW,
    "red": CodeStatus.RED,
    "expired": CodeStatus.EXPIRED,
    "not_found": CodeStatus.NOT_FOUND,
}
_RETRYABLE = (VERIFY_UNREACHABLE, VERIFY_SERVER_ERROR)
Hasher = Callable[[str, str], str | None]


@dataclass(frozen=True)
class OnlineSettings:
    """What the online verifier needs; built from ``[verify.online]`` plus the read secret."""

    url: str | None
    timeout_s: float
    patterns: Sequence[str]
    ca_file: Path | None
    credential: str | None
    kiosk_id: str


class _Failure(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


class OnlineVerifier:
    """Sends tokens that match a configured pattern to the county service (docs/county-pass.md).

    ``verify`` never raises and never takes longer than ``timeout_s``: the HTTP exchange runs
    in a short-lived worker thread, and at the deadline the caller shuts the socket and
    answers ``timeout``. A refused connection or a 5xx is retried once, only inside the same
    deadline. TLS is always verified (system CAs, or ``ca_file``). Safe to call from one
    thread at a time per instance; the instance holds no connection between calls.
    """

    def __init__(self, settings: OnlineSettings, hasher: Hasher) -> None:
        self._s = settings
        self._hasher = hasher
        self._patterns = [re.compile(p) for p in settings.patterns]
        self._ctx: ssl.SSLContext | None = None

    def matches(self, text: str) -> bool:
        return any(p.match(text) for p in self._patterns)

    def verify(self, text: str, now: datetime) -> Verification:
        if not self._s.url:
            return _failed(CodeStatus.FAILED, VERIFY_NOT_CONFIGURED)
        deadline = time.monotonic() + self._s.timeout_s
        body = json.dumps(
            {
                "token": text,
                "kiosk": self._s.kiosk_id,
                "request_id": str(uuid7()),
                "ts": utc_iso(now),
            }
        ).encode()
        reason = VERIFY_TIMEOUT
        for attempt in (1, 2):
            try:
                status, payload = self._exchange(body, deadline)
                return self._interpret(status, payload)
            except _Failure as failure:
                reason = failure.reason
                logger.info("online verification attempt %d failed: %s", attempt, failure)
                if reason not in _RETRYABLE or deadline - time.monotonic() < 0.2:
                    break
        kind = CodeStatus.TIMEOUT if reason == VERIFY_TIMEOUT else CodeStatus.FAILED
        return _failed(kind, reason)

    def _context(self) -> ssl.SSLContext:
        if self._ctx is None:
            cafile = str(self._s.ca_file) if self._s.ca_file else None
            self._ctx = ssl.create_default_context(cafile=cafile)  # verifies name and chain
        return self._ctx

    def _exchange(self, body: bytes, deadline: float) -> tuple[int, bytes]:
        """POST ``body``; returns (HTTP status, body) or raises _Failure. Bounded by deadline."""
        url = urlsplit(self._s.url or "")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Failure(VERIFY_TIMEOUT)
        conn = http.client.HTTPSConnection(
            url.hostname or "", url.port or 443, timeout=remaining, context=self._context()
        )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"checkpoint-kiosk/{__version__}",
        }
        if self._s.credential:
            headers["Authorization"] = f"Bearer {self._s.credential}"
        result: list[tuple[int, bytes]] = []
        error: list[BaseException] = []

        def run() -> None:
            try:
                path = (url.path or "/") + (f"?{url.query}" if url.query else "")
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                result.append((resp.status, resp.read(MAX_RESPONSE + 1)))
            except (OSError, http.client.HTTPException) as exc:
                error.append(exc)

        worker = threading.Thread(target=run, name="online-verify", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            _abort(conn)  # the worker wakes up with an error and ends on its own
            raise _Failure(VERIFY_TIMEOUT, "no answer before the deadline")
        conn.close()
        if error:
            raise _Failure(_classify(error[0]), type(error[0]).__name__)
        return result[0]

    def _interpret(self, status: int, payload: bytes) -> Verification:
        if status in (401, 403):
            raise _Failure(VERIFY_UNAUTHORIZED, f"HTTP {status}")
        if status >= 500:
            raise _Failure(VERIFY_SERVER_ERROR, f"HTTP {status}")
        if status != 200 or len(payload) > MAX_RESPONSE:
            raise _Failure(VERIFY_BAD_RESPONSE, f"HTTP {status}, {len(payload)} bytes")
        try:
            doc = json.loads(payload)
            return self._verification(doc)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise _Failure(VERIFY_BAD_RESPONSE, type(exc).__name__) from None

    def _verification(self, doc: Any) -> Verification:
        """Map the service's JSON answer onto a Verification; ValueError if it is malformed."""
        status = STATUSES[doc["status"]]
        issuer = _opt_text(doc, "issuer", 32)
        subject = _opt_text(doc, "subject_key", 128)
        test = doc.get("test")
        test_at = test_result = None
        if test is not None:
            test_at = parse_utc(str(test["at"]))
            test_result = test["result"]
            if test_result not in ("negative", "positive"):
                raise ValueError("test.result")
        doses = doc.get("vaccine_doses")
        if doses is not None and (
            isinstance(doses, bool) or not isinstance(doses, int) or doses < 0
        ):
            raise ValueError("vaccine_doses")
        updated = doc.get("status_updated_at")
        reasons = {CodeStatus.EXPIRED: (CODE_EXPIRED,), CodeStatus.NOT_FOUND: (CODE_NOT_FOUND,)}
        return Verification(
            kind=KIND,
            status=status,
            valid=status in (CodeStatus.GREEN, CodeStatus.YELLOW, CodeStatus.RED),
            reasons=reasons.get(status, ()),
            masked_name=mask_name(_opt_text(doc, "masked_name", 64)),
            subject_hash=self._hasher(f"county:{issuer or ''}", subject) if subject else None,
            issuer=issuer,
            status_updated_at=parse_utc(str(updated)) if updated is not None else None,
            test_at=test_at,
            test_result=test_result,
            vaccine_doses=doses,
            itinerary=_itinerary(doc.get("itinerary")),
        )


def _itinerary(value: Any) -> Itinerary | None:
    """``"itinerary": {"status": "normal"|"starred", "updated_at": ISO 8601}``, optional."""
    if value is None:
        return None
    return Itinerary(ItineraryStatus(value["status"]), parse_utc(str(value["updated_at"])))


def _opt_text(doc: Any, key: str, limit: int) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(key)
    return value


def _abort(conn: http.client.HTTPSConnection) -> None:
    """Unblock a worker stuck in connect/read by shutting its socket down."""
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    conn.close()


def _classify(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return VERIFY_TLS
    if isinstance(exc, TimeoutError):
        return VERIFY_TIMEOUT
    if isinstance(exc, http.client.HTTPException):
        return VERIFY_BAD_RESPONSE
    return VERIFY_UNREACHABLE


def _failed(status: CodeStatus, reason: str) -> Verification:
    return Verification(kind=KIND, status=status, valid=False, reasons=(reason,))
