"""The systemd watchdog against a real ``kiosk run``: notifications on a real datagram socket
stop while a worker stalls, and after the restart budget the service exits non-zero."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from kiosk.codes.qrimage import write_qr_png
from kiosk.sensors.simulator import ThermometerSimulator
from kiosk.service.supervisor import EXIT_STALLED
from kiosk.uplink.localbroker import free_port
from tests.helpers import bind_datagram, config_dict, kiosk_popen, write_config
from tests.integration.test_run import simulator  # noqa: F401 - the pty fixture

pytestmark = pytest.mark.integration


class FakeSystemd:
    """A NOTIFY_SOCKET: collects every datagram the service sends, with its arrival time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = bind_datagram(path, timeout=0.2)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            for line in data.decode().splitlines():
                self.messages.append((time.monotonic(), line))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def test_a_stalled_camera_stops_the_watchdog_and_ends_the_service_non_zero(
    tmp_path: Path,
    simulator: ThermometerSimulator,  # noqa: F811
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(12):  # 1.2 s of real frames at 10 fps ...
        write_qr_png(f"frame {i}", frames / f"{i:02d}.png")
    os.mkfifo(frames / "zz-stuck.png")  # ... then a read that never returns (a hung driver)
    web_port = free_port()
    values = config_dict(
        tmp_path / "state", free_port(),
        uplink={"enabled": False},
        camera={"source": "replay", "replay_path": str(frames), "fps": 10},
        thermometer={"protocol": "gy-mcu90614", "port": simulator.path},
        web={"port": web_port},
        service={"stale_after_s": 2, "restart_budget": 1, "health_interval_s": 0.2},
    )  # fmt: skip
    config = write_config(tmp_path / "kiosk.toml", values)
    systemd = FakeSystemd(tmp_path / "notify")
    env = {"NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "3000000"}
    started = time.monotonic()
    proc = kiosk_popen("run", "--config", str(config), env=env)
    probes: list[tuple[int, str]] = []
    prober = threading.Thread(target=probe_healthz, args=(web_port, proc, probes), daemon=True)
    prober.start()
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        systemd.close()
        prober.join(5)
    ended = time.monotonic()
    lines = [line for _, line in systemd.messages]
    assert proc.returncode == EXIT_STALLED, err
    assert "camera stalled" in err and "giving up" in err
    assert lines[0] == "READY=1" and lines[-1] == "STOPPING=1"
    pings = [t for t, line in systemd.messages if line == "WATCHDOG=1"]
    assert pings, lines  # fed while every worker was fresh
    stale = [t for t, line in systemd.messages if line == "STATUS=not fresh: camera"]
    assert stale and stale[-1] > pings[-1]  # the last word before giving up: not fresh
    # no ping once the hung camera has gone half of stale_after_s without progress; a camera
    # that is only not delivering (missing) would still be pinged for (test_camera_missing_run)
    assert ended - pings[-1] >= 1.0
    assert 4.0 <= ended - started < 40
    # /healthz: 200 while everything was fresh, 503 naming the camera while it hung
    answers = [(code, json.loads(body)) for code, body in probes]
    assert any(code == 200 and doc["status"] == "ok" for code, doc in answers), probes
    assert any(code == 503 and doc["stale"] == ["camera"] for code, doc in answers), probes


def probe_healthz(port: int, proc: subprocess.Popen[str], out: list[tuple[int, str]]) -> None:
    while proc.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            answer = conn.getresponse()
            out.append((answer.status, answer.read().decode()))
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
