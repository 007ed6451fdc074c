"""The local checks of ``kiosk doctor``: state directory, disk space, outbox, clock."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

from kiosk.doctor.findings import FAIL, OK, WARN, Finding
from kiosk.service import clock
from kiosk.storage import StorageError

#: Free space below which the ledger may hit a full disk (SQLite needs room for its WAL).
DISK_FAIL_BYTES = 64 * 1024 * 1024
DISK_WARN_BYTES = 512 * 1024 * 1024
OUTBOX_WARN_AGE_S = 3600.0


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
