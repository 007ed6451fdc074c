"""``kiosk demo``: the whole kiosk on simulated devices, visitors, broker outage and a report."""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from kiosk.cli import Commands, Context
from kiosk.demo import DemoRig, Seen, play_visitor, visitors
from kiosk.demo_county import DESK_USER, CountySide
from kiosk.ledger import Ledger
from kiosk.model import Entry
from kiosk.reasons import describe
from kiosk.uplink.collector import Collector
from kiosk.uplink.localbroker import mosquitto_binary


def register(commands: Commands) -> None:
    demo = commands.add("demo", "run the whole kiosk on simulated devices (no hardware)", _demo)
    demo.add_argument("--duration", type=float, default=60.0, help="seconds of visitors")
    demo.add_argument("--http-port", type=int, default=8080, help="port of the kiosk screen")
    demo.add_argument("--no-outage", action="store_true",
                      help="do not stop the local broker halfway through")  # fmt: skip
    demo.add_argument("--county-port", type=int, default=8090,
                      help="port of the county desk (县平台工作台)")  # fmt: skip
    demo.add_argument("--no-county", action="store_true",
                      help="do not run the county's ingest and desk")  # fmt: skip


def _say(text: str) -> None:
    print(text, flush=True)


def _demo(args: argparse.Namespace, ctx: Context) -> int:
    try:
        import kiosk.scanner.cv  # noqa: F401 - the synthetic camera renders with OpenCV
    except ImportError as exc:
        print(f"kiosk demo: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kiosk-demo-") as tmp:
        rig = DemoRig(Path(tmp), http_port=args.http_port)
        if not args.no_county and mosquitto_binary():
            rig.county = CountySide(Path(tmp), 0, args.county_port, on_webhook=_webhook)
        try:
            return _run(rig, args, ctx)
        finally:
            rig.close()


def _run(rig: DemoRig, args: argparse.Namespace, ctx: Context) -> int:
    config = rig.build()
    _say("checkpoint-kiosk demo / 演示 — simulated camera, thermometer and county broker")
    _say(f"  ledger      {config.ledger_path}")
    _say(f"  thermometer {config.thermometer.port} (simulated GY-MCU90614 on a pty)")
    collector = None
    if rig.broker is None:
        _say("  mosquitto is not installed: entries stay in the outbox (nothing is lost)")
    else:
        _say(f"  broker      mqtt://127.0.0.1:{rig.broker.port}  county/demo/kiosk/k-demo/#")
        collector = Collector(rig.broker.port, "county/demo/kiosk/+/+", "demo-ingest").start()
    web = config.web
    _say(f"  kiosk screen   http://{web.host}:{web.port}/      (展示屏 the door's display)")
    _say(f"  staff page     http://{web.host}:{web.port}/staff  password: {rig.staff_password}")
    if rig.county is not None:
        rig.county.start()
        _say(f"  county desk    {rig.county.desk_url}/  user: {DESK_USER}  password: "
             f"{rig.county.password}   (县平台工作台 alerts, fleet, ledgers)")  # fmt: skip
    kiosk = rig.kiosk(ctx.stop)
    exit_code: list[int] = []
    runner = threading.Thread(target=lambda: exit_code.append(kiosk.run()), name="kiosk")
    runner.start()
    seen: list[Seen] = []
    try:
        started = time.monotonic()
        outage_at = started + args.duration / 2 if rig.broker and not args.no_outage else None
        outage_until = None
        for visitor in visitors():
            now = time.monotonic()
            if ctx.stop.is_set() or now - started >= args.duration or not runner.is_alive():
                break
            if outage_at is not None and now >= outage_at and rig.broker is not None:
                rig.broker.kill()
                _say("  !! county broker killed (SIGKILL): entries wait in the outbox")
                outage_at, outage_until = None, now + 8.0
            if outage_until is not None and now >= outage_until and rig.broker is not None:
                rig.broker.start()
                _say("  !! county broker back: the outbox drains")
                outage_until = None
            result = play_visitor(rig, kiosk, visitor)
            seen.append(result)
            _report(result, kiosk.board.health().outbox)
        if outage_until is not None and rig.broker is not None:
            rig.broker.start()
            _say("  !! county broker back: the outbox drains")
        return _summary(rig, seen, collector, exit_code, runner, ctx)
    finally:
        ctx.stop.set()
        runner.join(30)
        if collector is not None:
            collector.stop()


