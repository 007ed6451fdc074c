"""Staff registration (人工登记) of a visitor without a code: the form's rules, the entry, the desk.

A staff member keys in a visitor who cannot show a code; the decision is theirs. The name is
masked and the phone or ID number is replaced by its keyed hash before anything leaves the web
request; ``RegistrationDesk`` hands the registration to the coordinator thread, which takes the
kiosk's temperature at that moment (or the typed clinical reading), commits the entry through
the same ledger, outbox and MQTT path as every visitor, shows it and opens the gate on pass.
"""

from __future__ import annotations

import queue
import re
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from kiosk.codes.privacy import looks_like_id_number, mask_name
from kiosk.model import Entry, Outcome, Temperature, TempState
from kiosk.reasons import (
    MANUAL_NO_PHONE,
    MANUAL_PASS_LOST,
    MANUAL_PHONE_FLAT,
    STAFF_MANUAL,
    TEMP_FEVER,
)

KIND = "manual"
WHY = (MANUAL_NO_PHONE, MANUAL_PHONE_FLAT, MANUAL_PASS_LOST)
#: A body temperature outside this range is a misreading (the policy's range).
PLAUSIBLE_C = (34.0, 43.0)
_PHONE = re.compile(r"1\d{10}")  # a mainland mobile number
_STAFF_NAME = re.compile(r"[^\x00-\x1f<>]{1,32}")

Hasher = Callable[[str, str], str | None]


