"""The kiosk's one frozen configuration: schema, defaults, loading from TOML and the environment."""

from __future__ import annotations

import hashlib
import json
import os
import re
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
    password: str | None = setting(
        None,
        doc="MQTT password inline (discouraged: prefer password_file or a credential)",
        secret=True,
    )
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
        given = [self.password, self.password_file, self.password_credential]
        if sum(x is not None for x in given) > 1:
            raise ValueError(
                "give one of uplink.password, uplink.password_file, uplink.password_credential"
            )
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("uplink.reconnect_min_s must not exceed uplink.reconnect_max_s")


def _regexes(patterns: tuple[str, ...]) -> str | None:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            return f'"{pattern}" is not a regular expression: {exc}'
    return None


def _never_pass(value: str) -> str | None:
    if value in ("refer", "deny"):
        return None
    return (
        f'expected "refer" or "deny", got "{value}": '
        "a code or temperature that was not checked never passes"
    )


@dataclass(frozen=True)
class OnlineVerifySection:
    """The county's online verification service for health-code tokens (TLS always verified)."""

    url: str | None = setting(
        None, doc="https URL the kiosk POSTs tokens to; unset = tokens cannot be verified",
        pattern=r"https://[^\s/?#]+(/\S*)?",
    )  # fmt: skip
    timeout_s: float = setting(
        3.0, doc="hard limit on one verification, retries included", min=0.2, max=30
    )
    patterns: tuple[str, ...] = setting(
        (), doc="regular expressions (matched at the start) that mark a code as an online token",
        check=_regexes,
    )  # fmt: skip
    ca_file: Path | None = setting(None, doc="CA bundle (PEM) for the service; system CAs if unset")
    credential_file: Path | None = setting(None, doc="file holding the kiosk's bearer token")
    credential_name: str | None = setting(
        None,
        doc="systemd credential name holding the bearer token ($CREDENTIALS_DIRECTORY)",
        pattern=r"[A-Za-z0-9_.-]+",
    )

    def __post_init__(self) -> None:
        if self.credential_file is not None and self.credential_name is not None:
            raise ValueError(
                "give verify.online.credential_file or verify.online.credential_name, not both"
            )


@dataclass(frozen=True)
class VerifySection:
    """How codes are verified: trust lists, the subject-hash key and the online service."""

    county_trust: tuple[Path, ...] = setting(
        (), doc="files/folders of county issuer certificates (PEM or DER, CN = issuer id)"
    )
    dcc_trust: tuple[Path, ...] = setting(
        (), doc="files/folders of EU DCC signer certificates (PEM or DER)"
    )
    subject_key_file: Path | None = setting(
        None, doc="file with the kiosk's secret key (>= 16 bytes) for keyed subject hashes"
    )
    subject_key_credential: str | None = setting(
        None, doc="systemd credential name holding that key", pattern=r"[A-Za-z0-9_.-]+"
    )
    clock_skew_s: int = setting(
        300, doc="how far in the future an issue time may lie (clock skew)", min=0, max=3600
    )
    online: OnlineVerifySection = setting(
        factory=OnlineVerifySection, doc="online token verification"
    )

    def __post_init__(self) -> None:
        if self.subject_key_file is not None and self.subject_key_credential is not None:
            raise ValueError(
                "give verify.subject_key_file or verify.subject_key_credential, not both"
            )


def _statuses(values: tuple[str, ...]) -> str | None:
    if not values:
        return "list at least one accepted status"
    wrong = [v for v in values if v not in ("green", "yellow")]
    if wrong:
        return f'only "green" and "yellow" can be accepted, got "{wrong[0]}"'
    return None


@dataclass(frozen=True)
class PolicySection:
    """The rules that turn a verification and a temperature into PASS, DENY or SEE STAFF."""

    accepted_statuses: tuple[str, ...] = setting(
        ("green",), doc="code colours that may pass (green, yellow)", check=_statuses
    )
    fever_threshold_c: float = setting(
        37.3, doc="temperatures at or above this deny entry (°C)", min=35.0, max=40.0
    )
    max_test_age_h: int = setting(
        0,
        doc="a negative nucleic-acid test at most this old is required (0 = none, 24, 48, 72)",
        check=lambda v: None if v in (0, 24, 48, 72) else f"expected 0, 24, 48 or 72, got {v}",
    )
    min_vaccine_doses: int = setting(0, doc="vaccination doses required (0 = none)", min=0, max=10)
    unverified_outcome: str = setting(
        "refer",
        doc="outcome for a code that could not be verified (refer, deny)",
        check=_never_pass,
    )
    not_ready_outcome: str = setting(
        "refer", doc="outcome when no decision-grade temperature is there (refer, deny)",
        check=_never_pass,
    )  # fmt: skip


