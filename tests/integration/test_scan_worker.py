"""The scan worker end to end with real sources: replayed files and videos, the synthetic camera,
and an OpenCV camera that goes away and comes back."""

from __future__ import annotations

import queue
import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.model import ScannedCode
from kiosk.scanner.auto import AutoDecoder
from kiosk.scanner.opencv import OpenCvSource
from kiosk.scanner.render import Scene, render
from kiosk.scanner.replay import ReplaySource
from kiosk.scanner.synthetic import SyntheticSource
from kiosk.scanner.worker import ScanWorker
from tests.helpers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

GREEN = "https://hc.example.gov.cn/v?c=green-visitor-0001"
YELLOW = "https://hc.example.gov.cn/v?c=yellow-visitor-0002"


def drain(out: queue.Queue[ScannedCode]) -> list[ScannedCode]:
    codes = []
    while True:
        try:
            codes.append(out.get_nowait())
        except queue.Empty:
            return codes


def frame(text: str | None, colour: str = "green", seed: int = 1) -> np.ndarray:
    return render(Scene(text=text, colour=colour, phone=text is not None, seed=seed))


def test_replayed_folder_gives_each_visitor_once(tmp_path: Path) -> None:
    shots = [frame(GREEN)] * 3 + [frame(None)] + [frame(YELLOW, "yellow")] * 2
    for i, image in enumerate(shots):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), image)
    (tmp_path / "03b.png").write_bytes(b"not a picture")  # skipped with a warning
    stop = threading.Event()
    out: queue.Queue[ScannedCode] = queue.Queue(maxsize=8)
    worker = ScanWorker(
        ReplaySource(tmp_path, stop, fps=0), AutoDecoder(), out, stop, max_decode_hz=None
    ).start()
    assert worker.join(30)
    codes = drain(out)
    assert [(c.text, c.colour_hint, c.format) for c in codes] == [
        (GREEN, "green", "QRCode"),
        (YELLOW, "yellow", "QRCode"),
    ]
    health = worker.health()
    assert health.state == "ended"
    assert (health.frames, health.decoded_frames, health.codes, health.duplicates) == (6, 6, 2, 3)
    assert health.ms_per_frame is not None and health.ms_per_frame > 0


def test_replayed_video_paced_at_fps(tmp_path: Path) -> None:
    video = tmp_path / "door.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10, (640, 480))
    for image in [frame(None)] * 3 + [frame(GREEN)] * 5 + [frame(YELLOW, "yellow", 2)] * 5:
        writer.write(image)
    writer.release()
    stop = threading.Event()
    out: queue.Queue[ScannedCode] = queue.Queue(maxsize=8)
    worker = ScanWorker(ReplaySource(video, stop, fps=25), AutoDecoder(), out, stop).start()
    assert worker.join(30)
    assert [c.text for c in drain(out)] == [GREEN, YELLOW]
    health = worker.health()
    assert health.state == "ended" and 10 <= health.frames <= 13 and health.fps_in > 0


def test_synthetic_camera_follows_the_visitor_script() -> None:
    stop = threading.Event()
    out: queue.Queue[ScannedCode] = queue.Queue(maxsize=8)
    camera = SyntheticSource(stop, fps=30, seed=4)
    worker = ScanWorker(camera, AutoDecoder(), out, stop, dedupe_window_s=0.5).start()
    try:
        easy = {"code_px": 220, "blur_px": 0.0, "glare": 0.0, "tilt": 0.1, "jpeg_quality": None}
        camera.show(YELLOW, colour="yellow", **easy)
        code = out.get(timeout=10)
        assert (code.text, code.colour_hint) == (YELLOW, "yellow")
        camera.show(GREEN, colour="green", dark=True, brightness=0.8, **easy)
        code = out.get(timeout=10)
        assert (code.text, code.colour_hint) == (GREEN, "green")
        camera.show(None)  # the visitor leaves; after the window the same code counts again
        gone = worker.health().frames
        # 30 frames paced at 30 fps span more than the 0.5 s window of frame time, however
        # slowly the machine runs them (a sleep against the window races a busy machine)
        assert wait_until(lambda: worker.health().frames >= gone + 30, interval=0.02)
        drain(out)
        camera.show(GREEN, colour="red", **easy)
        code = out.get(timeout=10)
        assert (code.text, code.colour_hint) == (GREEN, "red")
        assert wait_until(
            lambda: worker.health().duplicates > 0, interval=0.02
        )  # still held: not reported again
        assert out.empty()
        health = worker.health()
        assert health.state == "running"
        assert health.last_frame_age_s is not None and health.last_frame_age_s < 5
    finally:
        stop.set()
        assert worker.join(10)
    assert worker.health().state == "stopped"


