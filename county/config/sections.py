"""Config sections of the county service: [county], [broker], [database], [ingest]."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiosk.config.core import CREDENTIAL_NAME, ID_PATTERN
from kiosk.config.uplink import TOPIC_PATTERN, TlsSection
from kiosk.confload import setting
from kiosk.uplink.wire import MAX_PAYLOAD

DAY_S = 86_400


@dataclass(frozen=True)
class CountySection:
    """Which county this is and where it keeps local state."""

    id: str = setting("330106", doc="the county (issuer id of its passes)", pattern=r"[0-9]{6}")
    state_dir: Path = setting(Path("/var/lib/county"), doc="directory for local state")


@dataclass(frozen=True)
class BrokerSection:
    """The MQTT broker the kiosks publish to; each ingest worker has its own client id."""

    host: str = setting("127.0.0.1", doc="broker host name or address", pattern=r"\S+")
    port: int = setting(1883, doc="broker TCP port", min=1, max=65535)
    topic_prefix: str = setting(
        "county/demo", doc="the kiosks' [uplink] topic_prefix", pattern=TOPIC_PATTERN
    )
    client_id: str = setting(
        "county-ingest-1",
        doc="MQTT client id: one per ingest worker, fixed so its session survives restarts",
        pattern=ID_PATTERN,
    )
    share_group: str = setting(
        "ingest", doc="shared-subscription group that splits the feed", pattern=ID_PATTERN
    )
    session_expiry_s: int = setting(
        7 * DAY_S,
        doc="how long the broker keeps the worker's session and queue while it is away",
        min=DAY_S,
        max=0xFFFFFFFE,
    )
    receive_maximum: int = setting(
        2000,
        doc="most unacknowledged messages the broker may send at once (>= ingest.batch_rows)",
        min=1,
        max=65535,
    )
    username: str | None = setting(None, doc="MQTT user name (password from a file or credential)")
    password_file: Path | None = setting(None, doc="file holding the MQTT password")
    password_credential: str | None = setting(
        None, doc="systemd credential holding the MQTT password", pattern=CREDENTIAL_NAME
    )
    keepalive_s: int = setting(30, doc="MQTT keepalive in seconds", min=5, max=65535)
    reconnect_min_s: int = setting(1, doc="first reconnect delay", min=1, max=60)
    reconnect_max_s: int = setting(30, doc="longest reconnect delay", min=1, max=3600)
    tls: TlsSection = setting(factory=TlsSection, doc="TLS settings")

    def __post_init__(self) -> None:
        if self.password_file is not None and self.password_credential is not None:
            raise ValueError("give one of broker.password_file, broker.password_credential")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("broker.reconnect_min_s must not exceed broker.reconnect_max_s")


def _database_url(url: str) -> str | None:
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return None
    if url.startswith(("postgresql://", "postgres://")):
        if ":" in url.split("://", 1)[1].split("@", 1)[0] and "@" in url:
            return "put the password in database.password_file or ~/.pgpass, not in the URL"
        return None
    return 'expected "sqlite:///PATH" or "postgresql://USER@HOST:PORT/DB"'


@dataclass(frozen=True)
class DatabaseSection:
    """Where entries are stored: SQLite for a small county, PostgreSQL for production."""

    url: str = setting(
        "sqlite:///var/lib/county/county.sqlite",
        doc="sqlite:///PATH or postgresql://USER@HOST:PORT/DB",
        check=_database_url,
    )
    password_file: Path | None = setting(None, doc="file holding the PostgreSQL password")
    password_credential: str | None = setting(
        None, doc="systemd credential holding the PostgreSQL password", pattern=CREDENTIAL_NAME
    )
    retention_days: int = setting(
        21,
        doc="entries, alerts and their desk records older than this are deleted "
        "(PostgreSQL: whole day partitions)",
        min=1,
    )
    partitions_ahead: int = setting(
        3, doc="PostgreSQL: day partitions created ahead of today", min=1, max=60
    )
    connect_timeout_s: int = setting(5, doc="give up one connection attempt after", min=1, max=60)

    @property
    def backend(self) -> str:
        return "sqlite" if self.url.startswith("sqlite:") else "postgres"

    @property
    def sqlite_path(self) -> Path:
        return Path(self.url.removeprefix("sqlite://"))

    def __post_init__(self) -> None:
        if self.password_file is not None and self.password_credential is not None:
            raise ValueError("give one of database.password_file, database.password_credential")


@dataclass(frozen=True)
class IngestSection:
    """How messages are batched into transactions and receipts are sent back."""

    batch_rows: int = setting(500, doc="commit a batch once it holds this many messages", min=1)
    batch_ms: int = setting(
        50, doc="commit a batch this long after its first message", min=1, max=10_000
    )
    receipt_interval_s: float = setting(
        1.0, doc="at most one receipt per kiosk this often", min=0.05, max=3600
    )
    max_payload: int = setting(
        MAX_PAYLOAD, doc="larger messages go to quarantine", min=1024, max=MAX_PAYLOAD
    )
    quarantine_keep_bytes: int = setting(
        4096, doc="raw bytes of a quarantined message that are kept", min=64, max=MAX_PAYLOAD
    )
    retry_max_s: float = setting(
        10.0, doc="longest wait between attempts while the database is down", min=0.1, max=300
    )
    offline_after_s: float = setting(
        300.0, doc="a kiosk unheard of this long counts as offline", min=10, max=86_400
    )