@dataclass(frozen=True)
class CameraSection:
    """Where frames come from: one source, chosen by ``source``, with that source's keys."""

    source: Literal["picamera2", "opencv", "replay", "synthetic"] = setting(
        "picamera2",
        doc="picamera2 (Raspberry Pi camera), opencv (V4L2/USB), replay (files) or synthetic",
    )
    width: int = setting(640, doc="frame width in pixels", min=160, max=4096)
    height: int = setting(480, doc="frame height in pixels", min=120, max=3072)
    fps: float = setting(
        15.0, doc="frames per second asked of the camera, or replay pace", min=0.5, max=120
    )
    camera_num: int = setting(0, doc="picamera2: which camera (0 = the first)", min=0, max=7)
    device: str = setting(
        "0", doc="opencv: camera index or device path such as /dev/video0", pattern=r"\d+|/\S+"
    )
    fourcc: str = setting(
        "MJPG",
        doc='opencv: pixel format to ask for ("" = driver default)',
        pattern=r"[A-Z0-9 ]{4}|",
    )
    reconnect_min_s: float = setting(
        0.5, doc="opencv: first wait before reopening a lost camera", min=0.05, max=60
    )
    reconnect_max_s: float = setting(
        10.0, doc="opencv: longest wait between reopen attempts", min=0.1, max=600
    )
    replay_path: Path | None = setting(
        None, doc="replay: image file, folder of images or video file"
    )
    replay_loop: bool = setting(False, doc="replay: start again at the end instead of stopping")
    synthetic_seed: int = setting(1, doc="synthetic: seed of the simulated scene", min=0, max=2**31)

    def __post_init__(self) -> None:
        if self.source == "replay" and self.replay_path is None:
            raise ValueError('camera.replay_path is required when camera.source = "replay"')
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("camera.reconnect_min_s must not exceed camera.reconnect_max_s")


@dataclass(frozen=True)
class ScannerSection:
    """How frames become codes: decoder, rate limit and de-duplication."""

    decoder: Literal["auto", "zxing", "pyzbar"] = setting(
        "auto", doc="auto (zxing-cpp + ZBar + colour-aware passes), zxing or pyzbar alone"
    )
    dedupe_window_s: float = setting(
        5.0,
        doc="the same code again within this many seconds is not reported again",
        min=0,
        max=3600,
    )
    max_decode_hz: float = setting(
        15.0,
        doc="decode at most this many frames per second; the rest are dropped",
        min=0.5,
        max=120,
    )
    queue_size: int = setting(
        4, doc="codes waiting for the checkpoint; more are dropped, not queued", min=1, max=64
    )


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
    verify: VerifySection = setting(factory=VerifySection, doc="code verification")
    policy: PolicySection = setting(factory=PolicySection, doc="decision rules")
    camera: CameraSection = setting(factory=CameraSection, doc="camera (frame source)")
    scanner: ScannerSection = setting(factory=ScannerSection, doc="QR decoding of camera frames")
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
    key: str,
    file: Path | None,
    credential: str | None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """Read a secret from a file or a systemd credential (``$CREDENTIALS_DIRECTORY/NAME``).

    ``key`` is the config key prefix named in errors (``uplink.password``); the value itself
    is never logged or shown.
    """
    env = os.environ if environ is None else environ
    source_key = f"{key}_file"
    if credential is not None:
        source_key = f"{key}_credential"
        directory = env.get("CREDENTIALS_DIRECTORY")
        if not directory:
            problem = f'credential "{credential}" requested but $CREDENTIALS_DIRECTORY is not set'
            raise ConfigError([ConfigProblem(source_key, problem, "environment")])
        file = Path(directory) / credential
    if file is None:
        return None
    try:
        return file.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(
            [ConfigProblem(source_key, f"cannot read secret: {why}", str(file))]
        ) from exc
