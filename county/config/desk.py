"""Config sections of the county desk: [desk] (the web), [notify] (webhooks), [fleet], [trace]."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kiosk.config.core import CREDENTIAL_NAME
from kiosk.config.web import _addresses, _timezone
from kiosk.confload import setting

#: ``PRESET URL``: one webhook; presets format the message body (see county/notify/hooks.py).
HOOK_LINE = re.compile(r"(json|wecom|dingtalk)\s+(https?://\S+)")


def _hooks(values: tuple[str, ...]) -> str | None:
    for value in values:
        if not HOOK_LINE.fullmatch(value.strip()):
            return f'expected "json|wecom|dingtalk URL", got "{value[:40]}"'
    return None


@dataclass(frozen=True)
class DeskSection:
    """The county desk (``county web``): alerts, fleet, ledgers and tracing for county staff."""

    host: str = setting("127.0.0.1", doc="address to listen on", pattern=r"\S+")
    port: int = setting(8090, doc="TCP port of the desk", min=1, max=65535)
    threads: int = setting(12, doc="waitress worker threads (each open stream holds one)", min=4)
    session_secret_file: Path | None = setting(
        None, doc="file holding the key that signs desk sessions (random per start if unset)"
    )
    session_secret_credential: str | None = setting(
        None, doc="systemd credential holding that key", pattern=CREDENTIAL_NAME
    )
    session_minutes: int = setting(30, doc="a session ends after this many idle minutes", min=1)
    cookie_secure: bool = setting(True, doc="session cookie only over HTTPS or localhost")
    login_attempts: int = setting(
        5, doc="failed logins allowed per client address in login_window_s", min=1, max=100
    )
    login_window_s: int = setting(300, doc="window of the login rate limit, seconds", min=10)
    timezone: str = setting("Asia/Shanghai", doc="time zone of days and hours", check=_timezone)
    language: Literal["zh", "en"] = setting("zh", doc='first language ("zh" or "en")')
    max_connections: int = setting(100, doc="open connections at once, all clients", min=16)
    connections_per_client: int = setting(
        16, doc="open connections one client address may hold", min=2
    )
    request_timeout_s: float = setting(
        10.0, doc="a request must arrive within this long of its first byte", min=1, max=300
    )
    sse_max_streams: int = setting(8, doc="open alert streams at once", min=1, max=62)
    sse_streams_per_client: int = setting(2, doc="open alert streams per client", min=1)
    sse_stream_s: float = setting(300.0, doc="an alert stream ends after this long", min=1)
    poll_s: float = setting(0.5, doc="how often the desk looks for new alerts", min=0.05, max=10)
    admin_addresses: tuple[str, ...] = setting(
        ("127.0.0.1", "::1"),
        doc="client addresses that keep reserved connections (the desk's own health check)",
        check=_addresses,
    )

    def __post_init__(self) -> None:
        if self.session_secret_file is not None and self.session_secret_credential is not None:
            raise ValueError("give desk.session_secret_file or desk.session_secret_credential")
        if self.sse_max_streams > self.threads - 2:
            raise ValueError("desk.sse_max_streams must leave two of desk.threads for pages")


@dataclass(frozen=True)
class NotifySection:
    """Webhooks told of every alert (企业微信 / 钉钉 group robots or plain JSON)."""

    webhooks: tuple[str, ...] = setting(
        (), doc='"PRESET URL" lines, PRESET one of json, wecom, dingtalk', check=_hooks
    )
    webhooks_file: Path | None = setting(
        None, doc="file with more such lines (robot URLs carry keys: keep them out of the config)"
    )
    timeout_s: float = setting(5.0, doc="one delivery attempt gives up after", min=0.5, max=60)
    retry_min_s: float = setting(1.0, doc="first wait after a failed delivery", min=0.1)
    retry_max_s: float = setting(60.0, doc="longest wait between attempts", min=1)
    poll_s: float = setting(0.5, doc="how often new alerts are looked for", min=0.05, max=60)
    give_up_h: float = setting(
        24.0, doc="a delivery still failing after this long is marked failed", min=0.01
    )


@dataclass(frozen=True)
class FleetSection:
    """When a kiosk counts as silent (no message at all) and raises a fleet alert."""

    silent_after_s: float = setting(
        600.0, doc="a kiosk unheard of this long is marked silent and raises an alert", min=10
    )
    check_every_s: float = setting(5.0, doc="how often the fleet is checked", min=0.1)
    clock_skew_warn_s: float = setting(
        120.0, doc="entry time this far from arrival time marks the kiosk's clock", min=1
    )


@dataclass(frozen=True)
class TraceSection:
    """The county's keys for tracing (docs/county.md § keys): never in the config itself."""

    master_key_file: Path | None = setting(
        None, doc="file with the county master key (hex, 32 bytes) that derives kiosk keys"
    )
    master_key_credential: str | None = setting(
        None, doc="systemd credential holding the master key", pattern=CREDENTIAL_NAME
    )
    identity_key_file: Path | None = setting(
        None, doc="file with the identity key (hex) that turns ID numbers into pass subjects"
    )
    identity_key_credential: str | None = setting(
        None, doc="systemd credential holding the identity key", pattern=CREDENTIAL_NAME
    )
    max_rows: int = setting(5000, doc="most rows one trace query returns", min=10)
    max_window_h: float = setting(72.0, doc="longest venue time window of a trace", min=0.1)

    def __post_init__(self) -> None:
        if self.master_key_file is not None and self.master_key_credential is not None:
            raise ValueError("give trace.master_key_file or trace.master_key_credential")
        if self.identity_key_file is not None and self.identity_key_credential is not None:
            raise ValueError("give trace.identity_key_file or trace.identity_key_credential")
