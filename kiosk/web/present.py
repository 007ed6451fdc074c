"""What the kiosk screen says for one ``Screen``: texts in both languages, colour, steps."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from kiosk.model import Outcome
from kiosk.reasons import DEVICE_CAMERA, describe
from kiosk.service.status import Phase, Screen

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bi:
    """One text in Simplified Chinese and English; templates order them by the language."""

    zh: str
    en: str


@dataclass(frozen=True)
class Step:
    """One step of the visitor flow as the progress screen shows it."""

    label: Bi
    status: Bi
    state: str  # "todo" | "active" | "done" | "problem"


@dataclass(frozen=True)
class Check:
    """One of the two checks of 一码一卡 on a result: the health code and the itinerary card."""

    key: str  # "code" | "itinerary"
    label: Bi
    status: Bi
    state: str  # "ok" | "warn" | "bad"


@dataclass(frozen=True)
class ScreenView:
    """Everything the screen template needs; nothing personal beyond a masked name."""

    version: int
    phase: str  # idle | progress | decided | expired
    outcome: str | None  # pass | deny | refer (the colour)
    headline: Bi
    subline: Bi | None
    reasons: tuple[Bi, ...]
    masked_name: str | None
    temperature: str | None
    fever: bool
    steps: tuple[Step, ...]
    notices: tuple[Bi, ...]
    dwell_ms: int
    checks: tuple[Check, ...] = ()
    voice: tuple[str, ...] = ()  # clip names (kiosk.web.voice.CLIPS) to play for this screen
    voice_key: str = ""  # the same key again means the same event: it is not played twice


#: How long a result stays up when the screen does not say (``Screen.dwell_s`` is None).
DEFAULT_DWELL_S = 5.0

PROMPT = Bi("请出示健康码", "Please show your health code")
PROMPT_TEMP = Bi("请测量体温", "Please take your temperature")
REMINDERS = (Bi("扫码", "Scan"), Bi("测温", "Temperature"), Bi("戴口罩", "Mask"))
WAIT = Bi("请稍候", "Please wait")
CONNECTION_LOST = Bi("与本机服务的连接中断，请联系工作人员", "Connection lost: please see staff")

HEADLINES = {
    Outcome.PASS: (Bi("通行", "PASS"), Bi("请进", "Please enter")),
    Outcome.DENY: (Bi("禁止", "DENY"), Bi("禁止通行", "Entry refused")),
    Outcome.REFER: (
        Bi("请联系工作人员", "SEE STAFF"),
        Bi("请稍候，工作人员将协助您", "Staff will help you"),
    ),
}

_TEMP_STATUS = {
    "measuring": (Bi("测温中，请保持", "Measuring, hold still"), "active"),
    "no_subject": (
        Bi("请将手腕或额头靠近测温区", "Hold your wrist or forehead to the sensor"),
        "active",
    ),
    "not_ready": (Bi("测温仪未就绪", "Thermometer not ready"), "problem"),
}


CODE_LABEL, ITINERARY_LABEL = Bi("健康码", "Health code"), Bi("行程卡", "Itinerary card")
_CODE_CHECK = {
    "green": (Bi("✓", "✓"), "ok"),
    "yellow": (Bi("黄码", "Yellow"), "warn"),
    "red": (Bi("红码", "Red"), "bad"),
    "expired": (Bi("已过期", "Expired"), "bad"),
    "not_found": (Bi("未查到", "Not found"), "bad"),
}
_ITINERARY_CHECK = {
    "normal": (Bi("✓", "✓"), "ok"),
    "starred": (Bi("带星号", "Starred"), "warn"),
}
#: What the screen says aloud for each outcome (clip names, played in order).
OUTCOME_VOICE = {
    Outcome.PASS: ("pass", "mask"),
    Outcome.DENY: ("deny",),
    Outcome.REFER: ("refer",),
}


def reason_text(code: str) -> Bi:
    text = describe(code)
    return Bi(text.zh, text.en)


def notice_text(code: str) -> Bi:
    """Banner text of a device notice (``kiosk.reasons.NOTICES``)."""
    return reason_text(code)


def safe_name(name: str | None) -> str | None:
    """The name only if it is masked (has a ``*``): a full name never reaches a page."""
    if not name:
        return None
    if "*" not in name:
        logger.warning("an unmasked name reached the web layer; not shown")
        return None
    return name[:32]


def public_screen(screen: Screen) -> dict[str, Any]:
    """``screen.to_dict()`` for clients (SSE, ``/api/status``), the name guarded as on the page."""
    return {**screen.to_dict(), "masked_name": safe_name(screen.masked_name)}


def temperature_text(value: float | None) -> str | None:
    return None if value is None else f"{value:.1f} °C"


def _checks(screen: Screen) -> tuple[Check, ...]:
    """健康码 ✓ / 行程卡 ✓ or 带星号 for a result with a code; none without one."""
    if screen.code_status is None:
        return ()
    status, state = _CODE_CHECK.get(screen.code_status, (Bi("未验证", "Not verified"), "bad"))
    checks = [Check("code", CODE_LABEL, status, state)]
    it = screen.itinerary_status
    if it in _ITINERARY_CHECK:
        status, state = _ITINERARY_CHECK[it]
        if "itinerary.stale" in screen.reasons:
            status, state = Bi(f"{status.zh}（信息过旧）", f"{status.en} (out of date)"), "warn"
        checks.append(Check("itinerary", ITINERARY_LABEL, status, state))
    elif "itinerary.missing" in screen.reasons:
        checks.append(Check("itinerary", ITINERARY_LABEL, Bi("未获取", "None"), "warn"))
    return tuple(checks)


def _steps(screen: Screen) -> tuple[Step, ...]:
    if screen.phase is Phase.VERIFYING:
        code = Step(Bi("健康码", "Health code"), Bi("验证中…", "Verifying…"), "active")
    elif screen.code_seen:
        code = Step(Bi("健康码", "Health code"), Bi("已读取", "Code read"), "done")
    else:
        code = Step(Bi("健康码", "Health code"), PROMPT, "todo")
    state = screen.temperature_state
    if state in ("ok", "fever") and screen.temperature_c is not None:
        value = temperature_text(screen.temperature_c) or ""
        temp = Step(Bi("体温", "Temperature"), Bi(value, value), "done")
    elif state in _TEMP_STATUS:
        text, step_state = _TEMP_STATUS[state]
        temp = Step(Bi("体温", "Temperature"), text, step_state)
    else:
        temp = Step(Bi("体温", "Temperature"), PROMPT_TEMP, "todo")
    return (code, temp)


def screen_view(screen: Screen, now: float) -> ScreenView:
    """The view of ``screen`` at ``now`` (``time.monotonic()``).

    A decision whose dwell time has run out shows "please wait" rather than the old result:
    a stale PASS must never greet the next visitor, even if the coordinator stopped updating.
    A decided screen without an outcome (a coordinator bug) also shows "please wait", and one
    without a dwell time gets ``DEFAULT_DWELL_S``.
    """
    dwell_s = DEFAULT_DWELL_S if screen.dwell_s is None else screen.dwell_s
    base = ScreenView(
        version=screen.version,
        phase="idle",
        outcome=None,
        headline=PROMPT,
        subline=PROMPT_TEMP,
        reasons=(),
        masked_name=None,
        temperature=None,
        fever=False,
        steps=(),
        notices=tuple(notice_text(n) for n in screen.notices),
        dwell_ms=round(dwell_s * 1000),
    )
    if screen.phase is Phase.DECIDED:
        elapsed = None if screen.decided_t is None else now - screen.decided_t
        stale = elapsed is not None and elapsed > dwell_s
        if screen.outcome is None or stale:
            return replace(base, phase="expired", headline=WAIT, subline=None)
        headline, subline = HEADLINES[screen.outcome]
        return replace(
            base,
            phase="decided",
            outcome=screen.outcome.value,
            headline=headline,
            subline=subline,
            reasons=tuple(reason_text(r) for r in screen.reasons),
            masked_name=safe_name(screen.masked_name),
            temperature=temperature_text(screen.temperature_c),
            fever=screen.temperature_state == "fever",
            checks=_checks(screen),
            voice=OUTCOME_VOICE[screen.outcome],
            voice_key=f"decided:{screen.decided_t}:{screen.entry_seq}",
        )
    if screen.phase is Phase.VERIFYING:
        headline = Bi("正在验证健康码", "Verifying your code")
        return replace(
            base, phase="progress", headline=headline, subline=None, steps=_steps(screen)
        )
    if screen.phase is Phase.MEASURING:
        headline = PROMPT_TEMP if screen.code_seen else PROMPT
        return replace(
            base, phase="progress", headline=headline, subline=None, steps=_steps(screen),
            voice=("measure",) if screen.code_seen else (),
            voice_key=f"measuring:{screen.frame_t}",
        )  # fmt: skip
    if DEVICE_CAMERA in screen.notices:  # no code can be read: nobody should wait for one
        return replace(
            base, outcome=Outcome.REFER.value, headline=HEADLINES[Outcome.REFER][0],
            subline=notice_text(DEVICE_CAMERA),
        )  # fmt: skip
    if screen.temperature_state in ("ok", "fever") and not screen.code_seen:
        # measured, but no code yet: ask for it (once per temperature)
        return replace(base, voice=("show_code",), voice_key=f"show:{screen.temperature_t}")
    return base
