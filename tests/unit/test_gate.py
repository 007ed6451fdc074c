"""Gate signals: the pattern table, the [gate] config, and the worker on gpiozero's mock pins."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from kiosk.config import ConfigError, GateSection, parse
from kiosk.gate.gpio import gpio_opener
from kiosk.gate.signals import BEEPS, Gate, GateError, Output, Step, pattern
from kiosk.gate.sim import SimulatedOutputs
from kiosk.model import Outcome

PINS = {"relay": 17, "buzzer": 27, "led_pass": 5, "led_deny": 6, "led_refer": 13}


def section(**keys: Any) -> GateSection:
    values = {f"{role}_pin": pin for role, pin in PINS.items()}
    values.update({"relay_pulse_s": 0.3, "led_s": 0.5})
    values.update(keys)
    return parse({"gate": values}).gate


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# -- the pattern table (pure) ----------------------------------------------------------------


@pytest.mark.parametrize("outcome", list(Outcome))
def test_only_pass_ever_touches_the_relay(outcome: Outcome) -> None:
    relay = [s for s in pattern(outcome, section()) if s.role == "relay"]
    if outcome is Outcome.PASS:
        assert relay == [Step(0.0, "relay", True), Step(0.3, "relay", False)]
    else:
        assert relay == []


@pytest.mark.parametrize(
    ("outcome", "led", "beeps"),
    [(Outcome.PASS, "led_pass", 1), (Outcome.DENY, "led_deny", 3), (Outcome.REFER, "led_refer", 2)],
)
def test_each_outcome_lights_its_own_led_and_beeps_its_count(
    outcome: Outcome, led: str, beeps: int
) -> None:
    steps = pattern(outcome, section())
    leds = [s for s in steps if s.role.startswith("led_")]
    last_beep = BEEPS[outcome][-1][0] + BEEPS[outcome][-1][1]
    assert leds == [Step(0.0, led, True), Step(max(0.5, last_beep), led, False)]
    assert sum(1 for s in steps if s.role == "buzzer" and s.on) == beeps == len(BEEPS[outcome])
    assert [s.at_s for s in steps] == sorted(s.at_s for s in steps)
    ons = {s.role for s in steps if s.on}
    offs = {s.role for s in steps if not s.on}
    assert ons == offs  # everything switched on is switched off again


def test_unconfigured_outputs_get_no_steps() -> None:
    only_buzzer = parse({"gate": {"buzzer_pin": 27}}).gate
    assert {s.role for s in pattern(Outcome.PASS, only_buzzer)} == {"buzzer"}
    nothing = GateSection()
    assert all(pattern(o, nothing) == () for o in Outcome)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"relay_pin": 17, "buzzer_pin": 17}, "gate.buzzer_pin and gate.relay_pin both use GPIO17"),
        ({"relay_pin": 1}, "gate.relay_pin: expected an integer 2-27, got 1"),
        ({"led_pass_pin": 28}, "gate.led_pass_pin: expected an integer 2-27, got 28"),
        ({"relay_pulse_s": 0}, "gate.relay_pulse_s: expected a number 0.1-10, got 0"),
        ({"relay_pin": "GPIO17"}, 'gate.relay_pin: expected an integer 2-27, got "GPIO17"'),
    ],
)
def test_config_errors_name_the_key(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"gate": keys}, source="kiosk.toml")
    assert message in str(caught.value)


# -- the worker on gpiozero's mock pins --------------------------------------------------------


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    pins = MockFactory()
    yield pins
    pins.close()


@pytest.fixture
def stop() -> threading.Event:
    return threading.Event()


def states(factory: MockFactory, pin: int) -> list[bool]:
    return [bool(s.state) for s in factory.pin(pin).states]


def run_to_end(gate: Gate, outcome: Outcome, factory: MockFactory) -> None:
    """Signal and wait until the whole pattern has played (all outputs back off)."""
    before = len(states(factory, PINS[f"led_{outcome.value}"]))
    gate.signal(outcome)
    wait_for(lambda: len(states(factory, PINS[f"led_{outcome.value}"])) >= before + 2)
    wait_for(lambda: not any(factory.pin(p).state for p in PINS.values()))


def test_pass_pulses_the_relay_exactly_once(factory: MockFactory, stop: threading.Event) -> None:
    gate = Gate(section(), stop, gpio_opener(factory)).start()
    try:
        run_to_end(gate, Outcome.PASS, factory)
    finally:
        gate.join()
    assert states(factory, PINS["relay"]) == [False, True, False]
    assert gate.health().relay_pulses == 1
    assert states(factory, PINS["led_pass"]) == [False, True, False]
    assert states(factory, PINS["buzzer"]) == [False, True, False]  # one beep
    assert states(factory, PINS["led_deny"]) == [False]
    assert states(factory, PINS["led_refer"]) == [False]


@pytest.mark.parametrize(("outcome", "beeps"), [(Outcome.DENY, 3), (Outcome.REFER, 2)])
def test_deny_and_see_staff_never_touch_the_relay(
    factory: MockFactory, stop: threading.Event, outcome: Outcome, beeps: int
) -> None:
    gate = Gate(section(), stop, gpio_opener(factory)).start()
    try:
        for _ in range(2):
            run_to_end(gate, outcome, factory)
    finally:
        gate.join()
    assert states(factory, PINS["relay"]) == [False]
    assert gate.health().relay_pulses == 0
    assert states(factory, PINS[f"led_{outcome.value}"]) == [False] + [True, False] * 2
    assert states(factory, PINS["buzzer"]).count(True) == beeps * 2
    assert states(factory, PINS["led_pass"]) == [False]


def test_an_active_low_relay_idles_high_and_pulses_low(
    factory: MockFactory, stop: threading.Event
) -> None:
    gate = Gate(section(relay_active_high=False), stop, gpio_opener(factory)).start()
    try:
        assert factory.pin(PINS["relay"]).state  # released = high for an active-low board
        gate.signal(Outcome.PASS)
        wait_for(lambda: gate.health().relay_pulses == 1)
        wait_for(lambda: factory.pin(PINS["relay"]).state)
    finally:
        gate.join()
    assert [bool(s.state) for s in factory.pin(PINS["relay"]).states][-2:] == [False, True]


def test_signal_returns_at_once_and_the_next_decision_locks_the_door(
    factory: MockFactory, stop: threading.Event
) -> None:
    gate = Gate(section(relay_pulse_s=5.0, led_s=5.0), stop, gpio_opener(factory)).start()
    try:
        gate.signal(Outcome.PASS)  # returns while the 5 s pulse has not even begun or ended
        wait_for(lambda: factory.pin(PINS["relay"]).state)
        assert gate.health().relay_pulses == 1
        gate.signal(Outcome.DENY)  # the next visitor: the relay opens now, not after 5 s
        wait_for(lambda: not factory.pin(PINS["relay"]).state, timeout=2.0)
        wait_for(lambda: factory.pin(PINS["led_deny"]).state)
        assert not factory.pin(PINS["led_pass"]).state
    finally:
        gate.join()
    assert states(factory, PINS["relay"]) == [False, True, False]
    assert gate.health().signals == 2 and gate.health().relay_pulses == 1


def test_join_switches_everything_off_and_releases_the_pins(
    factory: MockFactory, stop: threading.Event
) -> None:
    gate = Gate(section(relay_pulse_s=5.0, led_s=5.0), stop, gpio_opener(factory)).start()
    gate.signal(Outcome.PASS)
    wait_for(lambda: factory.pin(PINS["relay"]).state)
    stop.set()
    gate.join()
    assert not any(factory.pin(p).state for p in PINS.values())
    assert gate.health().state == "stopped"
    again = Gate(section(), threading.Event(), gpio_opener(factory)).start()  # pins are free
    assert again.health().state == "running"
    again.join()


def test_no_pins_no_thread_no_gpiozero(stop: threading.Event) -> None:
    def refuse(_section: GateSection) -> Mapping[str, Output]:
        raise AssertionError("no output should be opened")

    gate = Gate(GateSection(), stop, refuse).start()
    gate.signal(Outcome.PASS)
    assert gate.health().state == "off" and gate.health().signals == 1
    gate.join()


def test_pins_that_cannot_be_opened_leave_the_gate_failed_not_crashed(
    factory: MockFactory, stop: threading.Event
) -> None:
    factory.pin(PINS["relay"])  # fine
    taken = Gate(section(), stop, gpio_opener(factory)).start()
    try:
        clash = Gate(section(), stop, gpio_opener(factory)).start()  # same pins, still held
        health = clash.health()
        assert health.state == "failed"
        assert health.last_error is not None and "GPIO" in health.last_error
        clash.signal(Outcome.PASS)  # no exception, no pulse
        assert clash.health().relay_pulses == 0
        clash.join()
    finally:
        taken.join()


class _Breaks:
    """An output that fails when switched on, like a pin whose chip went away."""

    def __init__(self, role: str, log: list[tuple[str, bool]]) -> None:
        self.role, self.log = role, log

    def on(self) -> None:
        raise GateError(f"{self.role}: gpiochip0 is gone")

    def off(self) -> None:
        self.log.append((self.role, False))

    def close(self) -> None:
        return None


def test_a_driving_error_switches_everything_off_and_fails(stop: threading.Event) -> None:
    log: list[tuple[str, bool]] = []
    gate = Gate(section(), stop, lambda s: {r: _Breaks(r, log) for r in s.pins()}).start()
    gate.signal(Outcome.PASS)
    wait_for(lambda: gate.health().state == "failed")
    gate.join()
    assert "gpiochip0 is gone" in (gate.health().last_error or "")
    assert ("relay", False) in log
    assert gate.health().relay_pulses == 0


def test_simulated_outputs_record_one_relay_pulse_per_pass(stop: threading.Event) -> None:
    outputs = SimulatedOutputs()
    gate = Gate(section(), stop, outputs).start()
    try:
        for outcome in (Outcome.DENY, Outcome.PASS, Outcome.REFER):
            gate.signal(outcome)
            wait_for(lambda o=outcome: outputs.is_on(f"led_{o.value}"))  # type: ignore[misc]
            wait_for(lambda o=outcome: not outputs.is_on(f"led_{o.value}"))  # type: ignore[misc]
    finally:
        gate.join()
    relay = [(role, on) for _t, role, on in outputs.changes() if role == "relay"]
    assert relay == [("relay", True), ("relay", False)]
