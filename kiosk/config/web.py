"""Config: the kiosk screen, the staff page and the health endpoints (``[web]``)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.config.core import CREDENTIAL_NAME
from kiosk.confload import setting

#: What ``werkzeug.security.generate_password_hash`` produces: ``method$salt$hex``.
HASH_FORMAT = r"(scrypt|pbkdf2):[A-Za-z0-9:]+\$[^$\s]+\$[0-9a-f]{32,}"


#: Connections only the kiosk's own screen (``screen_addresses``) may use.
RESERVED_CONNECTIONS = 8


def _timezone(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f'unknown time zone "{name}" (expected an IANA name such as "Asia/Shanghai")'
    return None


def _password_hash(value: str) -> str | None:
    if re.fullmatch(HASH_FORMAT, value):
        return None
    return "expected a password hash from `kiosk web hash-password` (scrypt:... or pbkdf2:...)"


def _addresses(values: tuple[str, ...]) -> str | None:
    for value in values:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return f'"{value}" is not an IP address (expected e.g. "127.0.0.1" or "::1")'
    return None


@dataclass(frozen=True)
class WebSection:
    """The local web server: kiosk screen (``/``), staff page (``/staff``) and health endpoints."""

    host: str = setting(
        "127.0.0.1",
        doc="address to listen on; keep 127.0.0.1 unless staff reach the page over the LAN",
        pattern=r"\S+",
    )
    port: int = setting(8080, doc="TCP port of the web server", min=1, max=65535)
    threads: int = setting(
        8, doc="waitress worker threads (each open screen stream holds one)", min=2, max=64
    )
    staff_password_hash: str | None = setting(
        None,
        doc="hash of the staff password (`kiosk web hash-password`); unset = staff login off",
        secret=True,
        check=_password_hash,
    )
    session_secret_file: Path | None = setting(
        None, doc="file holding the key that signs staff sessions (random per start if unset)"
    )
    session_secret_credential: str | None = setting(
        None,
        doc="systemd credential name holding that key ($CREDENTIALS_DIRECTORY)",
        pattern=CREDENTIAL_NAME,
    )
    session_minutes: int = setting(
        60, doc="a staff session ends after this many idle minutes", min=1, max=1440
    )
    cookie_secure: bool = setting(
        True,
        doc="session cookie only over HTTPS or http://localhost (turn off only behind no TLS "
        "on a trusted LAN)",
    )
    login_attempts: int = setting(
        5, doc="failed staff logins allowed per client address in login_window_s", min=1, max=100
    )
    login_window_s: int = setting(
        300, doc="window (and lock-out) of the login rate limit, seconds", min=10, max=86400
    )
    venue_code: str | None = setting(
        None, doc="text of the site's 场所码 (venue code), shown as a QR on the idle screen"
    )
    venue_name: str | None = setting(None, doc="venue name shown on the idle screen")
    language: Literal["zh", "en"] = setting(
        "zh", doc='first language of the screens ("zh" or "en"; ?lang= or the L key switches)'
    )
    timezone: str = setting(
        "Asia/Shanghai", doc="time zone of the staff page (today's counts, hours)", check=_timezone
    )
    sse_max_streams: int = setting(
        4, doc="open screen streams (/events) at once; more get 503 and retry", min=1, max=62
    )
    sse_stream_s: float = setting(
        300.0,
        doc="a screen stream ends after this long and the browser reconnects",
        min=1,
        max=3600,
    )
    sse_keepalive_s: float = setting(
        15.0, doc="comment sent on a quiet stream this often (finds gone clients)", min=1, max=300
    )
    screen_addresses: tuple[str, ...] = setting(
        ("127.0.0.1", "::1"),
        doc="client addresses of the kiosk's own screen: they keep a reserved screen stream and "
        "room for connections no other client can take (a reverse proxy on this host would "
        "look local too: then list only the screen's address)",
        check=_addresses,
    )
    sse_streams_per_client: int = setting(
        2, doc="open screen streams one client address may hold at once", min=1, max=62
    )
    max_connections: int = setting(
        100, doc="open connections at once, all clients together", min=16, max=1000
    )
    connections_per_client: int = setting(
        20,
        doc="open connections one client address (an IPv6 /64) may hold; more are refused",
        min=2,
        max=1000,
    )
    request_timeout_s: float = setting(
        10.0,
        doc="a request's headers and body must arrive within this long of its first byte (or "
        "of the connection); slower clients are cut off",
        min=1,
        max=300,
    )
    health_max_age_s: float = setting(
        15.0,
        doc="/healthz fails when the health snapshot is older than this (supervisor stalled)",
        min=1,
        max=3600,
    )

    def __post_init__(self) -> None:
        if self.session_secret_file is not None and self.session_secret_credential is not None:
            raise ValueError(
                "give web.session_secret_file or web.session_secret_credential, not both"
            )
        if self.sse_max_streams > self.threads - 2:
            raise ValueError(
                f"web.sse_max_streams ({self.sse_max_streams}) must leave two of web.threads "
                f"({self.threads}) for pages and /healthz"
            )
        if self.connections_per_client > self.max_connections - RESERVED_CONNECTIONS:
            raise ValueError(
                f"web.connections_per_client ({self.connections_per_client}) must leave "
                f"{RESERVED_CONNECTIONS} of web.max_connections ({self.max_connections}) "
                "for the kiosk's own screen"
            )
