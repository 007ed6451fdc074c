"""What every ``kiosk doctor`` check returns and is given: statuses, titles, options, findings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kiosk.model import CheckStatus

OK, WARN, FAIL, SKIP = CheckStatus.OK, CheckStatus.WARN, CheckStatus.FAIL, CheckStatus.SKIP

DEFAULT_CREDENTIALS = Path("/etc/kiosk/credentials")

TITLES = {
    "config": "配置 config",
    "state_dir": "数据目录 state dir",
    "disk": "磁盘空间 disk space",
    "outbox": "待发送 outbox",
    "verification": "验证 verification",
    "lists": "县级名单 county lists",
    "camera": "摄像头 camera",
    "thermometer": "测温仪 thermometer",
    "broker": "县平台 broker",
    "clock": "时钟 clock",
    "gate": "闸机 gate",
}


@dataclass(frozen=True)
class Options:
    """How long each device check may take, and where secrets are read from."""

    credentials: Path | None = None  # default: $CREDENTIALS_DIRECTORY, else /etc/kiosk/credentials
    camera_s: float = 5.0
    thermometer_s: float = 3.0
    probe: bool = True  # try the other protocols and bauds when the thermometer is silent
    probe_budget_s: float = 20.0
    broker_s: float = 5.0
    root: Path = Path("/")  # where /proc and /dev are read (tests give a fake board's tree)


@dataclass(frozen=True)
class Finding:
    """What a check function returns; the runner adds the name, title and duration."""

    status: CheckStatus
    detail: str
    hint: str = ""


def secret_environ(options: Options, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment secrets are read with: the service's credentials directory when run
    by systemd, else ``--credentials`` or /etc/kiosk/credentials (the files the unit loads)."""
    env = dict(environ)
    if options.credentials is not None:
        env["CREDENTIALS_DIRECTORY"] = str(options.credentials)
    elif "CREDENTIALS_DIRECTORY" not in env and DEFAULT_CREDENTIALS.is_dir():
        env["CREDENTIALS_DIRECTORY"] = str(DEFAULT_CREDENTIALS)
    return env
