"""``kiosk web voice`` as bootstrap, install-pi.sh and a technician run it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kiosk.web.voice import CLIP_NAMES, MIN_RMS

pytestmark = pytest.mark.integration


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "web", "voice", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_check_decodes_every_clip_and_reports_its_loudness() -> None:
    done = kiosk("--check")
    assert done.returncode == 0, done.stderr
    docs = [json.loads(line) for line in done.stdout.splitlines()]
    assert [d["clip"] for d in docs] == list(CLIP_NAMES)
    assert all(d["rms"] > MIN_RMS for d in docs), docs


def test_if_missing_builds_nothing_when_every_clip_is_there() -> None:
    done = kiosk("--if-missing")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