class RegistrationRefused(Exception):
    """Why a registration was not recorded; ``code`` names it for the staff page."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# codes of RegistrationRefused, each with a text on the staff page (kiosk/web/register.py)
BAD_NAME = "name"
BAD_IDENTIFIER = "identifier"
BAD_WHY = "why"
BAD_DECISION = "decision"
BAD_STAFF = "staff"
BAD_TEMPERATURE = "temperature"
NO_TEMPERATURE = "no_temperature"
FEVER_PASS = "fever_pass"  # noqa: S105 - a refusal code
BUSY = "busy"
UNAVAILABLE = "unavailable"
NOT_RECORDED = "not_recorded"


@dataclass(frozen=True)
class ManualRegistration:
    """A registration as it leaves the web request: masked name, keyed hash, no raw identifier.

    ``clinical_c`` is a reading typed in from a clinical thermometer; ``None`` means "take the
    kiosk thermometer's reading now".
    """

    masked_name: str
    subject_hash: str | None
    why: str
    outcome: Outcome
    staff_name: str
    clinical_c: float | None = None


def identifier_key(text: str) -> tuple[str, str]:
    """A phone number or resident ID number as (hash namespace, normalised value).

    RegistrationRefused(identifier) for anything else. Spaces and dashes are ignored; the
    ID number's check letter is upper-cased, so the same person always hashes alike.
    """
    value = re.sub(r"[\s-]", "", text).upper()
    if _PHONE.fullmatch(value):
        return "phone:cn", value
    if looks_like_id_number(value):
        return "id:cn", value
    raise RegistrationRefused(BAD_IDENTIFIER)


def registration(
    *,
    name: str,
    identifier: str,
    why: str,
    decision: str,
    staff_name: str,
    clinical: str | None,
    hasher: Hasher,
) -> ManualRegistration:
    """Check a staff form and turn it into a registration; the raw identifier goes no further."""
    masked = mask_name(name)
    if masked is None or looks_like_id_number(name.strip()):
        raise RegistrationRefused(BAD_NAME)
    namespace, value = identifier_key(identifier)
    if why not in WHY:
        raise RegistrationRefused(BAD_WHY)
    if decision not in (Outcome.PASS.value, Outcome.DENY.value):
        raise RegistrationRefused(BAD_DECISION)
    staff = staff_name.strip()
    if not _STAFF_NAME.fullmatch(staff) or looks_like_id_number(staff):
        raise RegistrationRefused(BAD_STAFF)
    clinical_c = None
    if clinical is not None and clinical.strip():
        try:
            clinical_c = round(float(clinical), 1)
        except ValueError:
            raise RegistrationRefused(BAD_TEMPERATURE) from None
        if not PLAUSIBLE_C[0] <= clinical_c <= PLAUSIBLE_C[1]:
            raise RegistrationRefused(BAD_TEMPERATURE)
    return ManualRegistration(
        masked_name=masked,
        subject_hash=hasher(namespace, value),
        why=why,
        outcome=Outcome(decision),
        staff_name=staff,
        clinical_c=clinical_c,
    )


def manual_entry(
    reg: ManualRegistration,
    kiosk_temperature: Temperature | None,
    *,
    kiosk: str,
    site: str,
    fever_threshold_c: float,
    policy_version: str,
) -> Entry:
    """The entry of a registration: the staff member's outcome, ``staff.manual`` and why.

    The temperature is the typed clinical reading, else the kiosk's decision-grade one; with
    neither nothing is recorded (``no_temperature``). A fever adds ``temp.fever`` (an alert to
    the county) and can only be registered as deny (``fever_pass``): staff cannot wave it in.
    """
    if reg.clinical_c is not None:
        value, source = reg.clinical_c, "clinical"
    elif (
        kiosk_temperature is not None
        and kiosk_temperature.state in (TempState.OK, TempState.FEVER)
        and kiosk_temperature.value_c is not None
    ):
        value, source = kiosk_temperature.value_c, "kiosk"
    else:
        raise RegistrationRefused(NO_TEMPERATURE)
    if not PLAUSIBLE_C[0] <= value <= PLAUSIBLE_C[1]:
        raise RegistrationRefused(NO_TEMPERATURE)
    fever = value >= fever_threshold_c
    if fever and reg.outcome is Outcome.PASS:
        raise RegistrationRefused(FEVER_PASS)
    reasons = (STAFF_MANUAL, reg.why) + ((TEMP_FEVER,) if fever else ())
    return Entry.new(
        kiosk,
        site,
        reg.outcome,
        reasons,
        code_kind=KIND,
        masked_name=reg.masked_name,
        subject_hash=reg.subject_hash,
        temperature_c=value,
        temperature_state=(TempState.FEVER if fever else TempState.OK).value,
        temperature_source=source,
        staff_name=reg.staff_name,
        policy_version=policy_version,
    )


class RegistrationDesk:
    """Hands registrations from web threads to the coordinator thread and their entries back.

    Bounded: at most ``capacity`` registrations wait; more are refused (``busy``) at once.
    ``submit`` blocks the web thread until the coordinator has committed (or refused) the
    registration, at most ``timeout_s``. Thread-safe. ``hasher`` is the kiosk's keyed subject
    hash (``Verifier.hash_subject``), so phone and ID numbers hash as codes' subjects do.
    """

    def __init__(self, hasher: Hasher, capacity: int = 4) -> None:
        self.hasher = hasher
        self._queue: queue.Queue[tuple[ManualRegistration, Future[Entry]]] = queue.Queue(capacity)

    def submit(self, reg: ManualRegistration, timeout_s: float = 5.0) -> Entry:
        future: Future[Entry] = Future()
        try:
            self._queue.put_nowait((reg, future))
        except queue.Full:
            raise RegistrationRefused(BUSY) from None
        try:
            return future.result(timeout_s)
        except FutureTimeout:
            if future.cancel():  # still waiting: the coordinator will skip it
                raise RegistrationRefused(UNAVAILABLE) from None
        try:  # being committed right now: its answer follows the commit
            return future.result(timeout_s)
        except FutureTimeout:
            raise RegistrationRefused(UNAVAILABLE) from None

    def take(self) -> tuple[ManualRegistration, Future[Entry]] | None:
        """The next registration still wanted (coordinator thread), or None."""
        while True:
            try:
                reg, future = self._queue.get_nowait()
            except queue.Empty:
                return None
            if future.set_running_or_notify_cancel():
                return reg, future
