"""Which tty a serial port really is on this board, and whether the kernel console sits on it.

``/dev/serial0`` is an alias the Pi's udev rules make, and it points at different UARTs per
board: on a Pi 5 it is the 3-pin debug connector (``ttyAMA10``), while the UART on GPIO 14/15
is ``ttyAMA0`` (after ``dtparam=uart0=on``); on a Pi 4 and earlier it is the GPIO 14/15 UART
(``ttyS0`` or ``ttyAMA0``). So the doctor resolves every name through the ``/dev`` links
under ``root`` (``/`` on a kiosk, a fake tree in tests) instead of guessing from the name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: ttys that drive the GPIO 14/15 pins (header pins 8 and 10) on every Pi model.
HEADER_UARTS = ("ttyAMA0", "ttyS0")
PI5_DEBUG_UART = "ttyAMA10"
_UART_PREFIXES = ("ttyAMA", "ttyS")


def board_model(root: Path = Path("/")) -> str:
    """The device tree's model string (``Raspberry Pi 5 Model B Rev 1.0``), or ``""``."""
    try:
        return (root / "proc/device-tree/model").read_text(errors="replace").strip("\0\n ")
    except OSError:
        return ""


def is_pi5(root: Path = Path("/")) -> bool:
    return board_model(root).startswith("Raspberry Pi 5")


def resolve_tty(port: str, root: Path = Path("/")) -> str:
    """The tty name ``port`` leads to (``/dev/serial0`` -> ``ttyAMA10``), following symlinks
    inside ``root``; a name that does not resolve is returned as its base name. A bare alias
    such as ``serial0`` (as in ``console=serial0``) is looked up in ``/dev``."""
    path = port if port.startswith("/") else f"/dev/{port}"
    for _ in range(16):  # a link loop ends here rather than hanging the doctor
        full = root / path.lstrip("/")
        if not full.is_symlink():
            break
        target = os.readlink(full)
        base = "/" if target.startswith("/") else os.path.dirname(path)
        path = os.path.normpath(os.path.join(base, target))
    return os.path.basename(path)


def _alias_tty(alias: str, root: Path) -> str | None:
    """Where ``serialN`` points, or None when this system has no such link."""
    name = resolve_tty(alias, root)
    if name != alias:
        return name
    if alias == "serial0" and is_pi5(root):
        return PI5_DEBUG_UART  # the firmware's default alias on a Pi 5
    return None


def console_on(port: str, cmdline: str, root: Path = Path("/")) -> str | None:
    """The ``console=`` entry of the kernel command line that is the same UART as ``port``,
    if any (the console would answer the thermometer and eat its bytes)."""
    tty = resolve_tty(port, root)
    if not tty.startswith(_UART_PREFIXES):
        return None  # a USB adapter (ttyUSB/ttyACM) never carries the console here
    for console in re.findall(r"console=([^,\s]+)", cmdline):
        if console.startswith("serial"):
            target = _alias_tty(console, root)
            if target == tty or (target is None and tty in HEADER_UARTS):
                return str(console)  # an alias we cannot resolve: assume the primary UART
        elif console == tty:
            return str(console)
    return None


def on_header_pins(port: str, root: Path = Path("/")) -> bool:
    """Whether ``port`` is the UART on GPIO 14/15 (so those pins cannot drive gate outputs)."""
    return resolve_tty(port, root) in HEADER_UARTS


def debug_connector_note(port: str, root: Path = Path("/")) -> str | None:
    """On a Pi 5, a port that leads to the debug connector: say where GPIO 14/15 really is."""
    if is_pi5(root) and resolve_tty(port, root) == PI5_DEBUG_UART:
        return (
            f"{port} is the Pi 5's 3-pin debug connector ({PI5_DEBUG_UART}), not GPIO 14/15: "
            "for a thermometer on header pins 8/10 add dtparam=uart0=on to "
            '/boot/firmware/config.txt, reboot, and set thermometer.port = "/dev/ttyAMA0"'
        )
    return None
