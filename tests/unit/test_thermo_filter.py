"""The reading filter on tables of readings: one decision per visitor, fail closed otherwise."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pytest

from kiosk.config import ThermometerSection, parse
from kiosk.model import Reading, Temperature, TempState
from kiosk.sensors.filter import ReadingFilter

AMB = 24.9
DT = 0.1  # 10 Hz


def section(**keys: Any) -> ThermometerSection:
    return parse({"thermometer": keys}).thermometer


def readings(objects: Iterable[float | None], ambient: float | None = AMB, t0: float = 0.0):
    """Readings at 10 Hz; ``None`` leaves a gap of one period (a lost frame)."""
    out = []
    for i, obj in enumerate(objects):
        if obj is not None:
            out.append(Reading(obj, ambient, t0 + i * DT))
    return out


def run(filt: ReadingFilter, stream: Iterable[Reading]) -> list[Temperature]:
    events = []
    for reading in stream:
        event = filt.feed(reading)
        if event is not None:
            events.append(event)
    return events


def decisions(events: list[Temperature]) -> list[Temperature]:
    return [e for e in events if e.state in (TempState.OK, TempState.FEVER)]


IDLE = [24.3, 24.35, 24.28, 24.31, 24.3] * 2
APPROACH = [28.0, 30.5, 33.0, 35.0, 36.2]
LEAVE = [33.0, 28.0, 25.0, 24.4, 24.3]


def visitor(value: float, n: int = 12) -> list[float]:
    jitter = [0.0, 0.04, -0.03, 0.02, -0.04, 0.03]
    return IDLE + APPROACH + [round(value + jitter[i % 6], 2) for i in range(n)] + LEAVE + IDLE


def test_visitor_yields_one_ok_then_no_subject() -> None:
    filt = ReadingFilter(section())
    events = run(filt, readings(visitor(36.5)))
    states = [e.state for e in events]
    assert states == [
        TempState.NO_SUBJECT,
        TempState.MEASURING,
        TempState.OK,
        TempState.NO_SUBJECT,
    ]
    (ok,) = decisions(events)
    assert ok.value_c == pytest.approx(36.5, abs=0.05)
    assert ok.raw_object_c == ok.value_c and ok.offset_c == 0.0
    assert ok.ambient_c == AMB and ok.samples == 5


def test_offset_is_added_to_the_median_and_stated() -> None:
    filt = ReadingFilter(section(offset_c=0.5))
    (ok,) = decisions(run(filt, readings(visitor(36.3))))
    assert ok.raw_object_c is not None and ok.value_c is not None
    assert ok.value_c == pytest.approx(ok.raw_object_c + 0.5)
    assert ok.offset_c == 0.5 and ok.state == TempState.OK


def test_fever_needs_a_second_window(caplog: pytest.LogCaptureFixture) -> None:
    filt = ReadingFilter(section())
    present = readings([37.9] * 5, t0=0.0)
    assert [e.state for e in run(filt, present)] == [
        TempState.MEASURING
    ]  # first window: re-measure
    more = readings([37.9] * 5, t0=0.5)
    with caplog.at_level(logging.INFO, logger="kiosk.sensors.filter"):
        events = run(filt, more[:4])
        assert events == []
        (fever,) = run(filt, more[4:])
    assert fever.state == TempState.FEVER and fever.value_c == 37.9
    assert "re-measured True" in caplog.text


def test_a_high_first_window_and_a_normal_second_gives_ok() -> None:
    filt = ReadingFilter(section())
    events = run(filt, readings([37.4] * 5 + [37.0] * 5))
    (decided,) = decisions(events)
    assert decided.state == TempState.OK and decided.value_c == 37.0


def test_exactly_at_the_threshold_is_fever_after_remeasure() -> None:
    filt = ReadingFilter(section(), fever_threshold_c=37.3)
    (decided,) = decisions(run(filt, readings([37.3] * 10)))
    assert decided.state == TempState.FEVER


def test_threshold_comes_from_the_caller() -> None:
    filt = ReadingFilter(section(), fever_threshold_c=37.5)
    (decided,) = decisions(run(filt, readings([37.4] * 5)))
    assert decided.state == TempState.OK


@pytest.mark.parametrize(
    ("name", "objects", "ambient"),
    [
        ("idle room", IDLE * 5, AMB),
        ("warm wall close to ambient", [26.0, 26.1, 26.0] * 10, AMB),
        ("hot drink above the presence window", [55.0] * 20, AMB),
        ("unstable reading", [36.0, 36.8] * 10, AMB),
        ("hair or hat reads low", visitor(32.6, 20), AMB),
    ],
)
def test_no_decision(name: str, objects: list[float], ambient: float) -> None:
    filt = ReadingFilter(section())
    assert decisions(run(filt, readings(objects, ambient))) == [], name


def test_low_stable_value_says_why() -> None:
    filt = ReadingFilter(section())
    run(filt, readings([32.6] * 5))
    assert filt.reason == "temp.too_low" and filt.current.state == TempState.MEASURING


@pytest.mark.parametrize(
    ("ambient", "reason"), [(12.0, "temp.ambient_low"), (41.5, "temp.ambient_high")]
)
def test_ambient_out_of_range_is_not_ready(ambient: float, reason: str) -> None:
    filt = ReadingFilter(section())
    events = run(filt, readings([36.5] * 10, ambient=ambient))
    assert [e.state for e in events] == [TempState.NOT_READY]
    assert filt.reason == reason
    recovered = run(filt, readings(IDLE, ambient=AMB, t0=5.0))
    assert [e.state for e in recovered] == [TempState.NO_SUBJECT]


def test_ambient_drift_is_not_ready() -> None:
    filt = ReadingFilter(section())
    drifting = [Reading(24.0, 20.0 + i * 0.02, i * 0.5) for i in range(60)]  # 2.4 °C/min
    run(filt, drifting)
    assert filt.current.state == TempState.NOT_READY and filt.reason == "temp.ambient_drift"
    steady = ReadingFilter(section())
    run(steady, [Reading(24.0, 22.0 + (i % 3) * 0.02, i * 0.5) for i in range(60)])
    assert steady.current.state == TempState.NO_SUBJECT and steady.reason == ""


def test_module_without_ambient_needs_a_fallback() -> None:
    filt = ReadingFilter(section())
    events = run(filt, readings(visitor(36.5), ambient=None))
    assert [e.state for e in events] == [TempState.NOT_READY]
    assert filt.reason == "temp.no_ambient"
    with_room = ReadingFilter(section(ambient_fallback_c=24.0))
    (ok,) = decisions(run(with_room, readings(visitor(36.5), ambient=None)))
    assert ok.ambient_c == 24.0


def test_silence_makes_the_filter_not_ready() -> None:
    filt = ReadingFilter(section(silence_s=2.0))
    assert filt.current.state == TempState.NOT_READY  # nothing seen yet
    run(filt, readings(IDLE))
    assert filt.current.state == TempState.NO_SUBJECT
    last_t = 0.9
    assert filt.tick(last_t + 1.9) is None
    event = filt.tick(last_t + 2.1)
    assert event is not None and event.state == TempState.NOT_READY
    assert filt.reason == "temp.no_frames"
    assert filt.tick(last_t + 5.0) is None  # reported once


def test_silence_during_measuring_drops_the_window() -> None:
    filt = ReadingFilter(section())
    run(filt, readings([36.5] * 3))
    filt.tick(10.0)
    events = run(filt, readings([36.5] * 2, t0=10.1))
    assert decisions(events) == []  # 3 + 2 samples across a silence are not one window


def test_a_stray_sample_within_grace_keeps_the_window() -> None:
    filt = ReadingFilter(section(presence_grace_s=0.3))
    stream = readings([36.5, 36.5, 36.5, 24.5, 36.5, 36.5])
    (ok,) = decisions(run(filt, stream))
    assert ok.samples == 5


def test_a_gap_longer_than_grace_starts_over() -> None:
    filt = ReadingFilter(section(presence_grace_s=0.3))
    stream = readings([36.5, 36.5, 36.5] + [24.5] * 5 + [36.5, 36.5])
    events = run(filt, stream)
    assert decisions(events) == []
    assert [e.state for e in events] == [
        TempState.MEASURING,
        TempState.NO_SUBJECT,
        TempState.MEASURING,
    ]


def test_one_decision_while_the_subject_stays() -> None:
    filt = ReadingFilter(section())
    events = run(filt, readings([36.5] * 100))
    assert len(decisions(events)) == 1


def test_next_visitor_gets_a_new_decision() -> None:
    filt = ReadingFilter(section())
    first = visitor(36.5)
    events = run(filt, readings(first) + readings(visitor(36.8), t0=len(first) * DT))
    assert [d.value_c for d in decisions(events)] == [
        pytest.approx(36.5, abs=0.05),
        pytest.approx(36.8, abs=0.05),
    ]
