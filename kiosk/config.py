"""The kiosk's one frozen configuration: schema, defaults, loading from TOML and the environment."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from kiosk.confload import (
    ConfigError,
    ConfigProblem,
    build,
    describe,
    env_layer,
    file_layer,
    setting,
)
from kiosk.confload import _Layer as Layer

__all__ = ["Config", "ConfigError", "ConfigProblem", "load", "parse"]

_ID = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_TOPIC = r"[^#+\s/][^#+\s]*[^#+\s/]|[^#+\s/]"


@dataclass(frozen=True)
class KioskSection:
    """Who this kiosk is and where it keeps its state."""

    id: str = setting(
        "k-001", doc="kiosk id: in topics, the MQTT client id and every entry", pattern=_ID
    )
    site: str = setting("demo", doc="site (venue) id recorded in every entry", pattern=_ID)
    state_dir: Path = setting(Path("/var/lib/kiosk"), doc="directory holding ledger.sqlite")
    retention_days: int = setting(
        21, doc="delivered entries older than this are purged", min=1, max=3650
    )


@dataclass(frozen=True)
class TlsSection:
    """TLS towards the broker; verification of the server certificate and name is always on."""

    enabled: bool = setting(False, doc="connect with TLS")
    ca_file: Path | None = setting(None, doc="CA bundle (PEM) for the broker; system CAs if unset")
    cert_file: Path | None = setting(None, doc="client certificate (PEM) for mutual TLS")
    key_file: Path | None = setting(None, doc="client private key (PEM) for mutual TLS")
    server_name: str | None = setting(None, doc="name to verify instead of host (SNI too)")
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
        "county/demo", doc="topics are {prefix}/kiosk/{id}/...", pattern=_TOPIC
    )
    username: str | None = setting(None, doc="MQTT user name (password from a file or credential)")
    password_file: Path | None = setting(None, doc="file holding the MQTT password")
    password_credential: str | None = setting(
        None,
        doc="systemd credential name holding the MQTT password ($CREDENTIALS_DIRECTORY)",
        pattern=r"[A-Za-z0-9_.-]+",
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
    tls: TlsSection = setting(factory=TlsSection, doc="TLS settings")

    def __post_init__(self) -> None:
        if self.password_file is not None and self.password_credential is not None:
            raise ValueError("give uplink.password_file or uplink.password_credential, not both")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("uplink.reconnect_min_s must not exceed uplink.reconnect_max_s")


_BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)


def _baud(value: int) -> str | None:
    listed = ", ".join(str(b) for b in _BAUDS)
    return None if value in _BAUDS else f"expected a standard baud rate ({listed}), got {value}"


def _function(value: int) -> str | None:
    return None if value in (3, 4) else f"expected 3 or 4, got {value}"


@dataclass(frozen=True)
class ThermometerSection:
    """The serial infrared thermometer, its protocol and the reading filter's thresholds."""

    protocol: Literal["gy-mcu90614", "lu90614", "modbus", "ascii", "cjmcu66"] = setting(
        "gy-mcu90614", doc="wire protocol (cjmcu66 is experimental, unverified on hardware)"
    )
    port: str = setting(
        "/dev/ttyUSB0",
        doc="serial port; prefer a stable /dev/serial/by-id/... path",
        pattern=r"\S+",
    )
    baud: int = setting(9600, doc="baud rate (8N1)", check=_baud)
    gy_mode: Literal["continuous", "query"] = setting(
        "continuous", doc="gy-mcu90614: module streams frames, or answers one query per poll"
    )
    lu_mode: Literal["object", "body"] = setting(
        "object", doc="lu90614: raw object temperature, or the module's own (opaque) body mode"
    )
    cjmcu_order: Literal["object-ambient", "ambient-object"] = setting(
        "object-ambient", doc="cjmcu66: which of the two values is the object temperature"
    )
    cjmcu_checksum: Literal["data", "frame"] = setting(
        "data", doc="cjmcu66: checksum over the four data bytes or over the whole frame"
    )
    poll_interval_s: float = setting(
        0.2,
        doc="query/Modbus modes: time between polls (modules allow at most 10 Hz)",
        min=0.1,
        max=5.0,
    )
    silence_s: float = setting(
        2.0,
        doc="no valid frame for this long = not ready (a GPIO UART unplug is silent)",
        min=0.5,
        max=60.0,
    )
    reconnect_min_s: float = setting(0.5, doc="first retry after an unplug", min=0.05, max=60.0)
    reconnect_max_s: float = setting(5.0, doc="longest retry interval", min=0.05, max=300.0)
    modbus_preset: Literal["calex", "omega", "custom"] = setting(
        "calex", doc="register map: calex (PyroUSB), omega (OS-MINI) or custom (modbus_* keys)"
    )
    modbus_unit: int = setting(
        1, doc="Modbus unit (slave) address; 255 = any single sensor", min=1, max=255
    )
    modbus_function: int | None = setting(
        None, doc="3 (holding) or 4 (input registers); default from the preset", check=_function
    )
    modbus_object_register: int | None = setting(
        None, doc="object temperature register; default from the preset", min=0, max=65535
    )
    modbus_ambient_register: int | None = setting(
        None, doc="sensor/ambient temperature register; default from the preset", min=0, max=65535
    )
    modbus_scale: float | None = setting(
        None,
        doc="°C per count (0.1 for int16 in tenths); default from the preset",
        min=1e-6,
        max=1000.0,
    )
    modbus_signed: bool | None = setting(None, doc="16-bit registers are signed (two's complement)")
    modbus_dtype: Literal["int16", "float32_be", "float32_ws"] | None = setting(
        None, doc="register data type (float32 spans two registers; _ws = word-swapped)"
    )
    modbus_timeout_s: float = setting(0.3, doc="Modbus reply timeout", min=0.05, max=5.0)
    offset_c: float = setting(
        0.0,
        doc="compensation added to the raw forehead median (see docs/thermometers.md)",
        min=-3.0,
        max=5.0,
    )
    presence_delta_c: float = setting(
        2.0, doc="someone is there when object - ambient >= this", min=0.5, max=15.0
    )
    presence_min_c: float = setting(
        30.0, doc="lowest raw object value taken as a person", min=20.0, max=40.0
    )
    presence_max_c: float = setting(
        43.0, doc="highest raw object value taken as a person", min=35.0, max=50.0
    )
    presence_grace_s: float = setting(
        0.3, doc="presence lost for longer than this ends the measurement", min=0.0, max=5.0
    )
    plausible_min_c: float = setting(
        34.0,
        doc="a stable compensated value below this (hair, hat) is never decision-grade",
        min=25.0,
        max=37.0,
    )
    stable_samples: int = setting(5, doc="samples in a stable window", min=2, max=50)
    stable_spread_c: float = setting(
        0.3, doc="largest max - min inside a stable window", min=0.05, max=2.0
    )
    ambient_min_c: float = setting(
        16.0, doc="below this ambient the sensor is not ready", min=-20.0, max=30.0
    )
    ambient_max_c: float = setting(
        40.0, doc="above this ambient the sensor is not ready", min=20.0, max=60.0
    )
    ambient_rate_max_c_per_min: float = setting(
        0.5, doc="ambient drifting faster than this (°C/min) = not ready", min=0.05, max=20.0
    )
    ambient_fallback_c: float | None = setting(
        None,
        doc="room temperature assumed for modules without an ambient value (lu90614)",
        min=10.0,
        max=35.0,
    )

    def __post_init__(self) -> None:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError(
                "thermometer.reconnect_min_s must not exceed thermometer.reconnect_max_s"
            )
        if self.presence_min_c >= self.presence_max_c:
            raise ValueError("thermometer.presence_min_c must be below thermometer.presence_max_c")
        if self.ambient_min_c >= self.ambient_max_c:
            raise ValueError("thermometer.ambient_min_c must be below thermometer.ambient_max_c")
        if self.modbus_preset == "custom" and self.modbus_object_register is None:
            raise ValueError(
                'thermometer.modbus_object_register is required when modbus_preset = "custom"'
            )


