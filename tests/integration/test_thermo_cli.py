"""The thermometer commands as a technician runs them: the simulator and the reader as processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

KIOSK = [sys.executable, "-m", "kiosk"]


@contextmanager
def simulator(link: Path, *args: str) -> Iterator[dict[str, object]]:
    proc = subprocess.Popen(
        [*KIOSK, "simulate", "thermometer", "--link", str(link), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["port"] == str(link) and link.is_symlink()
        yield first
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert not link.exists()  # the link goes with the simulated device


def run(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KIOSK, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_read_prints_one_json_line_per_reading(tmp_path: Path) -> None:
    link = tmp_path / "ttyGY"
    with simulator(link, "--protocol", "gy-mcu90614", "--scenario", "visitor"):
        done = run("thermometer", "read", "--port", str(link), "--count", "5", "--timeout", "10")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 5
    for doc in lines:
        assert set(doc) == {"object_c", "ambient_c", "t"}
        assert doc["ambient_c"] == 24.9 and 20.0 < doc["object_c"] < 40.0
    assert "5 readings" in done.stderr


def test_measure_prints_one_decision_grade_temperature(tmp_path: Path) -> None:
    link = tmp_path / "ttyMB"
    with simulator(link, "--protocol", "modbus", "--modbus-preset", "omega", "--unit", "3",
                   "--scenario", "visitor:36.8", "--loop"):  # fmt: skip
        done = run(
            "thermometer", "measure", "--port", str(link), "--protocol", "modbus",
            "--modbus-preset", "omega", "--unit", "3", "--timeout", "15",
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["state"] == "ok" and doc["value_c"] == pytest.approx(36.8, abs=0.15)
    assert doc["threshold_c"] == 37.3 and doc["offset_c"] == 0.0 and doc["samples"] == 5
    assert "体温正常 temperature normal" in done.stderr


def test_measure_with_a_config_file_applies_its_offset(tmp_path: Path) -> None:
    link = tmp_path / "ttyLU"
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[thermometer]\nprotocol = "lu90614"\nport = "{link}"\noffset_c = 0.4\n'
        "ambient_fallback_c = 24.0\npoll_interval_s = 0.1\n"
    )
    with simulator(link, "--protocol", "lu90614", "--scenario", "visitor:36.6", "--loop"):
        done = run("thermometer", "measure", "--config", str(config), "--timeout", "15")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["value_c"] == pytest.approx(doc["raw_object_c"] + 0.4)
    assert doc["raw_object_c"] == pytest.approx(36.6, abs=0.15) and doc["offset_c"] == 0.4


def test_measure_times_out_on_a_silent_sensor_without_a_temperature(tmp_path: Path) -> None:
    link = tmp_path / "ttyQuiet"
    with simulator(link, "--protocol", "ascii", "--scenario", "silence"):
        done = run("thermometer", "measure", "--port", str(link), "--protocol", "ascii",
                   "--timeout", "3.5")  # fmt: skip
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["state"] == "not_ready" and doc["value_c"] is None
    assert doc["reason"] == "temp.no_frames"
    assert "测温仪未就绪 thermometer not ready" in done.stderr


def test_missing_port_fails_cleanly(tmp_path: Path) -> None:
    done = run("thermometer", "read", "--port", str(tmp_path / "nothing"), "--timeout", "1")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "0 readings; state" in done.stderr and "No such file or directory" in done.stderr


def test_bad_flags_get_clear_answers(tmp_path: Path) -> None:
    bad_baud = run("thermometer", "read", "--port", "/dev/null", "--baud", "1234")
    assert bad_baud.returncode == 1
    assert "thermometer.baud: expected a standard baud rate" in bad_baud.stderr
    unknown = run("simulate", "thermometer", "--protocol", "ascii", "--scenario", "sneeze")
    assert unknown.returncode == 2 and 'unknown scenario "sneeze"' in unknown.stderr
    usage = run("thermometer", "read", "--protocol", "tn901")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


def test_simulator_exits_after_its_duration(tmp_path: Path) -> None:
    started = time.monotonic()
    done = run("simulate", "thermometer", "--protocol", "cjmcu66", "--duration", "1",
               "--link", str(tmp_path / "ttyC"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["port"] == str(tmp_path / "ttyC")
    assert time.monotonic() - started < 10
    assert not os.path.lexists(tmp_path / "ttyC")
