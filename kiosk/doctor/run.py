"""``kiosk doctor``: one table of checks, each with a fix hint; FAIL means the kiosk cannot work.

Devices are checked in ``kiosk.doctor_devices``; this module holds the local checks (config,
state directory, disk, outbox, verification, clock), the runner and the table.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kiosk.config import Config, ConfigError, load
from kiosk.model import CheckResult, CheckStatus
from kiosk.service import clock
from kiosk.storage import StorageError

logger = logging.getLogger(__name__)

OK, WARN, FAIL, SKIP = CheckStatus.OK, CheckStatus.WARN, CheckStatus.FAIL, CheckStatus.SKIP

#: Free space below which the ledger may hit a full disk (SQLite needs room for its WAL).
DISK_FAIL_BYTES = 64 * 1024 * 1024
DISK_WARN_BYTES = 512 * 1024 * 1024
OUTBOX_WARN_AGE_S = 3600.0
DEFAULT_CREDENTIALS = Path("/etc/kiosk/credentials")

TITLES = {
    "config": "配置 config",
    "state_dir": "数据目录 state dir",
    "disk": "磁盘空间 disk space",
    "outbox": "待发送 outbox",
    "verification": "验证 verification",
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


def _timed(name: str, check: Callable[[], Finding]) -> CheckResult:
    started = time.monotonic()
    try:
        found = check()
    except Exception as exc:  # a diagnostic must report any adapter failure, not die of it
        logger.debug("check %s raised", name, exc_info=True)
        found = Finding(FAIL, f"{type(exc).__name__}: {exc}", "see the message above / 见上")
    return CheckResult(
        name, TITLES[name], found.status, found.detail, found.hint, time.monotonic() - started
    )


def run_checks(
    config_path: Path,
    stop: threading.Event,
    options: Options | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[CheckResult]:
    """Run every check in order; a broken config skips those that need it."""
    from kiosk.doctor import devices as dev

    opts = options or Options()
    env = secret_environ(opts, os.environ if environ is None else environ)
    config: Config | None = None

    def config_check() -> Finding:
        nonlocal config
        try:
            config = load(config_path, environ=env)
        except ConfigError as exc:
            return Finding(
                FAIL,
                "; ".join(str(p) for p in exc.problems),
                f"修改配置 / fix the keys named; kiosk config check {config_path}",
            )
        return Finding(OK, f"kiosk {config.kiosk.id} at {config.kiosk.site} ({config_path})")

    results = [_timed("config", config_check)]
    if config is None:
        skipped = [n for n in TITLES if n not in ("config", "clock")]
        results += [
            CheckResult(n, TITLES[n], SKIP, "config not loaded", "fix the config first")
            for n in skipped
        ]
        results.append(_timed("clock", lambda: check_clock(None)))
        return results
    cfg: Config = config
    checks: list[tuple[str, Callable[[], Finding]]] = [
        ("state_dir", lambda: check_state_dir(cfg.kiosk.state_dir)),
        ("disk", lambda: check_disk(cfg.kiosk.state_dir)),
        ("outbox", lambda: check_outbox(cfg.ledger_path)),
        ("verification", lambda: dev.check_verification(cfg, env)),
        ("camera", lambda: dev.check_camera(cfg.camera, stop, opts.camera_s)),
        ("thermometer", lambda: dev.check_thermometer(cfg.thermometer, opts)),
        ("broker", lambda: dev.check_broker(cfg, env, opts.broker_s)),
        ("clock", lambda: check_clock(cfg.ledger_path)),
        ("gate", lambda: dev.check_gate(cfg)),
    ]
    for name, check in checks:
        if stop.is_set():
            results.append(CheckResult(name, TITLES[name], SKIP, "interrupted"))
            continue
        results.append(_timed(name, check))
    return results


def blocking(results: list[CheckResult]) -> list[str]:
    """Names of the checks that block operation."""
    return [r.name for r in results if r.status is FAIL]


def check_state_dir(state_dir: Path) -> Finding:
    """The ledger's directory exists (or can be made) and takes a synced write."""
    if not state_dir.exists():
        parent = next((p for p in state_dir.parents if p.exists()), Path("/"))
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return Finding(
                WARN,
                f"{state_dir} does not exist yet; it is made at the first start",
                "systemd makes it (StateDirectory=kiosk) / 首次启动时创建",
            )
        return Finding(
            FAIL,
            f"{state_dir} does not exist and {parent} is not writable",
            f"创建目录 / sudo install -d -o kiosk -g kiosk -m 0750 {state_dir}",
        )
    if not state_dir.is_dir():
        return Finding(FAIL, f"{state_dir} is not a directory", "set kiosk.state_dir to a folder")
    probe = state_dir / f".doctor-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"kiosk doctor\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        return Finding(
            FAIL,
            f"cannot write in {state_dir}: {exc.strerror}",
            f"数据目录须可写 / sudo chown -R kiosk:kiosk {state_dir}; "
            "a read-only or full file system?",
        )
    who = "root" if os.geteuid() == 0 else f"uid {os.geteuid()}"
    return Finding(OK, f"{state_dir} writable (checked as {who})")


