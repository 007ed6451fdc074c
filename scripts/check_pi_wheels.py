#!/usr/bin/env python3
"""Does every runtime dependency install on a Raspberry Pi without a compiler?

Resolves ``[project] dependencies`` of pyproject.toml (plus the ``opencv`` extra, which a
non-Pi arm64 machine installs from PyPI) with ``pip download --only-binary=:all:`` for
CPython 3.11 on the Pi's platforms, with the Pi's pip constraints
(scripts/pi-constraints.txt): each requirement alone with ``--no-deps`` (so a failure names
its package), then all of them together with their dependencies (the full set a Pi would
install). Needs the package index (PyPI), so it is a script, not a test.

- ``aarch64`` (Raspberry Pi OS 64-bit, Bookworm: glibc 2.36): must resolve completely;
  exit status 1 if anything lacks a wheel.
- ``armv7l`` (Raspberry Pi OS 32-bit): reported only (``--armhf``); install-pi.sh refuses it.

Usage: scripts/check_pi_wheels.py [--armhf] [--markdown]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = "3.11"
GLIBC = (2, 36)  # Debian 12 "bookworm", the oldest system install-pi.sh accepts
EXTRAS = ("opencv",)  # optional parts a Pi may take from PyPI (on a Pi: apt's python3-opencv)


@dataclass(frozen=True)
class Outcome:
    requirement: str
    wheel: str | None  # file name of the wheel pip chose, None when there is none
    error: str = ""


def platforms(arch: str) -> list[str]:
    """Every manylinux tag a glibc-2.36 system accepts for ``arch``, newest first."""
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(GLIBC[1], 16, -1)]
    if arch == "aarch64":
        tags.append("manylinux2014_aarch64")  # the same as manylinux_2_17, older spelling
    return [*tags, f"linux_{arch}"]


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = list(project["dependencies"])
    for extra in EXTRAS:
        found += project.get("optional-dependencies", {}).get(extra, [])
    return found


def pip_download(
    arch: str, reqs: list[str], dest: Path, deps: bool
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", "download", "--isolated", "--disable-pip-version-check"]
    cmd += ["--index-url", "https://pypi.org/simple", "--only-binary=:all:", "--dest", str(dest)]
    cmd += ["--python-version", PYTHON, "--implementation", "cp"]
    cmd += ["--constraint", str(ROOT / "scripts" / "pi-constraints.txt")]
    for tag in platforms(arch):
        cmd += ["--platform", tag]
    if not deps:
        cmd.append("--no-deps")
    return subprocess.run([*cmd, *reqs], capture_output=True, text=True, check=False)


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("-", "_")


def each(arch: str, reqs: list[str], dest: Path) -> list[Outcome]:
    outcomes = []
    dest.mkdir(parents=True, exist_ok=True)
    for req in reqs:
        before = set(dest.iterdir())
        run = pip_download(arch, [req], dest, deps=False)
        new = sorted(p.name for p in set(dest.iterdir()) - before)
        chosen = [n for n in new if n.lower().startswith(_name(req))] or new
        if run.returncode == 0:
            wheel = chosen[0] if chosen else _already(dest, req)
            outcomes.append(Outcome(req, wheel))
        else:
            tail = [line for line in run.stderr.splitlines() if line.startswith("ERROR")]
            outcomes.append(Outcome(req, None, tail[0] if tail else run.stderr.strip()[-200:]))
    return outcomes


def _already(dest: Path, req: str) -> str | None:
    for path in sorted(dest.iterdir()):
        if path.name.lower().startswith(_name(req) + "-"):
            return path.name
    return None


def check(arch: str) -> tuple[list[Outcome], list[str], str]:
    reqs = requirements()
    with tempfile.TemporaryDirectory(prefix=f"pi-wheels-{arch}-") as tmp:
        alone = each(arch, reqs, Path(tmp) / "alone")
        full_dir = Path(tmp) / "full"
        run = pip_download(arch, reqs, full_dir, deps=True)
        wheels = sorted(p.name for p in full_dir.iterdir()) if full_dir.exists() else []
        error = "" if run.returncode == 0 else run.stderr.strip().splitlines()[-1]
    return alone, wheels, error


def report(arch: str, alone: list[Outcome], wheels: list[str], error: str, md: bool) -> str:
    lines = [f"### {arch}, CPython {PYTHON}, glibc <= {GLIBC[0]}.{GLIBC[1]}", ""]
    if md:
        lines += ["| requirement | wheel |", "| --- | --- |"]
    for o in alone:
        shown = o.wheel or f"**no wheel**: {o.error}"
        lines.append(f"| `{o.requirement}` | {shown} |" if md else f"{o.requirement:32} {shown}")
    lines.append("")
    if error:
        lines.append(f"With dependencies: FAILED: {error}")
    else:
        lines.append(f"With dependencies: {len(wheels)} wheels, all binary or pure Python:")
        lines.append("")
        lines.append(", ".join(f"`{w}`" if md else w for w in wheels))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--armhf", action="store_true", help="also report 32-bit armv7l")
    parser.add_argument("--markdown", action="store_true", help="tables for docs/deploy.md")
    args = parser.parse_args()
    failed = False
    for arch in ["aarch64", *(["armv7l"] if args.armhf else [])]:
        alone, wheels, error = check(arch)
        print(report(arch, alone, wheels, error, args.markdown), end="\n\n", flush=True)
        if arch == "aarch64":
            failed = bool(error) or any(o.wheel is None for o in alone)
    print(
        "aarch64: "
        + ("FAILED: a dependency has no wheel" if failed else "every dependency has a wheel")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
