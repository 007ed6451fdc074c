"""``kiosk doctor``: one table of checks, each with a fix hint; FAIL means the kiosk cannot work.

The checks live beside this runner: ``host`` (state directory, disk, outbox, clock),
``devices`` (verification, camera, thermometer, gate) and ``broker``; their common types are in
``findings``. This module runs them in order and renders the table.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path

from kiosk.config import Config, ConfigError, load
from kiosk.doctor import devices as dev
from kiosk.doctor.findings import FAIL, OK, SKIP, TITLES, WARN, Finding, Options, secret_environ
from kiosk.doctor.host import check_clock, check_disk, check_outbox, check_state_dir
from kiosk.doctor.lists import check_county_lists
from kiosk.model import CheckResult

logger = logging.getLogger(__name__)


def _timed(name: str, check: Callable[[], Finding]) -> CheckResult:
    started = time.monotonic()
    try:
        found = check()
    except Exception as exc:  # a diagnostic must report any adapter failure, not die of it
        logger.debug("check %s raised", name, exc_info=True)
        found = Finding(FAIL, f"{type(exc).__name__}: {exc}", "see the message above / 见上")
    return CheckResult(
        name, TITLES[name], found.status, found.detail, found.hint, time.monotonic() - started
    )


def run_checks(
    config_path: Path,
    stop: threading.Event,
    options: Options | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[CheckResult]:
    """Run every check in order; a broken config skips those that need it."""
    opts = options or Options()
    env = secret_environ(opts, os.environ if environ is None else environ)
    config: Config | None = None

    def config_check() -> Finding:
        nonlocal config
        try:
            config = load(config_path, environ=env)
        except ConfigError as exc:
            return Finding(
                FAIL,
                "; ".join(str(p) for p in exc.problems),
                f"修改配置 / fix the keys named; kiosk config check {config_path}",
            )
        return Finding(OK, f"kiosk {config.kiosk.id} at {config.kiosk.site} ({config_path})")

    results = [_timed("config", config_check)]
    if config is None:
        skipped = [n for n in TITLES if n not in ("config", "clock")]
        results += [
            CheckResult(n, TITLES[n], SKIP, "config not loaded", "fix the config first")
            for n in skipped
        ]
        results.append(_timed("clock", lambda: check_clock(None)))
        return results
    cfg: Config = config
    checks: list[tuple[str, Callable[[], Finding]]] = [
        ("state_dir", lambda: check_state_dir(cfg.kiosk.state_dir)),
        ("disk", lambda: check_disk(cfg.kiosk.state_dir)),
        ("outbox", lambda: check_outbox(cfg.ledger_path)),
        ("verification", lambda: dev.check_verification(cfg, env)),
        ("lists", lambda: check_county_lists(cfg, env)),
        ("camera", lambda: dev.check_camera(cfg.camera, stop, opts.camera_s)),
        ("thermometer", lambda: dev.check_thermometer(cfg.thermometer, opts)),
        ("broker", lambda: dev.check_broker(cfg, env, opts.broker_s)),
        ("clock", lambda: check_clock(cfg.ledger_path)),
        ("gate", lambda: dev.check_gate(cfg, opts.root)),
    ]
    for name, check in checks:
        if stop.is_set():
            results.append(CheckResult(name, TITLES[name], SKIP, "interrupted"))
            continue
        results.append(_timed(name, check))
    return results


def blocking(results: list[CheckResult]) -> list[str]:
    """Names of the checks that block operation."""
    return [r.name for r in results if r.status is FAIL]


MARKS = {OK: "✓ ok  ", WARN: "! warn", FAIL: "✗ FAIL", SKIP: "- skip"}


def render(results: list[CheckResult], config_path: Path) -> str:
    """The table for people: one line per check, the hint under each one not ok."""
    width = max(_columns(r.title) for r in results)
    lines = [f"kiosk doctor 自检 — {config_path}"]
    for r in results:
        title = r.title + " " * (width - _columns(r.title))
        lines.append(f"{MARKS[r.status]}  {title}  {r.detail}")
        if r.hint and r.status is not OK:
            lines.append(f"{'':6}  {'':{width}}  → {r.hint}")
    failed = blocking(results)
    if failed:
        lines.append(f"无法正常工作 NOT READY: {', '.join(failed)}")
    else:
        lines.append("可以工作 READY" + (" (with warnings)" if _warned(results) else ""))
    return "\n".join(lines)


def _columns(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _warned(results: list[CheckResult]) -> bool:
    return any(r.status is WARN for r in results)
