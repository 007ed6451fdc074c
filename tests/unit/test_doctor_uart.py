"""The doctor's serial checks judged on a board's own /dev and device tree, given as a fake
root: a Pi 5 (serial0 is the debug connector ttyAMA10, GPIO 14/15 is ttyAMA0 after
dtparam=uart0=on), a Pi 4 (serial0 is the GPIO 14/15 mini UART ttyS0) and a non-Pi."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import parse
from kiosk.doctor import uart
from kiosk.doctor.devices import check_thermometer
from kiosk.doctor.findings import Options
from kiosk.model import CheckStatus

PI5 = "Raspberry Pi 5 Model B Rev 1.0"
PI4 = "Raspberry Pi 4 Model B Rev 1.5"


def board(root: Path, model: str | None, links: dict[str, str], cmdline: str = "") -> Path:
    """A fake root: /proc/device-tree/model (NUL-terminated, as the kernel has it), /proc/cmdline,
    tty nodes (plain files) and the udev links in /dev."""
    (root / "proc/device-tree").mkdir(parents=True)
    if model is not None:
        (root / "proc/device-tree/model").write_bytes(model.encode() + b"\0")
    (root / "proc/cmdline").write_text(cmdline + "\n")
    dev = root / "dev"
    (dev / "serial/by-id").mkdir(parents=True)
    for tty in ("ttyAMA0", "ttyAMA10", "ttyS0", "ttyUSB0"):
        (dev / tty).touch()
    for name, target in links.items():
        (dev / name).symlink_to(target)
    return root


@pytest.fixture
def pi5(tmp_path: Path) -> Path:
    by_id = {"serial/by-id/usb-1a86_USB_Serial-if00-port0": "../../ttyUSB0"}
    return board(tmp_path / "pi5", PI5, {"serial0": "ttyAMA10", **by_id})


@pytest.fixture
def pi4(tmp_path: Path) -> Path:
    return board(tmp_path / "pi4", PI4, {"serial0": "ttyS0", "serial1": "ttyAMA0"})


PI5_CASES = [
    # the GPIO 14/15 UART while the console is on the debug connector: no conflict
    ("/dev/ttyAMA0", "console=serial0,115200 console=tty1 root=PARTUUID=1", None),
    ("/dev/serial0", "console=serial0,115200 console=tty1", "serial0"),  # both the debug port
    ("/dev/ttyAMA10", "console=ttyAMA10,115200", "ttyAMA10"),  # as the firmware rewrites it
    ("/dev/ttyAMA0", "console=ttyAMA0,115200", "ttyAMA0"),  # uart0_console: really a conflict
    ("/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0", "console=serial0,115200", None),
    ("/dev/ttyAMA0", "console=tty1", None),
]
PI4_CASES = [
    ("/dev/serial0", "console=serial0,115200 console=tty1", "serial0"),
    ("/dev/ttyS0", "console=serial0,115200", "serial0"),  # serial0 -> ttyS0 on this board
    ("/dev/ttyAMA0", "console=serial0,115200", None),  # serial1 (Bluetooth UART) is not it
    ("/dev/ttyS0", "console=ttyS0,115200 root=/dev/mmcblk0p2", "ttyS0"),
]


@pytest.mark.parametrize(("port", "cmdline", "expected"), PI5_CASES)
def test_console_on_a_pi5(pi5: Path, port: str, cmdline: str, expected: str | None) -> None:
    assert uart.console_on(port, cmdline, pi5) == expected


@pytest.mark.parametrize(("port", "cmdline", "expected"), PI4_CASES)
def test_console_on_a_pi4(pi4: Path, port: str, cmdline: str, expected: str | None) -> None:
    assert uart.console_on(port, cmdline, pi4) == expected


@pytest.mark.parametrize(
    ("port", "cmdline", "expected"),
    [  # no /dev/serial0 link and no Pi model: an alias is taken as the GPIO UART (fail safe)
        ("/dev/ttyAMA0", "console=serial0,115200 console=tty1 root=PARTUUID=1", "serial0"),
        ("/dev/ttyS0", "console=ttyS0,115200 root=/dev/mmcblk0p2", "ttyS0"),
        ("/dev/ttyAMA0", "console=tty1 root=PARTUUID=1", None),
        ("/dev/ttyUSB0", "console=serial0,115200 console=tty1", None),
    ],
)
def test_console_without_links(
    tmp_path: Path, port: str, cmdline: str, expected: str | None
) -> None:
    root = board(tmp_path, None, {})
    assert uart.console_on(port, cmdline, root) == expected


def test_pi5_without_a_serial0_link_uses_the_firmware_default(tmp_path: Path) -> None:
    root = board(tmp_path, PI5, {})
    assert uart.console_on("/dev/ttyAMA0", "console=serial0,115200", root) is None
    assert uart.console_on("/dev/ttyAMA10", "console=serial0,115200", root) == "serial0"


def test_header_pins_and_board(pi5: Path, pi4: Path) -> None:
    assert uart.board_model(pi5) == PI5 and uart.is_pi5(pi5) and not uart.is_pi5(pi4)
    assert not uart.on_header_pins("/dev/serial0", pi5)  # debug connector: GPIO14/15 are free
    assert uart.on_header_pins("/dev/ttyAMA0", pi5)
    assert uart.on_header_pins("/dev/serial0", pi4)
    assert uart.resolve_tty("/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0", pi5) == "ttyUSB0"


def test_a_link_loop_ends(tmp_path: Path) -> None:
    root = board(tmp_path, None, {"serial0": "serial1", "serial1": "serial0"})
    assert uart.resolve_tty("/dev/serial0", root) in ("serial0", "serial1")


def thermometer(port: str) -> object:
    values = {"kiosk": {"id": "k-001", "site": "s", "state_dir": "/tmp/x"}}
    return parse({**values, "thermometer": {"port": port}}, source="test").thermometer


def test_doctor_names_the_console_on_the_pi5_debug_port(tmp_path: Path) -> None:
    root = board(tmp_path, PI5, {"serial0": "ttyAMA10"}, "console=serial0,115200 console=tty1")
    options = Options(root=root, thermometer_s=0.2, probe=False)
    found = check_thermometer(thermometer("/dev/serial0"), options)  # type: ignore[arg-type]
    assert found.status is CheckStatus.FAIL
    assert "console=serial0" in found.detail and "(ttyAMA10)" in found.detail


def test_doctor_points_a_pi5_from_serial0_to_ttyama0(tmp_path: Path) -> None:
    """No console, but a thermometer wired to GPIO 14/15 and configured as /dev/serial0 on a
    Pi 5 reads the debug connector: the hint says where the header UART really is."""
    root = board(tmp_path, PI5, {"serial0": "ttyAMA10"}, "console=tty1")
    options = Options(root=root, thermometer_s=0.2, probe=False)
    # the doctor opens the real /dev/serial0, which this test machine does not have
    found = check_thermometer(thermometer("/dev/serial0"), options)  # type: ignore[arg-type]
    assert found.status is CheckStatus.FAIL
    assert "debug connector" in found.hint and "dtparam=uart0=on" in found.hint
    assert "/dev/ttyAMA0" in found.hint
