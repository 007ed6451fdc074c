"""The systemd units: keys that must hold, parsed the way systemd reads them (always runs)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "systemd"

Unit = dict[str, list[tuple[str, str]]]


def parse_unit(path: Path) -> Unit:
    """Sections of ``KEY=value`` lines; keys may repeat (systemd keeps each)."""
    sections: Unit = {}
    current: list[tuple[str, str]] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            assert line.endswith("]"), f"{path.name}:{number}: bad section header"
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path.name}:{number}: key outside a section"
        assert "=" in line, f"{path.name}:{number}: not KEY=value: {line}"
        key, _, value = line.partition("=")
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()), f"{path.name}:{number}: {key}"
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: Unit, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def one(unit: Unit, section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"[{section}] {key}: expected once, found {found}"
    return found[0]


def seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|min)?", text)
    assert match, f"not a simple time span: {text}"
    return float(match[1]) * {"ms": 0.001, "s": 1.0, "min": 60.0, None: 1.0}[match[2]]


@pytest.fixture(scope="module")
def kiosk() -> Unit:
    return parse_unit(UNITS / "kiosk.service")


@pytest.fixture(scope="module")
def screen() -> Unit:
    return parse_unit(UNITS / "kiosk-screen.service")


def test_kiosk_is_a_notify_service_with_a_watchdog(kiosk: Unit) -> None:
    assert one(kiosk, "Service", "Type") == "notify"
    assert one(kiosk, "Service", "NotifyAccess") == "main"
    assert 10 <= seconds(one(kiosk, "Service", "WatchdogSec")) <= 120
    assert one(kiosk, "Service", "Restart") == "on-failure"
    assert seconds(one(kiosk, "Service", "RestartSec")) >= 1
    assert seconds(one(kiosk, "Service", "TimeoutStopSec")) >= 30  # time to flush the uplink


def test_kiosk_runs_checked_config_from_the_venv(kiosk: Unit) -> None:
    assert one(kiosk, "Service", "ExecStartPre") == (
        "/opt/kiosk/venv/bin/kiosk config check /etc/kiosk/kiosk.toml"
    )
    assert one(kiosk, "Service", "ExecStart") == (
        "/opt/kiosk/venv/bin/kiosk run --config /etc/kiosk/kiosk.toml"
    )


def test_kiosk_wants_but_never_requires_the_network(kiosk: Unit) -> None:
    assert "network-online.target" in " ".join(values(kiosk, "Unit", "Wants")).split()
    assert "network-online.target" in " ".join(values(kiosk, "Unit", "After")).split()
    assert values(kiosk, "Unit", "Requires") == []
    assert values(kiosk, "Unit", "BindsTo") == []
    assert one(kiosk, "Install", "WantedBy") == "multi-user.target"


def test_kiosk_runs_as_its_own_user_with_just_its_groups(kiosk: Unit) -> None:
    assert one(kiosk, "Service", "User") == "kiosk"
    assert one(kiosk, "Service", "Group") == "kiosk"
    assert sorted(one(kiosk, "Service", "SupplementaryGroups").split()) == [
        "dialout", "gpio", "video",
    ]  # fmt: skip
    assert one(kiosk, "Service", "StateDirectory") == "kiosk"
    assert one(kiosk, "Service", "ConfigurationDirectory") == "kiosk"


def test_secrets_come_from_credentials_named_like_the_example_config(kiosk: Unit) -> None:
    loaded = dict(v.split(":", 1) for v in values(kiosk, "Service", "LoadCredential"))
    assert set(loaded) == {"mqtt_password", "subject_key", "verify_token", "session_secret"}
    assert all(path == f"/etc/kiosk/credentials/{name}" for name, path in loaded.items())
    example = tomllib.loads((ROOT / "examples" / "kiosk.toml").read_text(encoding="utf-8"))
    assert example["uplink"]["password_credential"] in loaded
    assert example["verify"]["subject_key_credential"] in loaded
    assert values(kiosk, "Service", "Environment") == ["PYTHONDONTWRITEBYTECODE=1"]  # no secrets


def test_hardening_keeps_the_devices_the_kiosk_needs(kiosk: Unit) -> None:
    for key, value in [
        ("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"), ("DevicePolicy", "closed"), ("CapabilityBoundingSet", ""),
    ]:  # fmt: skip
        assert one(kiosk, "Service", key) == value, key
    allowed = {v.split()[0] for v in values(kiosk, "Service", "DeviceAllow")}
    assert allowed == {
        "char-video4linux", "char-media", "char-dma_heap",  # cameras, libcamera
        "char-ttyUSB", "char-ttyACM", "char-ttyAMA", "char-ttyS",  # thermometers
        "char-gpiochip",  # gate
    }  # fmt: skip
    # every class is a name of /proc/devices' character section; vchiq is a misc device
    # (major 10) there, so char-vchiq would match nothing
    assert "char-vchiq" not in allowed and "char-misc" not in allowed
    assert all(v.endswith(" rw") for v in values(kiosk, "Service", "DeviceAllow"))
    assert values(kiosk, "Service", "PrivateDevices") == []  # it would hide the camera
    assert "AF_NETLINK" in one(kiosk, "Service", "RestrictAddressFamilies").split()


def test_usb_tty_drivers_load_before_the_device_allow_list(kiosk: Unit) -> None:
    """DeviceAllow=char-ttyUSB/char-ttyACM resolve through /proc/devices at start: the drivers
    that register those majors (usbserial, cdc_acm) must be loaded first, ordered before."""
    wanted = " ".join(values(kiosk, "Unit", "Wants")).split()
    after = " ".join(values(kiosk, "Unit", "After")).split()
    for module in ("usbserial", "cdc_acm"):
        assert f"modprobe@{module}.service" in wanted, module
        assert f"modprobe@{module}.service" in after, module
    allowed = {v.split()[0] for v in values(kiosk, "Service", "DeviceAllow")}
    assert {"char-ttyUSB", "char-ttyACM"} <= allowed


def test_screen_shows_the_local_page_and_comes_back(screen: Unit) -> None:
    start = one(screen, "Service", "ExecStart")
    assert start.startswith("/usr/bin/env XDG_RUNTIME_DIR=%t/kiosk-screen /usr/bin/cage ")
    assert "--kiosk" in start.split() and "${SCREEN_URL}" in start
    assert "SCREEN_URL=http://127.0.0.1:8080/" in values(screen, "Service", "Environment")
    assert one(screen, "Service", "Restart") == "always"
    assert "kiosk.service" in " ".join(values(screen, "Unit", "Wants")).split()
    assert "kiosk.service" in " ".join(values(screen, "Unit", "After")).split()
    assert one(screen, "Service", "User") == "kiosk-screen"
    assert one(screen, "Service", "PAMName") == "kiosk-screen"
    assert values(screen, "Unit", "Requires") == []


def test_screen_has_a_runtime_directory_that_the_hardening_leaves_writable(screen: Unit) -> None:
    """ProtectHome=yes hides /run/user/<uid> (pam_systemd's XDG_RUNTIME_DIR): cage's Wayland
    socket goes to the unit's own RuntimeDirectory, set in ExecStart so PAM cannot override it
    (tests/integration/test_screen_sandbox.py starts cage under these options)."""
    assert one(screen, "Service", "RuntimeDirectory") == "kiosk-screen"
    assert one(screen, "Service", "RuntimeDirectoryMode") == "0700"
    assert one(screen, "Service", "ProtectHome") == "yes"
    assert one(screen, "Service", "ProtectSystem") == "strict"
    env = [v for v in values(screen, "Service", "Environment") if v.startswith("XDG_RUNTIME")]
    assert env == []  # an Environment= line would lose against the PAM session's value


def test_the_parser_rejects_what_systemd_would_not_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.service"
    bad.write_text("Type=notify\n[Service]\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="key outside a section"):
        parse_unit(bad)
    bad.write_text("[Service]\nWatchdog Sec=30\n", encoding="utf-8")
    with pytest.raises(AssertionError):
        parse_unit(bad)