def test_busy_checkpoint_frames_are_dropped_not_queued() -> None:
    stop = threading.Event()
    out: queue.Queue[ScannedCode] = queue.Queue(maxsize=1)
    camera = SyntheticSource(stop, fps=0, seed=5)
    camera.show(GREEN, code_px=220, blur_px=0.0, glare=0.0, jpeg_quality=None)
    worker = ScanWorker(camera, AutoDecoder(), out, stop, max_decode_hz=100).start()
    try:
        assert wait_until(lambda: worker.health().dropped_busy >= 5, interval=0.02)
        camera.show(YELLOW, colour="yellow", code_px=220, blur_px=0.0, glare=0.0)
        assert wait_until(
            lambda: worker.health().rate_skipped + worker.health().dropped_busy > 20, interval=0.02
        )
        assert out.qsize() == 1 and out.get_nowait().text == GREEN  # the old code, not a backlog
        code = out.get(timeout=10)  # room again: the code in front of the camera now
        assert code.text == YELLOW
    finally:
        stop.set()
        assert worker.join(10)
    health = worker.health()
    assert health.codes == 2 and health.decoded_frames < health.frames


def test_opencv_camera_that_goes_away_and_returns(tmp_path: Path) -> None:
    """A real cv2.VideoCapture on a file that disappears and comes back: reads fail, the
    adapter backs off and reconnects, and codes flow again."""
    video = tmp_path / "cam.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10, (640, 480))
    for _ in range(4):
        writer.write(frame(GREEN))
    writer.release()
    hidden = tmp_path / "unplugged.avi"
    stop = threading.Event()
    out: queue.Queue[ScannedCode] = queue.Queue(maxsize=8)
    camera = OpenCvSource(str(video), stop, reconnect_min_s=0.05, reconnect_max_s=0.2)
    worker = ScanWorker(camera, AutoDecoder(), out, stop, dedupe_window_s=0.0).start()
    try:
        assert out.get(timeout=10).text == GREEN
        shutil.move(video, hidden)  # unplugged: the next reopen fails
        assert wait_until(lambda: worker.health().state == "waiting", interval=0.02)
        frames_while_away = worker.health().frames
        time.sleep(0.5)
        assert worker.health().frames == frames_while_away
        drain(out)
        shutil.move(hidden, video)  # plugged back in
        assert out.get(timeout=10).text == GREEN
        assert wait_until(lambda: worker.health().frames > frames_while_away, interval=0.02)
        assert camera.reconnects >= 1
    finally:
        stop.set()
        assert worker.join(10)


def test_replay_path_that_appears_later(tmp_path: Path) -> None:
    """A source whose ``open()`` fails is retried with back-off until it works."""
    folder = tmp_path / "later"
    stop = threading.Event()
    out: queue.Queue[ScannedCode] = queue.Queue(maxsize=8)
    worker = ScanWorker(ReplaySource(folder, stop), AutoDecoder(), out, stop).start()
    try:
        assert wait_until(lambda: worker.health().state == "missing", interval=0.02)
        assert "does not exist" in (worker.health().problem or "")
        folder.mkdir()
        cv2.imwrite(str(folder / "a.png"), frame(GREEN))
        assert out.get(timeout=15).text == GREEN
        assert worker.join(10)
        assert worker.health().state == "ended"
    finally:
        stop.set()