def _webhook(doc: dict[str, Any]) -> None:
    text = doc.get("text")
    content = text.get("content") if isinstance(text, dict) else text
    _say(f"  ✉ webhook 企业微信机器人: {content}")


def _report(result: Seen, outbox: dict[str, object]) -> None:
    s = result.screen
    if s is None or s.outcome is None:
        _say(f"  {result.visitor.label:<24} → nothing decided   ✗")
        return
    reasons = ", ".join(describe(r).zh for r in s.reasons) or "-"
    temp = f"{s.temperature_c:.1f}°C" if s.temperature_c is not None else "—"
    mark = "✓" if result.ok else f"✗ expected {result.visitor.expect.value}"
    _say(f"  {result.visitor.label:<24} → {s.outcome.value:<5} #{s.entry_seq} {temp:>7} "
         f"{reasons}  {mark}  (outbox pending {outbox.get('pending', '?')})")  # fmt: skip


def _summary(rig: DemoRig, seen: list[Seen], collector: Collector | None,
             exit_code: list[int], runner: threading.Thread, ctx: Context) -> int:  # fmt: skip
    assert rig.config is not None  # noqa: S101
    with Ledger(rig.config.ledger_path) as ledger:
        deadline = time.monotonic() + 30
        while (
            rig.broker is not None
            and ledger.outbox_status().pending
            and (time.monotonic() < deadline)
        ):
            time.sleep(0.2)
        status = ledger.outbox_status()
        entries: dict[int, Entry] = {e.seq: e for e, _ in ledger.entries()}
    received: set[str] = set()
    if collector is not None:
        time.sleep(0.5)
        received = {m.doc["id"] for m in collector.drain() if m.topic.endswith("/entries")}
    wrong = [r for r in seen if not r.ok]
    in_ledger = [
        r for r in seen
        if r.screen and r.screen.entry_seq in entries
        and entries[r.screen.entry_seq].decision == r.visitor.expect
    ]  # fmt: skip
    missing = [e for e in entries.values() if collector is not None and e.id not in received]
    _say("")
    _say(f"  visitors {len(seen)}: {len(seen) - len(wrong)} right on screen, "
         f"{len(in_ledger)} right in the ledger")  # fmt: skip
    _say(f"  ledger {len(entries)} entries; outbox {status.to_dict()}")
    if collector is not None:
        _say(f"  county broker received {len(received & {e.id for e in entries.values()})} "
             f"of {len(entries)} entries; missing {len(missing)}")  # fmt: skip
    county_missing = _county_check(rig, entries)
    if runner.is_alive():
        ctx.stop.set()
        runner.join(30)
    ok = not wrong and len(in_ledger) == len(seen) and not missing and not county_missing and seen
    if exit_code and exit_code[0] != 0:
        _say(f"  the kiosk exited with {exit_code[0]}")
        return exit_code[0]
    return 0 if ok else 1


def _county_check(rig: DemoRig, entries: dict[int, Entry]) -> int:
    """Compare the county's database with the kiosk's ledger; the number of differences."""
    if rig.county is None:
        return 0
    deadline = time.monotonic() + 15
    stored: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        stored = rig.county.stored()
        if all(e.id in stored for e in entries.values()):
            break
        time.sleep(0.3)
    differ = [
        e for e in entries.values()
        if e.id not in stored
        or (stored[e.id]["seq"], stored[e.id]["decision"], tuple(stored[e.id]["reasons"]))
        != (e.seq, e.decision.value, e.reasons)
    ]  # fmt: skip
    _say(f"  county database holds {len(entries) - len(differ)} of {len(entries)} ledger entries "
         f"exactly; differing or missing {len(differ)}")  # fmt: skip
    return len(differ)
