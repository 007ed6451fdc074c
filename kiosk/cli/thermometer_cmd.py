"""Thermometer subcommands: ``simulate thermometer``, ``thermometer read`` and ``measure``."""

from __future__ import annotations

import argparse
import queue
import sys
import time
from pathlib import Path
from typing import Any

from kiosk.cli import Commands, Context
from kiosk.cli.output import emit
from kiosk.config import ThermometerSection, parse
from kiosk.confload import file_layer
from kiosk.model import Reading, Temperature, TempState
from kiosk.sensors.base import PROTOCOLS
from kiosk.sensors.filter import DEFAULT_FEVER_THRESHOLD_C, ReadingFilter
from kiosk.sensors.modbus import PRESETS, register_map
from kiosk.sensors.reader import ThermometerReader
from kiosk.sensors.scenarios import SCENARIOS, scenario
from kiosk.sensors.simulator import ThermometerSimulator

SAYINGS = {
    TempState.MEASURING: "测温中 measuring ...",
    TempState.NO_SUBJECT: "请将额头对准测温区 hold your forehead to the sensor",
    TempState.NOT_READY: "测温仪未就绪 thermometer not ready",
    TempState.OK: "体温正常 temperature normal",
    TempState.FEVER: "体温偏高 请用体温计复测 elevated: confirm with a clinical thermometer",
}


def register(commands: Commands) -> None:
    sim = commands.group("simulate", "simulated devices and traffic").add(
        "thermometer", "a simulated serial thermometer on a pseudo-terminal", _simulate
    )
    sim.add_argument("--protocol", choices=PROTOCOLS, required=True)
    sim.add_argument(
        "--scenario",
        default="visitor",
        help=f"comma-separated, played in turn: {', '.join(SCENARIOS)}, visitor:<°C>",
    )
    sim.add_argument("--link", type=Path, help="stable symlink to the pty (needed for unplug)")
    sim.add_argument("--loop", action="store_true", help="repeat the scenarios")
    sim.add_argument("--rate", type=float, default=10.0, help="frames per second (streaming)")
    sim.add_argument("--modbus-preset", choices=sorted(PRESETS), default="calex")
    sim.add_argument("--unit", type=int, default=1, help="Modbus unit address")
    sim.add_argument("--style", choices=["canonical", "adafruit", "two-line"], default="canonical")
    sim.add_argument("--duration", type=float, default=0.0, help="exit after S seconds (0: never)")

    group = commands.group("thermometer", "the serial infrared thermometer")
    read = group.add("read", "print readings as JSON lines", _read)
    _port_args(read)
    read.add_argument("--count", type=int, default=0, help="stop after N readings (0: never)")
    read.add_argument("--timeout", type=float, default=0.0, help="give up after S seconds")
    measure = group.add("measure", "one decision-grade temperature as JSON", _measure)
    _port_args(measure)
    measure.add_argument("--timeout", type=float, default=30.0, help="give up after S seconds")
    measure.add_argument(
        "--fever-threshold", type=float, default=DEFAULT_FEVER_THRESHOLD_C, help="°C"
    )


def _port_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML config; its [thermometer] section")
    parser.add_argument("--port", help="serial port (overrides the config)")
    parser.add_argument("--protocol", choices=PROTOCOLS)
    parser.add_argument("--baud", type=int)
    parser.add_argument("--modbus-preset", choices=sorted(PRESETS))
    parser.add_argument("--unit", type=int, help="Modbus unit address")


def section_from(args: argparse.Namespace) -> ThermometerSection:
    """The config file's ``[thermometer]`` (or defaults) with the command-line flags on top."""
    values: dict[str, Any] = {}
    source = "command line"
    if args.config is not None:
        values = file_layer(args.config).values
        source = args.config.name
    table = dict(values.get("thermometer") or {})
    flags = {
        "port": args.port,
        "protocol": args.protocol,
        "baud": args.baud,
        "modbus_preset": args.modbus_preset,
        "modbus_unit": args.unit,
    }
    table.update({k: v for k, v in flags.items() if v is not None})
    return parse({**values, "thermometer": table}, source=source).thermometer


def _reading_doc(reading: Reading) -> dict[str, Any]:
    return {"object_c": reading.object_c, "ambient_c": reading.ambient_c, "t": reading.t}


def _temperature_doc(temp: Temperature, filt: ReadingFilter) -> dict[str, Any]:
    return {
        "state": temp.state.value,
        "value_c": temp.value_c,
        "raw_object_c": temp.raw_object_c,
        "ambient_c": temp.ambient_c,
        "offset_c": temp.offset_c,
        "samples": temp.samples,
        "threshold_c": filt.threshold_c,
        "reason": filt.reason or None,
        "t": temp.t,
    }


