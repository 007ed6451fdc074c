"""Reader + filter against the simulator over real pseudo-terminals, for every protocol."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import parse
from kiosk.model import Reading, SensorState, Temperature, TempState
from kiosk.sensors.filter import ReadingFilter
from kiosk.sensors.modbus import register_map
from kiosk.sensors.reader import ThermometerReader
from kiosk.sensors.scenarios import Phase, Scenario, scenario, visitor
from kiosk.sensors.simulator import ThermometerSimulator

pytestmark = pytest.mark.integration

FAST = {"reconnect_min_s": 0.1, "reconnect_max_s": 0.3, "poll_interval_s": 0.1}
# case -> (config keys, simulator keyword arguments)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "gy": ({"protocol": "gy-mcu90614"}, {}),
    "gy-query": ({"protocol": "gy-mcu90614", "gy_mode": "query"}, {}),
    "lu90614": ({"protocol": "lu90614", "ambient_fallback_c": 24.5}, {}),
    "modbus-calex": ({"protocol": "modbus"}, {}),
    "modbus-omega": ({"protocol": "modbus", "modbus_preset": "omega", "modbus_unit": 7}, {}),
    "modbus-float": (
        {
            "protocol": "modbus",
            "modbus_preset": "custom",
            "modbus_function": 4,
            "modbus_object_register": 0,
            "modbus_ambient_register": 2,
            "modbus_dtype": "float32_ws",
        },
        {},
    ),
    "ascii": ({"protocol": "ascii"}, {}),
    "ascii-adafruit": ({"protocol": "ascii"}, {"style": "adafruit"}),
    "ascii-two-line": ({"protocol": "ascii"}, {"style": "two-line"}),
    "cjmcu66": ({"protocol": "cjmcu66"}, {}),
}
STREAMING = ["gy", "gy-query", "lu90614", "ascii", "cjmcu66"]
MODBUS = ["modbus-calex", "modbus-omega", "modbus-float"]
DECIDED = (TempState.OK, TempState.FEVER)


@dataclass
class Rig:
    """One simulated thermometer, its reader and a filter fed from the reader's queue."""

    name: str
    sim: ThermometerSimulator
    reader: ThermometerReader
    readings: queue.Queue[Reading]
    filt: ReadingFilter
    events: list[Temperature] = field(default_factory=list)
    seen: list[Reading] = field(default_factory=list)
    states: list[SensorState] = field(default_factory=list)

    def pump(self) -> None:
        while True:
            try:
                reading = self.readings.get_nowait()
            except queue.Empty:
                break
            self.seen.append(reading)
            self._record(self.filt.feed(reading))
        self._record(self.filt.tick(time.monotonic()))
        state = self.reader.health().state
        if not self.states or self.states[-1] != state:
            self.states.append(state)

    def _record(self, event: Temperature | None) -> None:
        if event is not None:
            self.events.append(event)

    @property
    def decisions(self) -> list[Temperature]:
        return [e for e in self.events if e.state in DECIDED]


@contextmanager
def rigs(
    tmp_path: Path, names: list[str], play: Scenario | str, **extra: Any
) -> Iterator[list[Rig]]:
    with ExitStack() as stack:
        built = []
        for name in names:
            keys, sim_args = CASES[name]
            link = tmp_path / f"tty-{name}"
            section = parse({"thermometer": {**FAST, **keys, **extra, "port": str(link)}})
            thermo = section.thermometer
            sim = ThermometerSimulator(
                thermo.protocol, link, regmap=register_map(thermo), rate_hz=20.0, **sim_args
            )
            sim.play(play)  # before start: not one frame of another scenario
            sim.start()
            stack.callback(sim.stop)
            stop = threading.Event()
            readings: queue.Queue[Reading] = queue.Queue(maxsize=1000)
            reader = ThermometerReader(thermo, readings, stop).start()
            stack.callback(reader.join, 5.0)
            stack.callback(stop.set)
            built.append(Rig(name, sim, reader, readings, ReadingFilter(thermo)))
        yield built


