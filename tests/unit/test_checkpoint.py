"""The visitor state machine with fakes at each boundary: no path passes what was not checked."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

import pytest

from kiosk.checkpoint import Checkpoint
from kiosk.config import CheckpointSection, PolicySection
from kiosk.model import (
    CodeStatus,
    Entry,
    Outcome,
    ScannedCode,
    Temperature,
    TempState,
    Verification,
)
from kiosk.service.status import Phase, StatusBoard
from kiosk.storage import StorageFull

SETTINGS = CheckpointSection(pair_window_s=10, measure_timeout_s=8, dwell_s=4, min_dwell_s=1)
VERIFY_TIMEOUT = 4.0


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Immediate(Executor):
    """Runs the verification at once (offline checks take microseconds)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # handed to the checkpoint like a real executor does
            future.set_exception(exc)
        return future


class Never(Executor):
    """A verification that never answers (a hung online service)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return Future()


@dataclass
class Verifier:
    answer: Verification | None
    texts: list[str] = field(default_factory=list)

    def verify(self, text: str, now: Any = None) -> Verification:
        self.texts.append(text)
        if self.answer is None:
            raise RuntimeError("verifier bug")
        return self.answer


@dataclass
class Recorder:
    board: StatusBoard
    fail: bool = False
    entries: list[Entry] = field(default_factory=list)
    phase_at_commit: list[Phase] = field(default_factory=list)

    def commit(self, entry: Entry) -> Entry:
        self.phase_at_commit.append(self.board.screen().phase)
        if self.fail:
            raise StorageFull("ledger storage full while committing an entry (test)")
        committed = entry.with_seq(len(self.entries) + 1)
        self.entries.append(committed)
        return committed


@dataclass
class Signals:
    given: list[Outcome] = field(default_factory=list)

    def signal(self, outcome: Outcome) -> None:
        self.given.append(outcome)


def verified(status: CodeStatus = CodeStatus.GREEN, **kw: Any) -> Verification:
    return Verification(
        kind="county-pass",
        status=status,
        valid=True,
        masked_name="张*中",
        subject_hash="ab" * 16,
        **kw,
    )


def failed(reason: str, status: CodeStatus = CodeStatus.FAILED) -> Verification:
    return Verification(kind="county-pass", status=status, valid=False, reasons=(reason,))


OK = Temperature(TempState.OK, 36.6, 36.1, 25.0, 0.5, 5)
FEVER = Temperature(TempState.FEVER, 38.2, 37.7, 25.0, 0.5, 5)
MEASURING = Temperature(TempState.MEASURING)
NOT_READY = Temperature(TempState.NOT_READY)


class Door:
    """A checkpoint wired to fakes, with a hand-driven clock."""

    def __init__(
        self,
        answer: Verification | None,
        *,
        executor: Executor | None = None,
        fail_commit: bool = False,
    ) -> None:
        self.clock = Clock()
        self.board = StatusBoard()
        self.recorder = Recorder(self.board, fail=fail_commit)
        self.verifier = Verifier(answer)
        self.signals = Signals()
        self.cp = Checkpoint(
            kiosk_id="k-001",
            site="fanzhuang",
            settings=SETTINGS,
            rules=PolicySection(),
            verifier=self.verifier,
            verify_timeout_s=VERIFY_TIMEOUT,
            recorder=self.recorder,
            display=self.board,
            executor=executor or Immediate(),
            signals=self.signals,
            clock=self.clock,
        )

    def code(self, text: str = "CP1:PASS") -> None:
        self.cp.on_code(ScannedCode(text, "QRCode", None, "green", self.clock.t))
        self.cp.tick()

    def temperature(self, t: Temperature) -> None:
        self.cp.on_temperature(t)
        self.cp.tick()

    def wait(self, seconds: float) -> None:
        for _ in range(int(seconds * 10)):
            self.clock.t += 0.1
            self.cp.tick()

    @property
    def screen(self) -> Any:
        return self.board.screen()


def test_green_code_and_normal_temperature_pass_and_are_recorded() -> None:
    door = Door(verified())
    door.code()
    assert door.cp.phase == Phase.MEASURING and door.screen.masked_name == "张*中"
    door.temperature(MEASURING)
    assert door.screen.temperature_state == "measuring"
    door.temperature(OK)
    assert door.screen.phase == Phase.DECIDED and door.screen.outcome == Outcome.PASS
    (entry,) = door.recorder.entries
    assert entry.decision == Outcome.PASS and entry.reasons == ()
    assert (entry.masked_name, entry.subject_hash) == ("张*中", "ab" * 16)
    assert (entry.temperature_c, entry.temperature_state) == (36.6, "ok")
    assert entry.code_kind == "county-pass" and entry.code_status == "green"
    assert door.screen.entry_seq == 1 and door.signals.given == [Outcome.PASS]
    assert door.recorder.phase_at_commit == [Phase.MEASURING]  # committed before shown


def test_temperature_first_then_code_within_the_window() -> None:
    door = Door(verified())
    door.temperature(OK)
    door.wait(5)
    door.code()
    assert door.screen.outcome == Outcome.PASS
    assert door.recorder.entries[0].temperature_c == 36.6


def test_a_temperature_taken_while_a_decision_is_shown_is_not_the_next_visitors() -> None:
    """A red code is refused on sight, so its holder reaches the thermometer while the DENY
    is still shown. That temperature is theirs: the next visitor's code must not pass with it
    (seen in the demo: a fever visitor passed with the previous visitor's 36.7 °C)."""
    door = Door(verified(CodeStatus.RED))
    door.code("CP1:RED")
    assert door.screen.outcome == Outcome.DENY
    door.temperature(OK)  # the refused visitor, still at the door
    door.wait(4.1)  # the dwell ends
    assert door.cp.phase == Phase.IDLE
    door.verifier.answer = verified()
    door.code("CP1:NEXT")  # within pair_window_s of that temperature
    assert door.cp.phase == Phase.MEASURING  # waits for its own temperature
    door.temperature(FEVER)
    assert door.screen.outcome == Outcome.DENY and door.screen.reasons == ("temp.fever",)
    assert door.recorder.entries[1].temperature_c == 38.2


def test_temperature_too_long_before_the_code_is_not_used() -> None:
    door = Door(verified())
    door.temperature(OK)
    door.wait(11)
    door.code()
    assert door.cp.phase == Phase.MEASURING
    door.wait(8.1)
    assert door.screen.outcome == Outcome.REFER
    assert door.recorder.entries[0].reasons == ("temp.not_ready",)


def test_red_code_is_refused_at_once_without_waiting_for_a_temperature() -> None:
    door = Door(verified(CodeStatus.RED))
    door.code()
    assert door.screen.outcome == Outcome.DENY and door.screen.reasons == ("code.red",)
    entry = door.recorder.entries[0]
    assert entry.temperature_c is None and entry.alert_reasons == ("code.red",)


def test_fever_denies_and_is_an_alert() -> None:
    door = Door(verified())
    door.code()
    door.temperature(FEVER)
    assert door.screen.outcome == Outcome.DENY and "temp.fever" in door.screen.reasons
    assert door.recorder.entries[0].alert_reasons == ("temp.fever",)


def test_a_fever_without_any_code_is_still_recorded() -> None:
    door = Door(verified())
    door.temperature(FEVER)
    door.wait(10.5)
    (entry,) = door.recorder.entries
    assert entry.decision == Outcome.DENY
    assert set(entry.reasons) == {"code.missing", "temp.fever"}
    assert entry.alert_reasons == ("temp.fever",)


def test_a_normal_temperature_without_a_code_leaves_no_entry() -> None:
    door = Door(verified())
    door.temperature(OK)
    door.wait(11)
    assert door.recorder.entries == [] and door.cp.phase == Phase.IDLE


def test_same_code_again_is_ignored_within_the_repeat_window() -> None:
    door = Door(verified(CodeStatus.RED))
    door.code("CP1:A")
    door.wait(5)  # dwell over, back to idle
    assert door.cp.phase == Phase.IDLE
    door.code("CP1:A")
    assert len(door.recorder.entries) == 1 and door.cp.phase == Phase.IDLE
    door.wait(26)
    door.code("CP1:A")  # 31 s after its decision: a new visit
    assert len(door.recorder.entries) == 2


def test_one_visitor_at_a_time_the_next_code_waits_its_turn() -> None:
    door = Door(verified())
    door.code("CP1:A")
    door.code("CP1:B")  # while A is measuring
    assert door.verifier.texts == ["CP1:A"]
    door.temperature(OK)
    assert door.screen.outcome == Outcome.PASS
    door.wait(1.1)  # min dwell: B's code ends A's result screen
    assert door.verifier.texts == ["CP1:A", "CP1:B"]
    assert door.cp.phase == Phase.MEASURING


def test_screen_returns_to_idle_after_the_dwell() -> None:
    door = Door(verified(CodeStatus.RED))
    door.code()
    door.wait(3.9)
    assert door.cp.phase == Phase.DECIDED
    door.wait(0.2)
    assert door.cp.phase == Phase.IDLE and door.screen.outcome is None
    assert door.screen.masked_name is None


# -- the guarantee, as a table: none of these may ever pass ------------------------------------

NEVER_PASS: list[tuple[str, Verification | None, list[Temperature], dict[str, Any], str]] = [
    ("forged signature", failed("code.bad_signature"), [OK], {}, "code.bad_signature"),
    ("unknown issuer", failed("code.unknown_issuer"), [OK], {}, "code.unknown_issuer"),
    ("unknown format", failed("code.unknown_format"), [OK], {}, "code.unknown_format"),
    ("expired", failed("code.expired", CodeStatus.EXPIRED), [OK], {}, "code.expired"),
    ("online timeout", failed("verify.timeout", CodeStatus.TIMEOUT), [OK], {}, "verify.timeout"),
    ("verifier hangs", verified(), [OK], {"executor": Never()}, "verify.timeout"),
    ("verifier crashes", None, [OK], {}, "code.malformed"),
    ("no temperature", verified(), [], {}, "temp.not_ready"),
    ("thermometer not ready", verified(), [NOT_READY], {}, "temp.not_ready"),
    ("still measuring", verified(), [MEASURING], {}, "temp.not_ready"),
    ("commit fails", verified(), [OK], {"fail_commit": True}, "storage.error"),
    ("yellow code", verified(CodeStatus.YELLOW), [OK], {}, "code.yellow"),
]


@pytest.mark.parametrize(
    ("name", "answer", "temps", "door_kw", "reason"), NEVER_PASS, ids=[row[0] for row in NEVER_PASS]
)
def test_nothing_unchecked_ever_passes(
    name: str,
    answer: Verification | None,
    temps: list[Temperature],
    door_kw: dict[str, Any],
    reason: str,
) -> None:
    door = Door(answer, **door_kw)
    door.code()
    for t in temps:
        door.temperature(t)
    door.wait(SETTINGS.measure_timeout_s + VERIFY_TIMEOUT + 0.5)
    outcomes = [e.decision for e in door.recorder.entries]
    shown = [o for o in door.signals.given]
    assert Outcome.PASS not in outcomes + shown
    assert shown and shown[0] in (Outcome.DENY, Outcome.REFER)
    if door_kw.get("fail_commit"):
        assert door.recorder.entries == [] and door.signals.given == [Outcome.REFER]
    else:
        assert reason in door.recorder.entries[0].reasons, door.recorder.entries[0].reasons


def test_exhaustively_pass_needs_a_verified_accepted_code_a_temperature_and_a_commit() -> None:
    statuses = list(CodeStatus)
    temps: list[Temperature | None] = [
        None,
        OK,
        FEVER,
        MEASURING,
        NOT_READY,
        Temperature(TempState.NO_SUBJECT),
    ]
    for status, valid, temp, fail in itertools.product(
        statuses, (True, False), temps, (False, True)
    ):
        answer = Verification(
            "county-pass", status, valid, reasons=() if valid else ("code.bad_signature",)
        )
        door = Door(answer, fail_commit=fail)
        door.code()
        if temp is not None:
            door.temperature(temp)
        door.wait(SETTINGS.measure_timeout_s + 0.5)
        passed = Outcome.PASS in door.signals.given
        should = valid and status == CodeStatus.GREEN and temp is OK and not fail
        assert passed == should, (status, valid, temp, fail)