def check_disk(
    state_dir: Path, fail_bytes: int = DISK_FAIL_BYTES, warn_bytes: int = DISK_WARN_BYTES
) -> Finding:
    """Free space where the ledger lives (or would live)."""
    where = next((p for p in (state_dir, *state_dir.parents) if p.exists()), Path("/"))
    usage = shutil.disk_usage(where)
    free_mib = usage.free / 2**20
    detail = f"{free_mib:,.0f} MiB free of {usage.total / 2**20:,.0f} MiB on {where}"
    hint = "释放空间 / free space: sudo journalctl --vacuum-size=100M; apt-get clean"
    if usage.free < fail_bytes:
        return Finding(FAIL, detail + ": the ledger cannot take new entries", hint)
    if usage.free < warn_bytes or usage.free < usage.total * 0.05:
        return Finding(WARN, detail, hint)
    return Finding(OK, detail)


def check_outbox(ledger_path: Path) -> Finding:
    """Backlog waiting for the broker; the ledger file is never created here (a root-owned
    file would lock the service out of its own state directory)."""
    from kiosk.ledger import Ledger

    if not ledger_path.exists():
        return Finding(OK, f"no ledger yet ({ledger_path} is made at the first start)")
    try:
        with Ledger(ledger_path) as ledger:
            status = ledger.outbox_status()
    except StorageError as exc:
        return Finding(FAIL, str(exc), "账本不可读 / check permissions; restore from backup")
    age = "" if status.oldest_age_s is None else f", oldest {status.oldest_age_s:,.0f} s old"
    detail = f"{status.pending} pending{age}, {status.parked} parked"
    if status.parked:
        return Finding(
            WARN,
            detail + " (refused by the broker)",
            "检查ACL / check the broker's ACL for this kiosk, then: kiosk outbox retry",
        )
    if status.oldest_age_s is not None and status.oldest_age_s > OUTBOX_WARN_AGE_S:
        return Finding(WARN, detail, "entries wait for the broker: see the broker row / 见县平台")
    return Finding(OK, detail)


def clock_finding(report: clock.ClockReport, floor: datetime) -> Finding:
    """Pure verdict: before ``floor`` the clock is certainly wrong (FAIL); unsynchronised is
    a WARN, because the kiosk keeps working and queues entries until TLS works again."""
    shown = report.now.strftime("%Y-%m-%d %H:%M:%S UTC")
    if report.now < floor:
        return Finding(
            FAIL,
            f"clock reads {shown}, before {floor:%Y-%m-%d}: it is certainly wrong; TLS "
            "certificates look not yet valid and passes are judged at the wrong time",
            "联网等待NTP / connect the network and wait for NTP (timedatectl timesync-status), "
            "or set it: sudo date -s 'YYYY-MM-DD HH:MM'; a Pi 5 RTC battery keeps it",
        )
    synced = report.synchronized
    if synced:
        return Finding(OK, f"{shown}, synchronised ({report.sources()})")
    why = "not synchronised" if synced is False else "cannot tell whether it is synchronised"
    return Finding(
        WARN,
        f"{shown}, {why} ({report.sources()}). Until NTP answers, the time is the last "
        "shutdown's: TLS to the broker fails if that lies outside a certificate's validity "
        "(entries wait in the outbox), and expiry checks of passes use this time",
        "检查NTP / allow UDP 123 to the NTP servers; timedatectl timesync-status",
    )


def check_clock(ledger_path: Path | None) -> Finding:
    floor = clock.RELEASE_FLOOR
    if ledger_path is not None and ledger_path.exists():
        floor = max(floor, _newest_entry(ledger_path) or floor)
    return clock_finding(clock.report(), floor)


def _newest_entry(ledger_path: Path) -> datetime | None:
    from kiosk.ledger import Ledger

    try:
        with Ledger(ledger_path) as ledger:
            latest = ledger.latest(1)
    except StorageError:
        return None
    return latest[0][0].ts if latest else None


MARKS = {OK: "✓ ok  ", WARN: "! warn", FAIL: "✗ FAIL", SKIP: "- skip"}


def render(results: list[CheckResult], config_path: Path) -> str:
    """The table for people: one line per check, the hint under each one not ok."""
    width = max(_columns(r.title) for r in results)
    lines = [f"kiosk doctor 自检 — {config_path}"]
    for r in results:
        title = r.title + " " * (width - _columns(r.title))
        lines.append(f"{MARKS[r.status]}  {title}  {r.detail}")
        if r.hint and r.status is not OK:
            lines.append(f"{'':6}  {'':{width}}  → {r.hint}")
    failed = blocking(results)
    if failed:
        lines.append(f"无法正常工作 NOT READY: {', '.join(failed)}")
    else:
        lines.append("可以工作 READY" + (" (with warnings)" if _warned(results) else ""))
    return "\n".join(lines)


def _columns(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _warned(results: list[CheckResult]) -> bool:
    return any(r.status is WARN for r in results)
