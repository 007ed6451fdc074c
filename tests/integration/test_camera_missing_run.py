"""``kiosk run`` on a Pi without a camera (issue 14): picamera2 raises ``IndexError`` until
the camera is attached. The service must keep running and feeding the watchdog, show the
camera notice and SEE STAFF, name the reason in /api/status, and pick the camera up when it
appears. OpenCV is hidden: the picamera2 path must not need cv2."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from kiosk.sensors.simulator import ThermometerSimulator
from kiosk.uplink.localbroker import free_port
from tests.helpers import config_dict, kiosk_popen, write_config
from tests.integration.test_run import simulator  # noqa: F401 - the pty fixture
from tests.integration.test_watchdog import FakeSystemd

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

TESTS = Path(__file__).resolve().parents[1]


def get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


def status(port: int) -> dict[str, Any]:
    return dict(json.loads(get(port, "/api/status")[1]))


def camera(doc: dict[str, Any]) -> dict[str, Any]:
    return dict(doc["health"]["workers"]["camera"])


def poll(port: int, check: Any, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            last = status(port)
            if last["health"]["workers"] and check(last):
                return last
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"not reached in {timeout} s: {last}")


def test_no_camera_is_a_notice_and_a_retry_not_a_crash_loop(
    tmp_path: Path,
    simulator: ThermometerSimulator,  # noqa: F811
) -> None:
    attached = tmp_path / "camera-attached"
    web_port = free_port()
    values = config_dict(
        tmp_path / "state", free_port(),
        uplink={"enabled": False},
        camera={"source": "picamera2"},
        thermometer={"protocol": "gy-mcu90614", "port": simulator.path},
        web={"port": web_port},
        # no restart allowed at all: a crash loop would end the service at once
        service={"stale_after_s": 2, "restart_budget": 0, "health_interval_s": 0.2},
    )  # fmt: skip
    config = write_config(tmp_path / "kiosk.toml", values)
    systemd = FakeSystemd(tmp_path / "notify")
    path = os.pathsep.join([str(TESTS / "fakecam"), str(TESTS / "fakecam_nocv2")])
    env = {
        "NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "3000000",
        "PYTHONPATH": os.pathsep.join(filter(None, [path, os.environ.get("PYTHONPATH")])),
        "FAKECAM_PRESENT": str(attached),
    }  # fmt: skip
    proc = kiosk_popen("run", "--config", str(config), env=env)
    try:
        missing = poll(web_port, lambda d: "device.camera" in d["screen"]["notices"])
        detail = camera(missing)["detail"]
        assert detail["state"] == "missing"
        assert "no camera 0 found by libcamera" in detail["problem"]
        code, page = get(web_port, "/")
        assert code == 200 and "SEE STAFF" in page and "摄像头故障" in page
        code, body = get(web_port, "/healthz")  # monitors see it, systemd does not restart
        assert code == 503 and json.loads(body)["stale"] == ["camera"]
        since = time.monotonic()
        time.sleep(5.0)  # 2.5 x stale_after_s: a restart (budget 0) would have ended it
        assert proc.poll() is None
        pings = [t for t, line in systemd.messages if line == "WATCHDOG=1" and t > since]
        assert len(pings) >= 10, systemd.messages[-5:]  # fed all along (every 0.2 s)
        assert camera(status(web_port))["restarts"] == 0
        attached.touch()  # the technician plugs the ribbon in
        back = poll(web_port, lambda d: camera(d)["fresh"])
        assert "device.camera" not in back["screen"]["notices"]
        assert camera(back)["detail"]["problem"] is None
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "no camera 0 found by libcamera" in err  # said once in the log
        assert "cv2" not in err  # OpenCV was hidden and never needed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        systemd.close()