def pump_until(rigs: list[Rig], done: Callable[[Rig], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for rig in rigs:
            rig.pump()
        if all(done(rig) for rig in rigs):
            return
        time.sleep(0.02)
    stuck = [r.name for r in rigs if not done(r)]
    raise AssertionError(f"timed out: {stuck}: " + "; ".join(describe(r) for r in rigs))


def describe(rig: Rig) -> str:
    health = rig.reader.health()
    values = [r.object_c for r in rig.seen]
    return f"{rig.name} {[e.state.value for e in rig.events]} {health} readings {values}"


def left_after_decision(rig: Rig) -> bool:
    states = [e.state for e in rig.events]
    return any(s in DECIDED for s in states) and states[-1] == TempState.NO_SUBJECT


QUICK_VISITOR = visitor(36.5, settle_s=1.2)


def test_visitor_yields_exactly_one_ok_on_every_protocol(tmp_path: Path) -> None:
    with rigs(tmp_path, list(CASES), QUICK_VISITOR) as all_rigs:
        pump_until(all_rigs, left_after_decision, timeout=10.0)
    for rig in all_rigs:
        (ok,) = rig.decisions
        assert ok.state == TempState.OK, describe(rig)
        assert ok.value_c == pytest.approx(36.5, abs=0.15), describe(rig)
        assert ok.raw_object_c == ok.value_c and ok.offset_c == 0.0
        health = rig.reader.health()
        assert rig.states[-1] == SensorState.CONNECTED and health.frames >= len(rig.seen)
        assert health.checksum_errors == 0 and health.last_reading is not None


@pytest.mark.parametrize(
    ("fault", "names", "settle_s"),
    [
        ("noise", STREAMING, 1.5),
        ("split", STREAMING + MODBUS, 1.5),
        ("bad_checksum", STREAMING + MODBUS, 1.5),
        # minimalmodbus waits out its timeout on an exception reply: 2.5 readings/s are left
        ("exception", MODBUS, 3.0),
    ],
)
def test_faulty_line_still_measures_and_counts(
    tmp_path: Path, fault: str, names: list[str], settle_s: float
) -> None:
    play = Scenario(fault, visitor(36.5, fault, settle_s).phases)  # type: ignore[arg-type]
    with rigs(tmp_path, names, play) as all_rigs:
        pump_until(all_rigs, left_after_decision, timeout=12.0)
    for rig in all_rigs:
        (ok,) = rig.decisions
        assert ok.state == TempState.OK and ok.value_c == pytest.approx(36.5, abs=0.15)
        health = rig.reader.health()
        if fault == "noise":
            assert health.skipped_bytes > 0, describe(rig)
        elif fault == "bad_checksum" and rig.name == "ascii":
            assert health.frame_errors > 0, describe(rig)  # text: unreadable values
        elif fault == "bad_checksum":
            assert health.checksum_errors > 0, describe(rig)
        elif fault == "exception":
            assert health.frame_errors > 0, describe(rig)
        else:
            assert health.checksum_errors == 0 and health.frame_errors == 0, describe(rig)
        assert health.reconnects == 0


SHORT_UNPLUG = Scenario(
    "unplug",
    (
        Phase(0.4, 24.3, 24.3, jitter_c=0.05),
        Phase(0.8, 24.3, 24.3, fault="unplug"),
        Phase(0.4, 24.3, 24.3, jitter_c=0.05),
        *visitor(36.5, settle_s=1.2).phases[1:],
    ),
)


def test_unplug_and_replug_of_the_same_path_recovers_by_itself(tmp_path: Path) -> None:
    with rigs(tmp_path, list(CASES), SHORT_UNPLUG) as all_rigs:
        pump_until(all_rigs, left_after_decision, timeout=15.0)
    for rig in all_rigs:
        states = rig.states
        assert SensorState.UNPLUGGED in states, describe(rig)
        after = states[states.index(SensorState.UNPLUGGED) :]
        assert SensorState.CONNECTED in after, describe(rig)
        health = rig.reader.health()
        assert health.reconnects >= 1 and rig.sim.plugs == 2
        assert health.last_error is not None
        (ok,) = rig.decisions  # measured after the re-plug
        assert ok.value_c == pytest.approx(36.5, abs=0.15)


@pytest.mark.parametrize(
    ("play", "names"),
    [("silence", STREAMING + MODBUS), ("no_reply", ["gy-query", "lu90614", *MODBUS])],
)
def test_silent_sensor_reports_not_ready(tmp_path: Path, play: str, names: list[str]) -> None:
    with rigs(tmp_path, names, play, silence_s=0.6) as all_rigs:
        pump_until(
            all_rigs,
            lambda r: (
                r.reader.health().state == SensorState.NOT_READY
                and r.filt.current.state == TempState.NOT_READY
            ),
            timeout=8.0,
        )
    for rig in all_rigs:
        assert rig.decisions == []
        assert rig.filt.reason == "temp.no_frames"
        assert rig.reader.health().last_error == "no valid frame for 0.6 s"
        if play == "no_reply" and rig.name in MODBUS:
            assert rig.reader.health().frame_errors > 0


def test_idle_sensor_never_yields_a_temperature(tmp_path: Path) -> None:
    with rigs(tmp_path, list(CASES), "idle") as all_rigs:
        pump_until(all_rigs, lambda r: len(r.seen) >= 20, timeout=8.0)
    for rig in all_rigs:
        assert rig.decisions == []
        assert [e.state for e in rig.events] == [TempState.NO_SUBJECT]
        assert rig.states[-1] == SensorState.CONNECTED


def test_garbage_on_the_line_never_yields_a_reading(tmp_path: Path) -> None:
    with rigs(tmp_path, ["gy", "ascii", "cjmcu66"], "garbage", silence_s=0.6) as all_rigs:
        pump_until(
            all_rigs,
            lambda r: (
                r.reader.health().state == SensorState.NOT_READY
                and r.reader.health().skipped_bytes > 0
            ),  # ascii: once 256 bytes had no line end
            timeout=8.0,
        )
    for rig in all_rigs:
        assert rig.seen == [] and rig.events == []


def test_fever_is_reported_after_a_remeasure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="kiosk.sensors.filter"):
        with rigs(tmp_path, ["gy", "lu90614", "modbus-calex"], "fever") as all_rigs:
            pump_until(all_rigs, left_after_decision, timeout=12.0)
    for rig in all_rigs:
        (fever,) = rig.decisions
        assert fever.state == TempState.FEVER and fever.value_c == pytest.approx(37.9, abs=0.15)
    assert caplog.text.count("measuring once more") == 3


def test_hair_or_hat_never_gives_a_decision(tmp_path: Path) -> None:
    with rigs(tmp_path, ["gy", "modbus-calex"], scenario("hair")) as all_rigs:
        pump_until(all_rigs, lambda r: r.filt.reason == "temp.too_low", timeout=8.0)
        pump_until(all_rigs, lambda r: r.filt.current.state == TempState.NO_SUBJECT, 8.0)
    for rig in all_rigs:
        assert rig.decisions == []


def start_socat(device: Path, host: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["socat", f"pty,raw,echo=0,link={device}", f"pty,raw,echo=0,link={host}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 5.0
    while not (device.exists() and host.exists()):
        assert time.monotonic() < deadline, "socat did not create its links"
        time.sleep(0.02)
    return proc


def test_socat_link_killed_and_restarted(tmp_path: Path) -> None:
    device, host = tmp_path / "dev", tmp_path / "host"
    proc = start_socat(device, host)
    sim = ThermometerSimulator("gy-mcu90614", device=str(device), rate_hz=20.0)
    stop = threading.Event()
    readings: queue.Queue[Reading] = queue.Queue(maxsize=1000)
    thermo = parse({"thermometer": {**FAST, "port": str(host)}}).thermometer
    reader = ThermometerReader(thermo, readings, stop)
    try:
        sim.start()
        reader.start()
        rig = Rig("socat", sim, reader, readings, ReadingFilter(thermo))
        pump_until([rig], lambda r: len(r.seen) >= 5, timeout=5.0)
        proc.terminate()
        proc.wait(5.0)
        pump_until([rig], lambda r: r.reader.health().state == SensorState.UNPLUGGED, 5.0)
        before = len(rig.seen)
        proc = start_socat(device, host)
        sim.play(QUICK_VISITOR)
        pump_until([rig], left_after_decision, timeout=10.0)
        assert len(rig.seen) > before and reader.health().reconnects >= 1
        assert rig.decisions[0].state == TempState.OK
    finally:
        stop.set()
        reader.join(5.0)
        sim.stop()
        proc.terminate()
        proc.wait(5.0)
