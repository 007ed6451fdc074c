"""kiosk doctor's local checks and verdicts, with real directories, ledgers and syscalls."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.config import parse
from kiosk.doctor.devices import PROBE_BAUDS, VARIANTS, probe_candidates
from kiosk.doctor.findings import Finding
from kiosk.doctor.host import check_disk, check_outbox, check_state_dir, clock_finding
from kiosk.doctor.run import render
from kiosk.ledger import Ledger
from kiosk.model import CheckResult, CheckStatus
from kiosk.service import clock
from kiosk.synthetic import synthetic_entry

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
FLOOR = datetime(2026, 11, 1, tzinfo=UTC)
SYNCED = clock.KernelClock(state=0, status=0x2001, maxerror_s=0.01)
UNSYNCED = clock.KernelClock(state=5, status=0x0040, maxerror_s=16.0)


@pytest.mark.parametrize(
    ("timedatectl", "flag", "kernel", "now", "status", "words"),
    [
        (True, True, SYNCED, NOW, CheckStatus.OK, "synchronised"),
        (None, None, SYNCED, NOW, CheckStatus.OK, "kernel yes"),
        (True, None, None, NOW, CheckStatus.OK, "timedatectl yes"),
        (False, False, UNSYNCED, NOW, CheckStatus.WARN, "TLS to the broker fails"),
        (None, None, None, NOW, CheckStatus.WARN, "cannot tell"),
        (True, True, SYNCED, FLOOR - timedelta(days=400), CheckStatus.FAIL, "certainly wrong"),
        (None, None, UNSYNCED, datetime(1970, 1, 1, tzinfo=UTC), CheckStatus.FAIL, "not yet valid"),
    ],
)
def test_clock_verdicts(
    timedatectl: bool | None,
    flag: bool | None,
    kernel: clock.KernelClock | None,
    now: datetime,
    status: CheckStatus,
    words: str,
) -> None:
    found = clock_finding(clock.ClockReport(timedatectl, flag, kernel, now), FLOOR)
    assert found.status is status
    assert words in found.detail
    assert (found.hint != "") == (status is not CheckStatus.OK)


@pytest.mark.parametrize(
    ("state", "status", "synced"),
    [(0, 0x2001, True), (1, 0, True), (5, 0, False), (0, 0x40, False), (5, 0x40, False)],
)
def test_kernel_clock_synchronised(state: int, status: int, synced: bool) -> None:
    assert clock.KernelClock(state, status, 0.0).synchronized is synced


def test_adjtimex_answers_on_linux() -> None:
    kernel = clock.ask_kernel()
    assert kernel is not None
    assert 0 <= kernel.state <= 5 and kernel.maxerror_s >= 0


def test_timesync_flag(tmp_path: Path) -> None:
    assert clock.timesync_flag(tmp_path / "timesync" / "synchronized") is None
    (tmp_path / "timesync").mkdir()
    assert clock.timesync_flag(tmp_path / "timesync" / "synchronized") is False
    (tmp_path / "timesync" / "synchronized").touch()
    assert clock.timesync_flag(tmp_path / "timesync" / "synchronized") is True


def test_probe_tries_the_configured_baud_first_and_never_the_configured_setup() -> None:
    section = parse({"thermometer": {"protocol": "lu90614", "baud": 115200}}).thermometer
    found = probe_candidates(section)
    assert len(found) == len(VARIANTS) * len(PROBE_BAUDS) - 1
    first = found[: len(VARIANTS) - 1]
    assert {c.baud for c in first} == {115200}
    assert ("lu90614", 115200) not in {(c.protocol, c.baud) for c in found}
    assert {c.baud for c in found} == set(PROBE_BAUDS)
    assert {(c.protocol, c.gy_mode) for c in first} >= {
        ("gy-mcu90614", "continuous"), ("gy-mcu90614", "query"),
    }  # fmt: skip


def test_state_dir_checks(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert check_state_dir(state).status is CheckStatus.WARN  # made at first start
    state.mkdir()
    found = check_state_dir(state)
    assert found.status is CheckStatus.OK and list(state.iterdir()) == []  # no probe left
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert check_state_dir(a_file).status is CheckStatus.FAIL
    assert check_state_dir(a_file / "state").status is CheckStatus.FAIL


def test_disk_thresholds(tmp_path: Path) -> None:
    assert check_disk(tmp_path, fail_bytes=0, warn_bytes=0).status is not CheckStatus.FAIL
    assert check_disk(tmp_path, fail_bytes=2**62, warn_bytes=2**62).status is CheckStatus.FAIL
    found = check_disk(tmp_path / "not" / "yet", fail_bytes=0, warn_bytes=2**62)
    assert found.status is CheckStatus.WARN and str(tmp_path) in found.detail


def test_outbox_backlog_and_no_ledger_created(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    found = check_outbox(path)
    assert found.status is CheckStatus.OK and "no ledger yet" in found.detail
    assert not path.exists()
    rng = random.Random(3)
    with Ledger(path) as ledger:
        for _ in range(3):
            ledger.commit(synthetic_entry("k-001", "s", rng))
        pending = ledger.outbox_status().pending
    assert pending >= 3  # an entry, plus an alert row for a red code or a fever
    found = check_outbox(path)
    assert found.status is CheckStatus.OK
    assert found.detail.startswith(f"{pending} pending, oldest ") and "0 parked" in found.detail


def test_render_shows_hints_only_for_problems() -> None:
    rows = [
        CheckResult("config", "配置 config", CheckStatus.OK, "fine", "never shown"),
        CheckResult("broker", "县平台 broker", CheckStatus.FAIL, "refused", "fix the port"),
    ]
    text = render(rows, Path("/etc/kiosk/kiosk.toml"))
    assert "never shown" not in text
    assert "→ fix the port" in text
    assert text.splitlines()[-1] == "无法正常工作 NOT READY: broker"
    assert Finding(CheckStatus.OK, "x").hint == ""
