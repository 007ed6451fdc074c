"""scripts/install-pi.sh in a container-free simulation: a fake root (KIOSK_ROOT) and PATH
stand-ins for apt-get, systemctl, useradd ... that record every call (tests/fakesys)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-pi.sh"
FAKE = ROOT / "tests" / "fakesys" / "fake-system.sh"
COMMANDS = (
    "apt-get apt-cache dpkg dpkg-query getent groupadd useradd usermod userdel chown systemctl "
    "python3"
).split()
READ_ONLY = {"dpkg", "dpkg-query", "getent", "apt-cache", "kiosk"}  # kiosk outbox status
READ_ONLY_SYSTEMCTL = {"is-enabled", "is-active", "get-default"}

BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
RASPBIAN = (
    'PRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"\nID=raspbian\nID_LIKE=debian\nVERSION_ID="12"\n'
)
TRIXIE = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n'


@dataclass
class FakeSystem:
    root: Path
    log: Path
    state: Path
    env: dict[str, str]

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        self.log.write_text("")
        return subprocess.run(
            ["bash", str(SCRIPT), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**self.env, **env},
            check=False,
        )

    def calls(self) -> list[list[str]]:
        return [line.split() for line in self.log.read_text().splitlines()]

    def changing_calls(self) -> list[str]:
        """Calls that would change a real system (everything but look-ups)."""
        out = []
        for call in self.calls():
            if call[0] in READ_ONLY:
                continue
            if call[0] == "systemctl" and (set(call) & READ_ONLY_SYSTEMCTL):
                continue
            out.append(" ".join(call))
        return out

    def snapshot(self) -> dict[str, tuple[int, str]]:
        """Every path under the fake root with its mode and content hash."""
        found: dict[str, tuple[int, str]] = {}
        for path in sorted(self.root.rglob("*")):
            rel = str(path.relative_to(self.root))
            if path.is_symlink():
                found[rel] = (0, os.readlink(path))
            elif path.is_file():
                found[rel] = (path.stat().st_mode, hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                found[rel] = (path.stat().st_mode, "dir")
        return found


def make_system(tmp_path: Path, os_release: str | None = BOOKWORM, pi: bool = True) -> FakeSystem:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    if os_release is not None:
        (root / "etc" / "os-release").write_text(os_release)
    if pi:
        (root / "proc" / "device-tree").mkdir(parents=True)
        (root / "proc" / "device-tree" / "model").write_bytes(b"Raspberry Pi 4 Model B Rev 1.5\0")
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/bash\n")
    (root / "etc" / "group").write_text(
        "root:x:0:\nvideo:x:44:\ndialout:x:20:\nrender:x:105:\ninput:x:104:\n"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in COMMANDS:
        (bin_dir / name).symlink_to(FAKE)
    log = tmp_path / "calls.log"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "KIOSK_ROOT": str(root),
        "FAKESYS_LOG": str(log),
        "FAKESYS_STATE": str(tmp_path / "state"),
        "FAKESYS_AVAILABLE": "chromium",
        "LC_ALL": "C.UTF-8",
    }
    return FakeSystem(root, log, tmp_path / "state", env)


def test_shellcheck_is_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck is not None, "shellcheck is missing: scripts/bootstrap.sh dev installs it"
    scripts = [*sorted((ROOT / "scripts").glob("*.sh")), FAKE]
    done = subprocess.run(
        [shellcheck, "--severity=style", *map(str, scripts)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path: Path) -> None:
    system = make_system(tmp_path)
    before = system.snapshot()
    done = system.run("--dry-run")
    assert done.returncode == 0, done.stderr
    would = [line for line in done.stdout.splitlines() if line.startswith("would run: ")]
    text = "\n".join(would)
    for expected in [
        "apt-get update",
        "python3-picamera2",
        "libzbar0",
        "fonts-noto-cjk",
        "cage",
        "espeak-ng vorbis-tools",
        "web voice --if-missing",
        "chromium",
        "groupadd --system gpio",
        "--groups video,dialout,gpio kiosk",
        "--groups video,render,input,audio kiosk-screen",
        "python3 -m venv --system-site-packages",
        "--constraint",
        f"{ROOT}/examples/kiosk.toml",
        "install -d -m 0700",
        "/etc/systemd/system/kiosk.service",
        "/etc/systemd/system/kiosk-screen.service",
        "systemctl daemon-reload",
        "systemctl enable kiosk.service",
        "systemctl enable kiosk-screen.service",
    ]:
        assert expected in text, expected
    assert system.changing_calls() == []
    assert system.snapshot() == before
    assert "steps would run" in done.stderr


def test_install_then_a_second_run_changes_nothing(tmp_path: Path) -> None:
    system = make_system(tmp_path)
    first = system.run()
    assert first.returncode == 0, first.stderr
    r = system.root
    changes = system.changing_calls()
    assert any(c.startswith("apt-get install") and "python3-picamera2" in c for c in changes)
    assert any(c.startswith("pip install") and str(ROOT) in c for c in changes)
    assert "systemctl enable kiosk.service" in changes
    assert (r / "etc/systemd/system/kiosk.service").read_bytes() == (
        ROOT / "systemd/kiosk.service"
    ).read_bytes()
    assert (r / "etc/kiosk/kiosk.toml").read_bytes() == (ROOT / "examples/kiosk.toml").read_bytes()
    creds = r / "etc/kiosk/credentials"
    assert creds.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in creds.iterdir()) == [
        "mqtt_password", "session_secret", "subject_key", "verify_token",
    ]  # fmt: skip
    assert len((creds / "subject_key").read_text().strip()) >= 40  # 32 random bytes, base64
    assert (creds / "subject_key").read_text() != (creds / "session_secret").read_text()
    assert (creds / "mqtt_password").read_text() == ""  # the county's: provisioned later
    assert all(p.stat().st_mode & 0o077 == 0 for p in creds.iterdir())
    assert (r / "etc/kiosk/screen.env").read_text() == "SCREEN_BROWSER=/usr/bin/chromium\n"
    assert "pam_systemd.so" in (r / "etc/pam.d/kiosk-screen").read_text()
    groups = (r / "etc/group").read_text()
    assert "gpio:" in groups and "kiosk" in groups.split("gpio:")[1].splitlines()[0]
    assert (r / "opt/kiosk/docs/deploy.md").is_file()

    installed = system.snapshot()
    second = system.run()
    assert second.returncode == 0, second.stderr
    assert "nothing to change" in second.stderr
    assert system.changing_calls() == []
    assert system.snapshot() == installed


def test_a_changed_unit_is_reinstalled_and_the_running_kiosk_restarted(tmp_path: Path) -> None:
    system = make_system(tmp_path)
    assert system.run().returncode == 0
    (system.state / "active").write_text("kiosk.service\n")
    unit = system.root / "etc/systemd/system/kiosk.service"
    unit.write_text(unit.read_text().replace("WatchdogSec=30s", "WatchdogSec=5s"))
    config = system.root / "etc/kiosk/kiosk.toml"
    config.write_text(config.read_text() + "# the technician's edit\n")
    done = system.run()
    assert done.returncode == 0, done.stderr
    assert system.changing_calls() == ["systemctl daemon-reload", "systemctl restart kiosk.service"]
    assert f"+ install -D -m 0644 {ROOT}/systemd/kiosk.service {unit}" in done.stdout
    assert unit.read_bytes() == (ROOT / "systemd/kiosk.service").read_bytes()
    assert config.read_text().endswith("# the technician's edit\n")  # never overwritten


@pytest.mark.parametrize(
    ("os_release", "why"),
    [
        ('PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nID=debian\nVERSION_ID="11"\n', "older"),
        ('PRETTY_NAME="Raspbian GNU/Linux 10 (buster)"\nID=raspbian\nVERSION_ID="10"\n', "older"),
        (
            'PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n',
            "Ubuntu",
        ),
        ('PRETTY_NAME="Fedora Linux 40"\nID=fedora\nVERSION_ID=40\n', "Fedora"),
        (None, "no /etc/os-release"),
    ],
)
def test_refuses_an_unsupported_system_clearly(
    tmp_path: Path, os_release: str | None, why: str
) -> None:
    system = make_system(tmp_path, os_release)
    done = system.run()
    assert done.returncode == 1
    assert "unsupported system" in done.stderr and why in done.stderr
    assert "bookworm" in done.stderr
    assert system.changing_calls() == []
    assert not (system.root / "opt").exists()


@pytest.mark.parametrize("os_release", [RASPBIAN, TRIXIE])
def test_accepts_raspbian_and_newer_debian(tmp_path: Path, os_release: str) -> None:
    done = make_system(tmp_path, os_release).run("--dry-run")
    assert done.returncode == 0, done.stderr


def test_off_a_pi_the_pi_packages_are_left_out(tmp_path: Path) -> None:
    system = make_system(tmp_path, pi=False)
    done = system.run("--dry-run")
    assert done.returncode == 0, done.stderr
    assert "not a Raspberry Pi" in done.stderr
    assert "python3-picamera2" not in done.stdout and "--constraint" not in done.stdout
    assert "libzbar0" in done.stdout


@pytest.mark.parametrize("arch", ["armhf", "armel", "i386"])
def test_refuses_32_bit_clearly(tmp_path: Path, arch: str) -> None:
    system = make_system(tmp_path, RASPBIAN)
    done = system.run(FAKESYS_ARCH=arch)
    assert done.returncode == 1
    assert f"unsupported system: 32-bit ({arch})" in done.stderr
    assert "Raspberry Pi OS Lite (64-bit)" in done.stderr and "no 32-bit ARM wheels" in done.stderr
    assert system.changing_calls() == []
    assert not (system.root / "opt").exists()


def test_opencv_from_apt_on_a_pi_and_from_the_extra_elsewhere(tmp_path: Path) -> None:
    on_pi = make_system(tmp_path / "pi").run("--dry-run")
    assert on_pi.returncode == 0, on_pi.stderr
    apt = next(line for line in on_pi.stdout.splitlines() if "apt-get install" in line)
    assert "python3-opencv" in apt.split()
    pip = next(line for line in on_pi.stdout.splitlines() if "pip install" in line)
    assert "[opencv]" not in pip and "--constraint" in pip
    off_pi = make_system(tmp_path / "pc", pi=False).run("--dry-run")
    pip = next(line for line in off_pi.stdout.splitlines() if "pip install" in line)
    assert pip.endswith("[opencv]") and "python3-opencv" not in off_pi.stdout


def installed_with_a_ledger(tmp_path: Path) -> tuple[FakeSystem, Path]:
    system = make_system(tmp_path)
    assert system.run().returncode == 0
    ledger = system.root / "var/lib/kiosk/ledger.sqlite"  # as the running kiosk leaves it
    ledger.parent.mkdir(parents=True)
    ledger.write_bytes(b"SQLite format 3\0")
    return system, ledger


def test_uninstall_keeps_config_credentials_and_ledger(tmp_path: Path) -> None:
    system, ledger = installed_with_a_ledger(tmp_path)
    done = system.run("--uninstall")
    assert done.returncode == 0, done.stderr
    assert "systemctl disable kiosk.service" in system.changing_calls()
    assert not (system.root / "etc/systemd/system/kiosk.service").exists()
    assert not (system.root / "opt/kiosk").exists()
    assert ledger.read_bytes() == b"SQLite format 3\0"
    assert (system.root / "etc/kiosk/credentials/subject_key").exists()
    assert "kept /etc/kiosk" in done.stderr
    again = system.run("--uninstall")
    assert again.returncode == 0 and "nothing to remove" in again.stderr
    assert system.changing_calls() == []


def test_purge_refuses_while_entries_wait_for_the_broker(tmp_path: Path) -> None:
    system, ledger = installed_with_a_ledger(tmp_path)
    refused = system.run("--uninstall", "--purge", FAKESYS_PENDING="3")
    assert refused.returncode == 1
    assert "3 entries have not reached the broker" in refused.stderr
    assert system.changing_calls() == [] and ledger.exists()
    done = system.run("--uninstall", "--purge", FAKESYS_PENDING="0")
    assert done.returncode == 0, done.stderr
    assert not ledger.exists() and not (system.root / "etc/kiosk").exists()
    assert "userdel kiosk" in system.changing_calls()
    assert "kiosk:" not in (system.root / "etc/passwd").read_text()


def test_purge_without_uninstall_is_a_usage_error(tmp_path: Path) -> None:
    done = make_system(tmp_path).run("--purge")
    assert done.returncode == 2 and "--purge only goes with --uninstall" in done.stderr
