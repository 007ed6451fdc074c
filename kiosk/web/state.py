"""What one web app instance holds: the status view, the ledger path, config and its guards."""

from __future__ import annotations

import hashlib
import ipaddress
import threading
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask, request
from markupsafe import Markup

from kiosk.config import Config
from kiosk.service.status import StatusView
from kiosk.web.limiter import LoginLimiter
from kiosk.web.metrics import WebCounters
from kiosk.web.sessions import StaffSessions
from kiosk.web.sse import StreamGate

EXTENSION = "kiosk.web"
LANGUAGES = ("zh", "en")


@dataclass
class WebState:
    """Shared by the routes of one app (kept in ``app.extensions``; no module globals).

    ``closing`` is set by ``WebServer.stop()`` so that open screen streams end at once.
    """

    view: StatusView
    ledger_path: Path
    config: Config
    venue_svg: Markup | None
    gate: StreamGate
    limiter: LoginLimiter
    sessions: StaffSessions
    counters: WebCounters = field(default_factory=WebCounters)
    closing: threading.Event = field(default_factory=threading.Event)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.web.timezone)

    @property
    def password_generation(self) -> str | None:
        """A short fingerprint of the configured hash: a new password ends old sessions."""
        stored = self.config.web.staff_password_hash
        return None if stored is None else hashlib.sha256(stored.encode()).hexdigest()[:16]

    def is_screen(self, address: str | None) -> bool:
        """Whether ``address`` is the kiosk's own screen (``web.screen_addresses``)."""
        return is_listed(address, self.config.web.screen_addresses)

    def language(self) -> str:
        """``?lang=`` if given and known, else the configured first language."""
        asked = request.args.get("lang", "")
        return asked if asked in LANGUAGES else self.config.web.language


def is_listed(address: str | None, listed: tuple[str, ...]) -> bool:
    """``address`` (IPv4-mapped IPv6 taken as IPv4) is one of ``listed``."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip == ipaddress.ip_address(a) for a in listed)


def state_of(app: Flask) -> WebState:
    found = app.extensions[EXTENSION]
    assert isinstance(found, WebState)  # noqa: S101 - set by create_app only
    return found
