"""``systemd-analyze verify`` on the units, with the binaries they name made to exist."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ANALYZE = shutil.which("systemd-analyze")


def substituted(unit: Path, into: Path) -> Path:
    """A copy whose /opt/kiosk venv is this checkout's and whose cage is /bin/true: verify
    checks that every Exec binary exists, and this machine is not an installed Pi."""
    kiosk = Path(sys.executable).parent / "kiosk"
    text = unit.read_text(encoding="utf-8")
    text = text.replace("/opt/kiosk/venv/bin/kiosk", str(kiosk))
    text = text.replace("/opt/county/venv/bin/county", str(kiosk.parent / "county"))
    text = text.replace("/usr/bin/cage", shutil.which("true") or "/bin/true")
    copy = into / unit.name
    copy.write_text(text, encoding="utf-8")
    return copy


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize(
    "name", ["kiosk.service", "kiosk-screen.service", "county-ingest@.service"]
)
def test_systemd_analyze_verify_is_silent(tmp_path: Path, name: str) -> None:
    assert ANALYZE is not None
    copy = substituted(ROOT / "systemd" / name, tmp_path)
    done = subprocess.run(
        [ANALYZE, "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # verify exits 0 even for unknown keys or bad values: any message at all is a failure
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_verify_would_catch_a_misspelt_key(tmp_path: Path) -> None:
    assert ANALYZE is not None
    copy = substituted(ROOT / "systemd" / "kiosk.service", tmp_path)
    copy.write_text(copy.read_text().replace("WatchdogSec=", "WatchdogSecs="), encoding="utf-8")
    done = subprocess.run(
        [ANALYZE, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert "Unknown key" in done.stderr