def _simulate(args: argparse.Namespace, ctx: Context) -> int:
    try:
        playlist = [scenario(name.strip()) for name in args.scenario.split(",") if name.strip()]
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.link is None and any(p.fault == "unplug" for s in playlist for p in s.phases):
        print("unplug without --link: the re-plugged pty gets a new path", file=sys.stderr)
    modbus_keys = {"modbus_preset": args.modbus_preset, "modbus_unit": args.unit}
    section = parse({"thermometer": {"protocol": "modbus", **modbus_keys}}).thermometer
    sim = ThermometerSimulator(
        args.protocol, args.link, regmap=register_map(section), style=args.style, rate_hz=args.rate
    )
    path = sim.start()
    emit({"port": path, "protocol": args.protocol, "scenarios": [s.name for s in playlist]})
    deadline = time.monotonic() + args.duration if args.duration > 0 else None

    def pause(seconds: float) -> bool:
        """Wait; True when it is time to exit (a signal or --duration)."""
        end = time.monotonic() + seconds
        if deadline is not None:
            end = min(end, deadline)
        while not ctx.stop.is_set() and time.monotonic() < end:
            ctx.stop.wait(min(0.1, max(0.0, end - time.monotonic())))
        return ctx.stop.is_set() or (deadline is not None and time.monotonic() >= deadline)

    try:
        done = False
        while not done:
            for chosen in playlist:
                sim.play(chosen)
                print(f"模拟场景 scenario: {chosen.name}", file=sys.stderr, flush=True)
                done = pause(chosen.seconds + 0.5)  # and half a second of its idle tail
                if done:
                    break
            done = done or not args.loop
        while not pause(3600.0):
            pass  # hold the last scenario's final phase until stopped
    finally:
        sim.stop()
    return 0


Started = tuple[ThermometerSection, ThermometerReader, queue.Queue[Reading]]


def _start_reader(args: argparse.Namespace, ctx: Context) -> Started:
    section = section_from(args)
    readings: queue.Queue[Reading] = queue.Queue(maxsize=1000)
    reader = ThermometerReader(section, readings, ctx.stop).start()
    return section, reader, readings


def _read(args: argparse.Namespace, ctx: Context) -> int:
    _, reader, readings = _start_reader(args, ctx)
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
    count = 0
    try:
        while not ctx.stop.is_set() and (args.count <= 0 or count < args.count):
            if deadline is not None and time.monotonic() >= deadline:
                break
            try:
                emit(_reading_doc(readings.get(timeout=0.1)))
                count += 1
            except queue.Empty:
                continue
    finally:
        ctx.stop.set()
        reader.join()
    health = reader.health()
    print(
        f"{count} readings; state {health.state.value}, checksum errors "
        f"{health.checksum_errors}, frame errors {health.frame_errors}, "
        f"noise bytes {health.skipped_bytes}, last error {health.last_error}",
        file=sys.stderr,
    )
    if args.count > 0:
        return 0 if count >= args.count else 1
    return 0 if count else 1


def _measure(args: argparse.Namespace, ctx: Context) -> int:
    section, reader, readings = _start_reader(args, ctx)
    filt = ReadingFilter(section, args.fever_threshold)
    deadline = time.monotonic() + args.timeout
    result: Temperature | None = None
    said: TempState | None = None
    try:
        while not ctx.stop.is_set() and time.monotonic() < deadline and result is None:
            try:
                event = filt.feed(readings.get(timeout=0.1))
            except queue.Empty:
                event = filt.tick(time.monotonic())
            if event is None:
                continue
            _say(event, filt.reason)
            said = event.state
            if event.state in (TempState.OK, TempState.FEVER):
                result = event
    finally:
        ctx.stop.set()
        reader.join()
    emit(_temperature_doc(result or filt.current, filt))
    if result is None:
        if said != filt.current.state:  # e.g. silent from the start: no change was seen
            _say(filt.current, filt.reason)
        print("超时 无有效体温 no decision-grade temperature before the timeout", file=sys.stderr)
        return 1
    return 0


def _say(event: Temperature, reason: str) -> None:
    detail = f" ({reason})" if reason else ""
    value = f": {event.value_c:.1f} °C" if event.value_c is not None else ""
    print(f"{SAYINGS[event.state]}{value}{detail}", file=sys.stderr, flush=True)
