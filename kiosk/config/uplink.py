"""Config: the county MQTT broker (``[uplink]``, ``[uplink.tls]``)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from kiosk.config.core import CREDENTIAL_NAME
from kiosk.confload import setting


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address: traffic to it never leaves this machine."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


TOPIC_PATTERN = r"[^#+\s/][^#+\s]*[^#+\s/]|[^#+\s/]"


@dataclass(frozen=True)
class TlsSection:
    """TLS towards the broker; verification of the server certificate and name is always on."""

    enabled: bool = setting(False, doc="connect with TLS")
    ca_file: Path | None = setting(None, doc="CA bundle (PEM) for the broker; system CAs if unset")
    cert_file: Path | None = setting(None, doc="client certificate (PEM) for mutual TLS")
    key_file: Path | None = setting(None, doc="client private key (PEM) for mutual TLS")
    verify: bool = setting(
        True,
        doc="verify the server certificate and host name; cannot be turned off",
        check=lambda v: (
            None
            if v
            else "TLS verification cannot be turned off; "
            "trust a private CA with tls.ca_file instead"
        ),
    )

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls.cert_file and tls.key_file must be given together")


@dataclass(frozen=True)
class UplinkSection:
    """The county MQTT broker and how the outbox drains to it."""

    enabled: bool = setting(True, doc="publish the outbox to the broker")
    host: str = setting("127.0.0.1", doc="broker host name or address", pattern=r"\S+")
    port: int = setting(1883, doc="broker TCP port", min=1, max=65535)
    topic_prefix: str = setting(
        "county/demo", doc="topics are {prefix}/kiosk/{id}/...", pattern=TOPIC_PATTERN
    )
    username: str | None = setting(None, doc="MQTT user name (password from a file or credential)")
    password: str | None = setting(
        None,
        doc="MQTT password inline (discouraged: prefer password_file or a credential)",
        secret=True,
    )
    password_file: Path | None = setting(None, doc="file holding the MQTT password")
    password_credential: str | None = setting(
        None,
        doc="systemd credential name holding the MQTT password ($CREDENTIALS_DIRECTORY)",
        pattern=CREDENTIAL_NAME,
    )
    allow_plaintext_password: bool = setting(
        False,
        doc="accept a user name and password sent in clear text (no TLS) to a broker that is "
        "not on this host; anyone on the path can read them",
    )
    keepalive_s: int = setting(60, doc="MQTT keepalive in seconds", min=5, max=65535)
    window: int = setting(
        32,
        doc="most unacknowledged publishes at once (capped by the broker's Receive Maximum)",
        min=1,
        max=1024,
    )
    reconnect_min_s: int = setting(1, doc="first reconnect delay", min=1, max=60)
    reconnect_max_s: int = setting(60, doc="longest reconnect delay", min=1, max=3600)
    ack_timeout_s: float = setting(
        120.0, doc="re-send rows unacknowledged this long while connected", min=5, max=3600
    )
    state_interval_s: float = setting(
        30.0, doc="how often the retained state document is refreshed", min=1, max=3600
    )
    receipts: bool = setting(
        False,
        doc="a county ingest is behind the broker: follow its receipts (re-send what it "
        "misses, purge only what it confirmed, drain waits for confirmation)",
    )
    resend_after_s: float = setting(
        30.0,
        doc="with receipts: re-send an entry a receipt lists as missing at most this often",
        min=1,
        max=3600,
    )
    tls: TlsSection = setting(factory=TlsSection, doc="TLS settings")

    @property
    def plaintext_credentials(self) -> bool:
        """A user name or password would go in clear text to a broker off this host."""
        credentials = self.username is not None or any(
            x is not None for x in (self.password, self.password_file, self.password_credential)
        )
        return credentials and not self.tls.enabled and not is_loopback(self.host)

    def __post_init__(self) -> None:
        given = [self.password, self.password_file, self.password_credential]
        if sum(x is not None for x in given) > 1:
            raise ValueError(
                "give one of uplink.password, uplink.password_file, uplink.password_credential"
            )
        if self.plaintext_credentials and not self.allow_plaintext_password:
            raise ValueError(
                f"the MQTT user name and password would cross the network in clear "
                f"text to {self.host}:{self.port} (no TLS). Set uplink.tls.enabled = true, or "
                "uplink.allow_plaintext_password = true to accept that anyone on the path can "
                "read them"
            )
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("uplink.reconnect_min_s must not exceed uplink.reconnect_max_s")
