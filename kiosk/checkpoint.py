"""The visitor state machine: pairs one code with one temperature, decides, records, shows.

idle → verifying → measuring → decided (dwell) → idle. A temperature may come first: it waits
``pair_window_s`` for its code. Single-threaded: the coordinator thread calls ``on_code``,
``on_temperature`` and ``tick``; verification runs on an executor so that a slow online check
never stops temperatures from being read. Every path that cannot check something ends in
SEE STAFF or DENY, never PASS, and an entry is committed before its decision is shown.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from kiosk.codes.base import CodeVerifier
from kiosk.config.checkpoint import CheckpointSection
from kiosk.manual import (
    BUSY,
    NOT_RECORDED,
    ManualRegistration,
    RegistrationRefused,
    manual_entry,
)
from kiosk.model import (
    CodeStatus,
    Entry,
    Outcome,
    ScannedCode,
    Temperature,
    TempState,
    Verification,
)
from kiosk.policy import Rules, decide, policy_version
from kiosk.reasons import STORAGE_ERROR, VERIFY_TIMEOUT
from kiosk.service.status import Phase, Screen
from kiosk.storage import StorageError

logger = logging.getLogger(__name__)

DECISION_GRADE = (TempState.OK, TempState.FEVER)
# Asked of the policy to learn whether a code could pass at all: with this temperature a code
# that still does not pass is refused for the code alone, so nobody waits at the thermometer.
_NORMAL = Temperature(state=TempState.OK, value_c=36.5)


class Recorder(Protocol):
    """Commits an entry durably (ledger + outbox) and returns it numbered; raises StorageError."""

    def commit(self, entry: Entry) -> Entry: ...


class Display(Protocol):
    """Where screen states go (``kiosk.service.status.StatusBoard``)."""

    def show(self, **changes: Any) -> Screen: ...


class Signals(Protocol):
    """Gate relay, buzzer and lights (``kiosk.gate``); must return at once."""

    def signal(self, outcome: Outcome) -> None: ...


class NoSignals:
    def signal(self, outcome: Outcome) -> None:
        """No gate, buzzer or lights attached."""


@dataclass
class _Visitor:
    code_key: bytes
    frame_t: float
    started: float
    future: Future[Verification] | None = None
    verification: Verification | None = None
    measuring_since: float | None = None


class Checkpoint:
    """The one visitor at the door and what the screen says about them.

    Codes are remembered only as keyed hashes (a per-process random key); the raw text goes
    to the verifier and nowhere else.
    """

    def __init__(
        self,
        *,
        kiosk_id: str,
        site: str,
        settings: CheckpointSection,
        rules: Rules,
        verifier: CodeVerifier,
        verify_timeout_s: float,
        recorder: Recorder,
        display: Display,
        executor: Executor,
        signals: Signals | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._kiosk, self._site = kiosk_id, site
        self._cfg = settings
        self._rules = rules
        self._verifier = verifier
        self._verify_timeout = verify_timeout_s
        self._recorder = recorder
        self._display = display
        self._executor = executor
        self._signals = signals or NoSignals()
        self._clock, self._wall = clock, wall
        self._key = os.urandom(16)
        self.phase = Phase.IDLE
        self._visitor: _Visitor | None = None
        self._next_code: ScannedCode | None = None
        self._temperature: Temperature | None = None  # decision-grade, waiting for a code
        self._temperature_at = 0.0
        # taken while a decision was shown: never paired with a code, but staff may register
        # the visitor it belongs to
        self._shown_temperature: Temperature | None = None
        self._shown_at = 0.0
        self._decided_at = 0.0
        self._recent: dict[bytes, float] = {}

    # -- inputs ---------------------------------------------------------------------------

    def on_code(self, code: ScannedCode) -> None:
        now = self._clock()
        key = hmac.new(self._key, code.text.encode("utf-8", "replace"), hashlib.sha256).digest()
        seen = self._recent.get(key)
        if seen is not None and now - seen < self._cfg.repeat_window_s:
            logger.debug("same code again within %.0f s: ignored", self._cfg.repeat_window_s)
            return
        if self._visitor is not None and self._visitor.code_key == key:
            return  # the visitor in progress still holds up the same code
        if self.phase in (Phase.IDLE,):
            self._start(code, key, now)
        else:
            self._next_code = code  # one visitor at a time; the next one waits its turn

    def on_temperature(self, temperature: Temperature) -> None:
        now = self._clock()
        if temperature.state in DECISION_GRADE and self.phase != Phase.DECIDED:
            self._temperature, self._temperature_at = temperature, now
        elif temperature.state in DECISION_GRADE:
            # taken while a decision is on screen: most likely the visitor just decided (a code
            # refused on sight is decided before its holder reaches the thermometer), so it
            # must not wait for the next code; the next visitor measures again
            self._shown_temperature, self._shown_at = temperature, now
        if self.phase != Phase.DECIDED:
            self._display.show(
                temperature_state=temperature.state.value,
                temperature_c=temperature.value_c if temperature.state in DECISION_GRADE else None,
                temperature_t=now if temperature.state in DECISION_GRADE else None,
            )
        if self.phase == Phase.MEASURING and self._fresh_temperature(now) is not None:
            assert self._visitor is not None and self._visitor.verification is not None  # noqa: S101
            self._decide(self._visitor.verification, self._temperature, now)

    def tick(self) -> None:
        """Advance timeouts; call often (every few tens of ms)."""
        now = self._clock()
        visitor = self._visitor
        if self.phase == Phase.VERIFYING and visitor is not None:
            self._check_verification(visitor, now)
        elif self.phase == Phase.MEASURING and visitor is not None:
            assert visitor.measuring_since is not None  # noqa: S101
            if now - visitor.measuring_since >= self._cfg.measure_timeout_s:
                assert visitor.verification is not None  # noqa: S101
                self._decide(visitor.verification, None, now)  # not ready: never PASS
        elif self.phase == Phase.DECIDED:
            shown = now - self._decided_at
            if shown >= self._cfg.dwell_s or (
                self._next_code is not None and shown >= self._cfg.min_dwell_s
            ):
                self._to_idle()
        if self.phase == Phase.IDLE:
            if self._next_code is not None:
                code, self._next_code = self._next_code, None
                self.on_code(code)
            elif self._temperature is not None and self._fresh_temperature(now) is None:
                self._temperature_alone(now)
        self._forget(now)

    # -- steps ----------------------------------------------------------------------------

    def _start(self, code: ScannedCode, key: bytes, now: float) -> None:
        visitor = _Visitor(code_key=key, frame_t=code.t, started=now)
        visitor.future = self._executor.submit(self._verifier.verify, code.text)
        self._visitor = visitor
        self.phase = Phase.VERIFYING
        self._display.show(
            phase=Phase.VERIFYING, code_seen=True, frame_t=code.t, outcome=None, reasons=(),
            masked_name=None, code_status=None, itinerary_status=None, entry_seq=None,
            decided_t=None,
        )  # fmt: skip
        self._check_verification(visitor, now)  # offline checks are usually done already

    def _check_verification(self, visitor: _Visitor, now: float) -> None:
        future = visitor.future
        assert future is not None  # noqa: S101
        if future.done():
            try:
                verification = future.result()
            except Exception:  # the verifier promises not to raise; fail closed if it does
                logger.exception("verifier raised")
                verification = _failed(CodeStatus.FAILED, "code.malformed")
        elif now - visitor.started >= self._verify_timeout:
            future.cancel()
            verification = _failed(CodeStatus.TIMEOUT, VERIFY_TIMEOUT)
        else:
            return
        visitor.verification = verification
        temperature = self._fresh_temperature(now)
        if temperature is not None:
            self._decide(verification, temperature, now)
            return
        if decide(verification, _NORMAL, self._rules, self._wall()).outcome != Outcome.PASS:
            self._decide(verification, None, now, code_only=True)
            return
        visitor.measuring_since = now
        self.phase = Phase.MEASURING
        self._display.show(
            phase=Phase.MEASURING, code_status=verification.status.value,
            masked_name=verification.masked_name,
            itinerary_status=verification.itinerary.status.value
            if verification.itinerary else None,
        )  # fmt: skip

    def _fresh_shown(self, now: float) -> Temperature | None:
        """The temperature taken while the last decision was shown, for a staff registration."""
        return self._paired(self._shown_temperature, self._shown_at, now)

    def _fresh_temperature(self, now: float) -> Temperature | None:
        return self._paired(self._temperature, self._temperature_at, now)

    def _paired(self, temperature: Temperature | None, at: float, now: float) -> Temperature | None:
        """``temperature`` if it was taken within ``pair_window_s`` of ``now``."""
        if temperature is None or now - at > self._cfg.pair_window_s:
            return None
        return temperature

    def _decide(
        self,
        verification: Verification | None,
        temperature: Temperature | None,
        now: float,
        *,
        code_only: bool = False,
    ) -> None:
        """Decide, commit, then show and signal; a failed commit shows SEE STAFF."""
        probe = _NORMAL if code_only else temperature
        decision = decide(verification, probe, self._rules, self._wall())
        itinerary = verification.itinerary if verification else None
        entry = Entry.new(
            self._kiosk,
            self._site,
            decision.outcome,
            decision.reasons,
            code_kind=verification.kind if verification else None,
            code_status=verification.status.value if verification else None,
            masked_name=verification.masked_name if verification else None,
            subject_hash=verification.subject_hash if verification else None,
            temperature_c=temperature.value_c if temperature else None,
            temperature_state=temperature.state.value if temperature else None,
            policy_version=decision.policy_version,
            itinerary_status=itinerary.status.value if itinerary else None,
            itinerary_updated_at=itinerary.updated_at if itinerary else None,
        )
        outcome, reasons, seq = decision.outcome, decision.reasons, None
        try:
            seq = self._recorder.commit(entry).seq
        except StorageError as exc:
            logger.error("entry not recorded, visitor sent to staff: %s", exc)
            outcome, reasons = Outcome.REFER, (STORAGE_ERROR,)
        else:
            fields = {
                "ENTRY_ID": entry.id, "ENTRY_SEQ": seq, "DECISION": outcome.value,
                "REASONS": reasons, "CODE_KIND": entry.code_kind,
                "CODE_STATUS": entry.code_status, "TEMP_STATE": entry.temperature_state,
                "POLICY_VERSION": entry.policy_version,
            }  # fmt: skip
            logger.info("entry %d: %s %s", seq, outcome.value, ",".join(reasons) or "-",
                        extra={"journal": fields})  # fmt: skip
        if self._visitor is not None:
            self._recent[self._visitor.code_key] = now
        self._temperature = self._shown_temperature = None  # one temperature, one visitor
        self._decided_at = now
        self.phase = Phase.DECIDED
        self._display.show(
            phase=Phase.DECIDED,
            outcome=outcome,
            reasons=reasons,
            masked_name=verification.masked_name if verification else None,
            code_status=verification.status.value if verification else None,
            itinerary_status=entry.itinerary_status,
            temperature_c=temperature.value_c if temperature else None,
            temperature_state=temperature.state.value if temperature else None,
            entry_seq=seq,
            frame_t=self._visitor.frame_t if self._visitor else None,
            decided_t=self._clock(),
            dwell_s=self._cfg.dwell_s,
        )
        self._signals.signal(outcome)

    def register(self, reg: ManualRegistration) -> Entry:
        """A staff registration (人工登记): committed, shown and signalled like a decision.

        The kiosk's temperature is the decision-grade one of the last ``pair_window_s``.
        RegistrationRefused while a visitor is being checked, without a temperature, for a
        fever registered as pass, or when the ledger cannot commit: then nothing is shown.
        """
        now = self._clock()
        if self.phase in (Phase.VERIFYING, Phase.MEASURING):
            raise RegistrationRefused(BUSY)
        entry = manual_entry(
            reg, self._fresh_temperature(now) or self._fresh_shown(now), kiosk=self._kiosk,
            site=self._site,
            fever_threshold_c=self._rules.fever_threshold_c,
            policy_version=policy_version(self._rules),
        )  # fmt: skip
        try:
            committed = self._recorder.commit(entry)
        except StorageError as exc:
            logger.error("staff registration not recorded: %s", exc)
            raise RegistrationRefused(NOT_RECORDED) from exc
        fields = {
            "ENTRY_ID": entry.id, "ENTRY_SEQ": committed.seq, "DECISION": entry.decision.value,
            "REASONS": entry.reasons, "CODE_KIND": entry.code_kind,
            "TEMP_STATE": entry.temperature_state, "POLICY_VERSION": entry.policy_version,
        }  # fmt: skip
        logger.info("entry %d: %s %s (staff registration)", committed.seq, entry.decision.value,
                    ",".join(entry.reasons), extra={"journal": fields})  # fmt: skip
        if entry.temperature_source == "kiosk":
            self._temperature = self._shown_temperature = None  # one temperature, one visitor
        self._visitor, self._decided_at, self.phase = None, now, Phase.DECIDED
        self._display.show(
            phase=Phase.DECIDED, code_seen=False, outcome=entry.decision, reasons=entry.reasons,
            masked_name=entry.masked_name, code_status=None, itinerary_status=None,
            temperature_c=entry.temperature_c, temperature_state=entry.temperature_state,
            entry_seq=committed.seq, frame_t=None, decided_t=self._clock(),
            dwell_s=self._cfg.dwell_s,
        )  # fmt: skip
        self._signals.signal(entry.decision)
        return committed

    def _temperature_alone(self, now: float) -> None:
        """A temperature whose code never came: a fever is still recorded (and alerted)."""
        temperature, self._temperature = self._temperature, None
        if temperature is not None and temperature.state == TempState.FEVER:
            self._decide(None, temperature, now)
        else:
            self._display.show(temperature_state=None, temperature_c=None, temperature_t=None)

    def _to_idle(self) -> None:
        self._visitor = None
        self.phase = Phase.IDLE
        self._display.show(
            phase=Phase.IDLE, code_seen=False, outcome=None, reasons=(), masked_name=None,
            code_status=None, itinerary_status=None, entry_seq=None, temperature_state=None,
            temperature_c=None, frame_t=None, temperature_t=None, decided_t=None,
        )  # fmt: skip

    def _forget(self, now: float) -> None:
        window = self._cfg.repeat_window_s
        if len(self._recent) > 64:
            self._recent = {k: t for k, t in self._recent.items() if now - t < window}


def _failed(status: CodeStatus, reason: str) -> Verification:
    return Verification(kind="unknown", status=status, valid=False, reasons=(reason,))
