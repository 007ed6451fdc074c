"""The kiosk's one frozen configuration: schema, defaults, loading from TOML and the environment.

Each room's section lives in a module of this package; ``Config`` gathers them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config.checkpoint import CheckpointSection
from kiosk.config.codes import (
    OnlineVerifySection,
    PolicySection,
    UpdatesSection,
    VerifySection,
)
from kiosk.config.core import KioskSection
from kiosk.config.devices import CameraSection, ScannerSection, ThermometerSection
from kiosk.config.gate import GateSection
from kiosk.config.service import ServiceSection
from kiosk.config.uplink import TlsSection, UplinkSection
from kiosk.config.web import WebSection
from kiosk.confload import (
    ConfigError,
    ConfigProblem,
    describe,
    load_file,
    parse_values,
    setting,
)

__all__ = [
    "CameraSection",
    "CheckpointSection",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "GateSection",
    "KioskSection",
    "OnlineVerifySection",
    "PolicySection",
    "ScannerSection",
    "ServiceSection",
    "ThermometerSection",
    "TlsSection",
    "UpdatesSection",
    "UplinkSection",
    "VerifySection",
    "WebSection",
    "load",
    "parse",
    "read_secret",
]


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
    checkpoint: CheckpointSection = setting(
        factory=CheckpointSection, doc="the visitor flow at the door"
    )
    service: ServiceSection = setting(factory=ServiceSection, doc="self-supervision")
    web: WebSection = setting(
        factory=WebSection, doc="kiosk screen, staff page and health endpoints"
    )
    gate: GateSection = setting(factory=GateSection, doc="door relay, buzzer and LEDs (GPIO)")
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
    return parse_values(Config, values, source, environ)


def load(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file at ``path`` and apply ``KIOSK_<SECTION>__<KEY>`` overrides."""
    return load_file(Config, path, os.environ if environ is None else environ)


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
