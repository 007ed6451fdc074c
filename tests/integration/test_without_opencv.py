"""The kiosk on a machine without OpenCV (a Pi where python3-opencv is not installed): the
command imports, and the commands that need cv2 say how to install it instead of a traceback.
(The picamera2 path without cv2: tests/integration/test_camera_missing_run.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import kiosk_cmd

pytestmark = pytest.mark.integration

HIDE_CV2 = {"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "fakecam_nocv2")}


def test_hidden_cv2_is_really_hidden() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import cv2"], capture_output=True, text=True, timeout=30,
        env={**os.environ, **HIDE_CV2}, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "hidden by tests/fakecam_nocv2" in done.stderr


def test_kiosk_imports_and_says_what_to_install(tmp_path: Path) -> None:
    assert kiosk_cmd("--help", env=HIDE_CV2).returncode == 0
    (tmp_path / "a.png").write_bytes(b"")
    for args in (("scan", str(tmp_path / "a.png")), ("demo", "--duration", "1")):
        done = kiosk_cmd(*args, env=HIDE_CV2, timeout=60)
        assert done.returncode == 2, (args, done.stderr)
        assert "sudo apt install python3-opencv" in done.stderr, args
        assert "checkpoint-kiosk[opencv]" in done.stderr and "Traceback" not in done.stderr
