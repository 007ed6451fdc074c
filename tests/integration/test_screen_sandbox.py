"""kiosk-screen.service's command line, started the way the unit starts it: its sandbox
options reproduced with a private mount namespace (``unshare``), a non-root user and the PAM
session's environment, then the real ``cage`` (headless wlroots backend: this machine has no
display) with a Wayland client standing in for Chromium.

Why not ``systemd-run``: it needs systemd as PID 1, which test machines and containers often
lack (this one runs another init). What is reproduced from the unit file, option by option:
``ProtectSystem=strict`` (every mount read-only except /proc, /sys, /dev), ``ProtectHome=yes``
(/home, /root, /run/user inaccessible), ``PrivateTmp=yes``, ``RuntimeDirectory=`` (+ mode,
owned by the user, writable), ``StateDirectory=`` (writable), ``NoNewPrivileges=yes``,
``Environment=``, and pam_systemd's ``XDG_RUNTIME_DIR=/run/user/<uid>`` (logind makes that
directory before the sandbox hides it). Options the test does not know make it fail, so a new
one cannot slip past unreproduced.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.test_units import ROOT, Unit, parse_unit, values

pytestmark = pytest.mark.integration

UID = 65534  # nobody: stands in for the kiosk-screen user
TOOLS = [shutil.which(n) for n in ("unshare", "setpriv", "cage", "wayland-info")]
NEEDS = pytest.mark.skipif(
    os.geteuid() != 0 or None in TOOLS,
    reason="needs root, unshare, setpriv, cage and wayland-info (apt install cage wayland-utils)",
)
#: Service keys this harness reproduces or that do not change the file system view.
KNOWN = {
    "Type", "User", "Group", "SupplementaryGroups", "PAMName", "TTYPath", "TTYReset",
    "TTYVHangup", "TTYVTDisallocate", "StandardInput", "StandardOutput", "StandardError",
    "UtmpIdentifier", "UtmpMode", "StateDirectory", "RuntimeDirectory", "RuntimeDirectoryMode",
    "Environment", "EnvironmentFile", "ExecStart", "Restart", "RestartSec", "ProtectSystem",
    "ProtectHome", "PrivateTmp", "NoNewPrivileges",
}  # fmt: skip

#: Stands in for Chromium: a Wayland client of the compositor, then it exits (so does cage).
BROWSER = """#!/bin/sh
{ echo "socket=$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY"; echo "args=$*"; wayland-info; } \
  >"$HOME/browser.out" 2>&1
