"""Staff registration (人工登记): the form's rules as a table, the entry, the checkpoint path."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from kiosk.codes.privacy import SubjectHasher
from kiosk.manual import (
    ManualRegistration,
    RegistrationDesk,
    RegistrationRefused,
    identifier_key,
    manual_entry,
    registration,
)
from kiosk.model import CodeStatus, Outcome, Temperature, TempState
from kiosk.service.status import Phase
from tests.unit.test_checkpoint import FEVER, OK, Door, verified

HASHER = SubjectHasher(b"kiosk-secret-key-0123456789abcdef")
ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"
FORM: dict[str, Any] = {
    "name": "欧阳小明", "identifier": ID_NUMBER, "why": "manual.no_phone", "decision": "pass",
    "staff_name": "李工作", "clinical": None,
}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PHONE, ("phone:cn", PHONE)),
        ("138 1234 5678", ("phone:cn", PHONE)),
        ("138-1234-5678", ("phone:cn", PHONE)),
        (ID_NUMBER, ("id:cn", ID_NUMBER)),
        (ID_NUMBER.lower(), ("id:cn", ID_NUMBER)),
        ("110105491231002", ("id:cn", "110105491231002")),  # the old 15-digit number
    ],
)
def test_identifier_key(text: str, expected: tuple[str, str]) -> None:
    assert identifier_key(text) == expected


@pytest.mark.parametrize("text", ["", "12345", "2381234567", "1381234567", "张小明", "1101051949"])
def test_identifier_key_refuses_anything_else(text: str) -> None:
    with pytest.raises(RegistrationRefused) as info:
        identifier_key(text)
    assert info.value.code == "identifier"


# (form changes, refusal code or None)
FORMS: list[tuple[dict[str, Any], str | None]] = [
    ({}, None),
    ({"identifier": PHONE, "why": "manual.phone_flat", "decision": "deny"}, None),
    ({"why": "manual.pass_lost", "clinical": "36.84"}, None),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": ID_NUMBER}, "name"),  # an ID number typed as the name is not stored, even masked
    ({"identifier": "not a number"}, "identifier"),
    ({"why": "code.red"}, "why"),
    ({"decision": "refer"}, "decision"),
    ({"staff_name": ""}, "staff"),
    ({"staff_name": "<script>"}, "staff"),
    ({"staff_name": ID_NUMBER}, "staff"),
    ({"clinical": "hot"}, "temperature"),
    ({"clinical": "33.9"}, "temperature"),
    ({"clinical": "43.1"}, "temperature"),
    ({"clinical": "nan"}, "temperature"),
]


@pytest.mark.parametrize(("changes", "refused"), FORMS)
def test_registration_form(changes: dict[str, Any], refused: str | None) -> None:
    form = {**FORM, **changes}
    if refused is not None:
        with pytest.raises(RegistrationRefused) as info:
            registration(**form, hasher=HASHER)
        assert info.value.code == refused
        return
    reg = registration(**form, hasher=HASHER)
    assert reg.masked_name == "欧**明" and reg.staff_name == "李工作"
    namespace, value = identifier_key(form["identifier"])
    assert reg.subject_hash == HASHER(namespace, value) and len(reg.subject_hash or "") == 64
    assert form["identifier"] not in repr(reg) and "小明" not in repr(reg)
    assert reg.clinical_c == (
        None if form["clinical"] is None else round(float(form["clinical"]), 1)
    )


REG = ManualRegistration("欧**明", "ab" * 32, "manual.no_phone", Outcome.PASS, "李工作")
KIOSK_OK = Temperature(TempState.OK, 36.5)


# (registration changes, kiosk temperature, refusal or (outcome, reasons, value, source, state))
ENTRIES: list[tuple[dict[str, Any], Temperature | None, Any]] = [
    ({}, KIOSK_OK, (Outcome.PASS, ("staff.manual", "manual.no_phone"), 36.5, "kiosk", "ok")),
    ({"clinical_c": 36.9}, None, (Outcome.PASS, ("staff.manual", "manual.no_phone"), 36.9,
                                  "clinical", "ok")),
    ({"clinical_c": 36.9}, Temperature(TempState.OK, 36.2), (Outcome.PASS,
     ("staff.manual", "manual.no_phone"), 36.9, "clinical", "ok")),  # the typed one wins
    ({"outcome": Outcome.DENY}, KIOSK_OK, (Outcome.DENY, ("staff.manual", "manual.no_phone"),
                                           36.5, "kiosk", "ok")),
    ({"outcome": Outcome.DENY}, Temperature(TempState.FEVER, 38.1), (Outcome.DENY,
     ("staff.manual", "manual.no_phone", "temp.fever"), 38.1, "kiosk", "fever")),
    ({"outcome": Outcome.DENY, "clinical_c": 37.3}, None, (Outcome.DENY,
     ("staff.manual", "manual.no_phone", "temp.fever"), 37.3, "clinical", "fever")),
    ({}, Temperature(TempState.FEVER, 38.1), "fever_pass"),
    ({"clinical_c": 37.5}, None, "fever_pass"),
    ({}, None, "no_temperature"),
    ({}, Temperature(TempState.MEASURING), "no_temperature"),
    ({}, Temperature(TempState.NO_SUBJECT, 30.0), "no_temperature"),
    ({}, Temperature(TempState.OK, None), "no_temperature"),
    ({}, Temperature(TempState.OK, 31.0), "no_temperature"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "kiosk_temp", "expected"), ENTRIES)
def test_manual_entry(
    changes: dict[str, Any], kiosk_temp: Temperature | None, expected: Any
) -> None:
    import dataclasses

    reg = dataclasses.replace(REG, **changes)
    make = lambda: manual_entry(  # noqa: E731
        reg, kiosk_temp, kiosk="k-001", site="fanzhuang", fever_threshold_c=37.3,
        policy_version="2+abc",
    )  # fmt: skip
    if isinstance(expected, str):
        with pytest.raises(RegistrationRefused) as info:
            make()
        assert info.value.code == expected
        return
    entry = make()
    outcome, reasons, value, source, state = expected
    assert (entry.decision, entry.reasons, entry.temperature_c) == (outcome, reasons, value)
    assert (entry.temperature_source, entry.temperature_state) == (source, state)
    assert (entry.code_kind, entry.code_status, entry.staff_name) == ("manual", None, "李工作")
    assert (entry.masked_name, entry.subject_hash) == ("欧**明", "ab" * 32)


def test_checkpoint_registers_with_the_kiosk_temperature_and_opens_the_gate() -> None:
    door = Door(verified())
    door.temperature(OK)  # the visitor at the thermometer, no code
    entry = door.cp.register(REG)
    assert (entry.seq, entry.decision, entry.temperature_c) == (1, Outcome.PASS, 36.6)
    assert entry.temperature_source == "kiosk" and door.recorder.entries == [entry]
    screen = door.screen
    assert (screen.phase, screen.outcome, screen.entry_seq) == (Phase.DECIDED, Outcome.PASS, 1)
    assert screen.reasons == ("staff.manual", "manual.no_phone") and screen.masked_name == "欧**明"
    assert door.signals.given == [Outcome.PASS]
    with pytest.raises(RegistrationRefused, match="no_temperature"):
        door.cp.register(REG)  # one temperature, one visitor
    door.wait(5)
    assert door.cp.phase == Phase.IDLE


def test_staff_may_register_a_refused_visitor_with_the_temperature_taken_meanwhile() -> None:
    """A visitor refused on sight measures while the DENY is shown: that temperature is not
    kept for the next code, but staff registering this visitor may use it (once)."""
    door = Door(verified(CodeStatus.RED))
    door.code("CP1:RED")
    door.temperature(OK)  # during the DENY
    door.wait(2)
    entry = door.cp.register(REG)
    assert (entry.temperature_c, entry.temperature_source) == (36.6, "kiosk")
    door.wait(5)
    with pytest.raises(RegistrationRefused, match="no_temperature"):
        door.cp.register(REG)  # one temperature, one visitor


def test_checkpoint_refuses_while_a_visitor_is_checked_and_when_it_cannot_record() -> None:
    door = Door(verified())
    door.code()
    assert door.cp.phase == Phase.MEASURING
    with pytest.raises(RegistrationRefused, match="busy"):
        door.cp.register(REG)
    failing = Door(verified(), fail_commit=True)
    failing.temperature(OK)
    with pytest.raises(RegistrationRefused, match="not_recorded"):
        failing.cp.register(REG)
    assert failing.signals.given == [] and failing.cp.phase == Phase.IDLE
    fever = Door(verified())
    fever.temperature(FEVER)
    with pytest.raises(RegistrationRefused, match="fever_pass"):
        fever.cp.register(REG)
    assert fever.signals.given == [] and fever.recorder.entries == []


def test_desk_hands_registrations_over_and_is_bounded() -> None:
    desk = RegistrationDesk(HASHER, capacity=1)
    assert desk.take() is None
    answers: list[Any] = []

    def coordinator() -> None:
        while (taken := desk.take()) is None:
            threading.Event().wait(0.01)
        reg, future = taken
        assert reg == REG
        future.set_result(answers)  # type: ignore[arg-type]

    worker = threading.Thread(target=coordinator)
    worker.start()
    assert desk.submit(REG, timeout_s=5) is answers
    worker.join(5)
    # nobody takes: a second one while the first waits is refused at once (bounded), the
    # first gives up after its timeout and is skipped, never registered late
    refusals: list[str] = []

    def waiting() -> None:
        try:
            desk.submit(REG, timeout_s=0.5)
        except RegistrationRefused as refused:
            refusals.append(refused.code)

    first = threading.Thread(target=waiting)
    first.start()
    threading.Event().wait(0.1)
    with pytest.raises(RegistrationRefused, match="busy"):
        desk.submit(REG, timeout_s=5)
    first.join(5)
    assert refusals == ["unavailable"]
    assert desk.take() is None