@dataclass(frozen=True)
class Config:
    """Everything the kiosk is told, loaded once; pass it (or a section of it) to constructors."""

    kiosk: KioskSection = setting(factory=KioskSection, doc="identity and state")
    uplink: UplinkSection = setting(factory=UplinkSection, doc="county MQTT broker")
    thermometer: ThermometerSection = setting(
        factory=ThermometerSection, doc="serial IR thermometer and reading filter"
    )
    source: str = field(default="defaults", compare=False, metadata={"internal": True})

    @property
    def ledger_path(self) -> Path:
        return self.kiosk.state_dir / "ledger.sqlite"

    def describe(self) -> dict[str, Any]:
        """The effective config for display; secrets are masked."""
        return describe(self)

    def fingerprint(self, section: str) -> str:
        """A short hash of one section, to notice that it changed between runs."""
        blob = json.dumps(describe(getattr(self, section)), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parse(
    values: Mapping[str, Any], source: str = "dict", environ: Mapping[str, str] | None = None
) -> Config:
    """Build a Config from a TOML-shaped dict (tests use this) plus optional env overrides."""
    layers = [Layer(dict(values), source)]
    if environ is not None:
        layers.append(env_layer(environ))
    config = build(Config, layers)
    return _with_source(config, source)


def load(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file at ``path`` and apply ``KIOSK_<SECTION>__<KEY>`` overrides."""
    env = os.environ if environ is None else environ
    config = build(Config, [file_layer(path), env_layer(env)])
    return _with_source(config, str(path))


def _with_source(config: Config, source: str) -> Config:
    return replace(config, source=source)


def read_secret(
    file: Path | None, credential: str | None, environ: Mapping[str, str] | None = None
) -> str | None:
    """Read a secret from a file or a systemd credential; the value is never logged."""
    env = os.environ if environ is None else environ
    if credential is not None:
        directory = env.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ConfigError(
                [
                    ConfigProblem(
                        "uplink.password_credential",
                        f'credential "{credential}" requested but '
                        "$CREDENTIALS_DIRECTORY is not set",
                        "environment",
                    )
                ]
            )
        file = Path(directory) / credential
    if file is None:
        return None
    try:
        return file.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(
            [
                ConfigProblem(
                    "uplink.password_file", f"cannot read secret: {exc.strerror}", str(file)
                )
            ]
        ) from exc