"""


def one(unit: Unit, key: str) -> str:
    found = values(unit, "Service", key)
    return found[0] if found else ""


def sandbox_script(unit: Unit, test_dir: Path) -> str:
    """A shell script for ``unshare --mount``: the unit's mounts, then its command line as the
    unit's user, with the environment systemd and the PAM session would give it."""
    unknown = {k for k, _ in unit["Service"]} - KNOWN
    assert not unknown, (
        f"kiosk-screen.service has options this harness does not reproduce: {unknown}"
    )
    state = "/run/sbx/state"  # %S; the unit's StateDirectory= is made below it
    home = f"{state}/{one(unit, 'StateDirectory')}"
    runtime = one(unit, "RuntimeDirectory")
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "USER": "kiosk-screen", "LOGNAME": "kiosk-screen", "SHELL": "/usr/sbin/nologin",
        "XDG_RUNTIME_DIR": f"/run/user/{UID}", "XDG_SESSION_ID": "1",  # pam_systemd's
        "XDG_SESSION_TYPE": "tty", "XDG_SEAT": "seat0",
        "WLR_BACKENDS": "headless", "WLR_LIBINPUT_NO_DEVICES": "1", "WLR_RENDERER": "pixman",
    }  # fmt: skip
    for line in values(unit, "Service", "Environment"):
        key, _, value = line.partition("=")
        env[key] = value.replace("%S", state)
    env["SCREEN_BROWSER"] = "/run/sbx/browser"  # what /etc/kiosk/screen.env would name
    if runtime:
        env["RUNTIME_DIRECTORY"] = f"/run/{runtime}"
    command = one(unit, "ExecStart").replace("%S", state).replace("%t", "/run")
    command = re.sub(r"\$\{(\w+)\}", lambda m: env[m[1]], command)
    lines = [
        "set -eu",
        "mount -t tmpfs -o mode=755 tmpfs /run",  # a /run of our own, as on a booted system
        f"mkdir -p /run/sbx /run/user/{UID}",
        f"chown {UID}:{UID} /run/user/{UID} && chmod 700 /run/user/{UID}",  # logind's
        f"mount --bind {shlex.quote(str(test_dir))} /run/sbx",
        f"mkdir -p {home} && chown -R {UID}:{UID} /run/sbx",
    ]
    if runtime:
        mode = one(unit, "RuntimeDirectoryMode") or "0755"
        lines.append(f"mkdir -p /run/{runtime} && chown {UID}:{UID} /run/{runtime}")
        lines.append(f"chmod {mode} /run/{runtime}")
    protect_system = one(unit, "ProtectSystem")
    assert protect_system in ("", "no", "strict"), protect_system
    if protect_system == "strict":
        lines += [
            "for mp in $(awk '{print $5}' /proc/self/mountinfo); do",
            "  case $mp in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac",
            '  mount -o remount,bind,ro "$mp" 2>/dev/null || true',
            "done",
        ]
        writable = [home, f"/run/{runtime}"] if runtime else [home]
        for path in writable:  # StateDirectory= and RuntimeDirectory= stay writable
            lines.append(f"mount --bind {path} {path} && mount -o remount,bind,rw {path}")
    protect_home = one(unit, "ProtectHome")
    assert protect_home in ("", "no", "yes"), protect_home
    if protect_home == "yes":
        for path in ("/home", "/root", "/run/user"):
            lines.append(f"[ -d {path} ] && mount -t tmpfs -o ro,mode=000 tmpfs {path}")
    if one(unit, "PrivateTmp") == "yes":
        lines += [
            "mount -t tmpfs -o mode=1777 tmpfs /tmp",
            "mount -t tmpfs -o mode=1777 tmpfs /var/tmp",
        ]
    nnp = "--no-new-privs" if one(unit, "NoNewPrivileges") == "yes" else ""
    assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
    lines.append(
        f"cd {home} && exec timeout 30 setpriv --reuid={UID} --regid={UID} --clear-groups {nnp} "
        f"env -i {assignments} {command}"
    )
    return "\n".join(lines) + "\n"


def start(unit: Unit, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    tmp_path.chmod(0o755)
    (tmp_path / "browser").write_text(BROWSER)
    (tmp_path / "browser").chmod(0o755)
    script = tmp_path / "sandbox.sh"
    script.write_text(sandbox_script(unit, tmp_path))
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--fork", "sh", str(script)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    out = tmp_path / "state" / one(unit, "StateDirectory") / "browser.out"
    return done, out.read_text() if out.exists() else ""


@NEEDS
def test_cage_starts_under_the_units_sandbox(tmp_path: Path) -> None:
    unit = parse_unit(ROOT / "systemd" / "kiosk-screen.service")
    done, browser = start(unit, tmp_path)
    assert "socket=/run/kiosk-screen/wayland-" in browser, done.stderr + browser
    assert "wl_compositor" in browser and "xdg_wm_base" in browser  # a client got through
    assert "--kiosk" in browser and "http://127.0.0.1:8080/" in browser  # the unit's arguments
    assert done.returncode == 0, done.stderr


@NEEDS
def test_the_reproduction_catches_the_hidden_run_user(tmp_path: Path) -> None:
    """The unit as it was (no RuntimeDirectory, XDG_RUNTIME_DIR left to PAM): cage finds
    /run/user/<uid> hidden by ProtectHome and never gets a client on the screen."""
    unit = parse_unit(ROOT / "systemd" / "kiosk-screen.service")
    old = {
        "Service": [
            (k, v.replace("/usr/bin/env XDG_RUNTIME_DIR=%t/kiosk-screen ", ""))
            for k, v in unit["Service"]
            if k not in ("RuntimeDirectory", "RuntimeDirectoryMode")
        ]
    }
    done, browser = start(old, tmp_path)
    assert browser == "" and done.returncode != 0, done.stderr
    assert "Unable to open Wayland socket" in done.stderr, done.stderr
