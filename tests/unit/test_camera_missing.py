"""No camera attached: picamera2 raises ``IndexError``; the scan worker must stay alive, say
why, retry with back-off and pick the camera up when it appears (issue 14)."""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.fakecam.picamera2 as fake_picamera2
from kiosk.model import ScannedCode
from kiosk.scanner.base import CameraUnavailable
from kiosk.scanner.picamera import Picamera2Source
from kiosk.scanner.worker import ScanWorker
from kiosk.scanner.zxing import ZxingDecoder
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def camera_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fake picamera2 in ``sys.modules``; the camera is attached once the file exists."""
    flag = tmp_path / "attached"
    monkeypatch.setitem(sys.modules, "picamera2", fake_picamera2)
    monkeypatch.setenv("FAKECAM_PRESENT", str(flag))
    monkeypatch.setenv("FAKECAM_TEXT", "CP1:FAKECAM-VISITOR-0001")
    monkeypatch.setattr(fake_picamera2, "attempts", 0)
    yield flag


def start_worker(stop: threading.Event, out: queue.Queue[ScannedCode]) -> ScanWorker:
    return ScanWorker(
        Picamera2Source(0), ZxingDecoder(), out, stop, source_name="picamera2",
        reopen_min_s=0.05, reopen_max_s=0.4,
    ).start()  # fmt: skip


def test_picamera2_index_error_is_a_clear_reason(camera_flag: Path) -> None:
    with pytest.raises(CameraUnavailable, match="no camera 0 found by libcamera") as caught:
        Picamera2Source(0).open()
    assert isinstance(caught.value.__cause__, IndexError)


def test_picamera2_not_installed_is_a_clear_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 -> ImportError
    with pytest.raises(CameraUnavailable, match="apt install python3-picamera2"):
        Picamera2Source(0).open()


def test_no_camera_keeps_the_worker_alive_and_retries_with_back_off(camera_flag: Path) -> None:
    stop, out = threading.Event(), queue.Queue[ScannedCode](maxsize=4)
    worker = start_worker(stop, out)
    try:
        assert wait_until(lambda: worker.health().state == "missing", timeout=10.0, interval=0.02)
        time.sleep(2.0)
        health = worker.health()
        assert not worker.join(0)  # the thread did not die
        assert health.state == "missing"
        assert health.problem is not None and "no camera 0 found by libcamera" in health.problem
        assert health.retry_in_s is not None and 0 <= health.retry_in_s <= 0.4
        assert time.monotonic() - health.last_progress <= 1.5  # alive: no supervisor restart
        # back-off 0.05, 0.1, 0.2, then 0.4 s: about 7 attempts in 2 s, never a busy loop
        assert 4 <= fake_picamera2.attempts <= 10, fake_picamera2.attempts
        assert health.frames == 0 and out.empty()
    finally:
        stop.set()
        assert worker.join(5)


def test_a_camera_attached_later_is_picked_up(camera_flag: Path) -> None:
    stop, out = threading.Event(), queue.Queue[ScannedCode](maxsize=4)
    worker = start_worker(stop, out)
    try:
        assert wait_until(lambda: fake_picamera2.attempts >= 3, timeout=10.0, interval=0.02)
        assert worker.health().state == "missing"
        camera_flag.touch()
        code = out.get(timeout=10)
        assert code.text == "CP1:FAKECAM-VISITOR-0001"
        health = worker.health()
        assert health.state == "running" and health.problem is None and health.frames > 0
        # unplugged while running: capture fails, the worker goes back to retrying
        camera_flag.unlink()
        assert wait_until(lambda: worker.health().state == "missing", timeout=10.0, interval=0.02)
        assert "RuntimeError" in (worker.health().problem or "")
        assert not worker.join(0)
    finally:
        stop.set()
        assert worker.join(5)


def test_doctor_names_the_missing_camera(camera_flag: Path) -> None:
    from kiosk.config import CameraSection
    from kiosk.doctor.devices import check_camera
    from kiosk.model import CheckStatus

    found = check_camera(CameraSection(source="picamera2"), threading.Event(), 1.0)
    assert found.status is CheckStatus.FAIL
    assert "picamera2: cannot open: no camera 0 found by libcamera" in found.detail
    assert "rpicam-hello --list-cameras" in found.hint
    camera_flag.touch()
    assert check_camera(CameraSection(source="picamera2"), threading.Event(), 3.0).status in (
        CheckStatus.OK,
    )


def test_without_opencv_the_usb_camera_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kiosk.config import CameraSection
    from kiosk.scanner.factory import make_source

    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 -> ImportError
    for name in ("kiosk.scanner.cv", "kiosk.scanner.opencv"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    source = make_source(CameraSection(source="opencv"), threading.Event())
    with pytest.raises(CameraUnavailable, match=r"sudo apt install python3-opencv"):
        source.open()
    assert source.read() is None
