"""sd_notify over a real unix datagram socket standing in for systemd's $NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.service.sdnotify import Notifier, socket_address, watchdog_timeout
from tests.helpers import bind_datagram


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify"
    sock = bind_datagram(path)
    yield sock, str(path)
    sock.close()


def received(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_status_watchdog_stopping_reach_systemd(systemd: tuple[socket.socket, str]) -> None:
    sock, path = systemd
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    notifier = Notifier(env)
    assert notifier.enabled and notifier.watchdog_timeout == 30.0
    assert notifier.watchdog_interval == 15.0
    assert notifier.ready("serving 服务中")
    assert received(sock) == ["READY=1", "STATUS=serving 服务中"]
    assert notifier.watchdog()
    assert received(sock) == ["WATCHDOG=1"]
    assert notifier.status("outbox 3 pending\nsecond line")
    assert received(sock) == ["STATUS=outbox 3 pending second line"]  # one line, always
    assert notifier.extend_timeout(20)
    assert received(sock) == ["EXTEND_TIMEOUT_USEC=20000000"]
    assert notifier.stopping()
    assert received(sock) == ["STOPPING=1"]
    notifier.close()


def test_abstract_namespace_socket() -> None:
    name = f"kiosk-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        notifier = Notifier({"NOTIFY_SOCKET": f"@{name}"})
        assert notifier.ready()
        assert received(sock) == ["READY=1"]
        notifier.close()


def test_without_systemd_everything_is_a_quiet_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    assert notifier.stopping() is False


def test_no_watchdog_ping_when_none_is_armed(systemd: tuple[socket.socket, str]) -> None:
    sock, path = systemd
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.watchdog() is False
    assert notifier.ready()
    assert received(sock) == ["READY=1"]  # nothing queued before it
    notifier.close()


def test_a_vanished_socket_returns_false_and_never_raises(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.enabled
    assert notifier.ready() is False
    assert notifier.ready() is False
    notifier.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/run/systemd/notify", "/run/systemd/notify"),
        ("@kiosk/notify", b"\0kiosk/notify"),
        ("", None),
        ("@", None),
        ("relative/path", None),
        ("vsock:2:1234", None),
    ],
)
def test_socket_address(value: str, expected: str | bytes | None) -> None:
    assert socket_address(value) == expected


@pytest.mark.parametrize(
    ("env", "pid", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 10, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "10"}, 10, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "11"}, 10, None),  # meant for another
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"}, 10, None),
        ({"WATCHDOG_USEC": "0"}, 10, None),
        ({"WATCHDOG_USEC": "-5"}, 10, None),
        ({"WATCHDOG_USEC": "lots"}, 10, None),
        ({}, 10, None),
    ],
)
def test_watchdog_timeout(env: dict[str, str], pid: int, expected: float | None) -> None:
    assert watchdog_timeout(env, pid) == expected


def test_a_child_with_inherited_variables_does_not_ping(systemd: tuple[socket.socket, str]) -> None:
    _sock, path = systemd
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    notifier = Notifier(env, pid=4242)
    assert notifier.watchdog_timeout is None
    assert notifier.watchdog() is False
