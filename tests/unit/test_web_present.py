"""What the kiosk screen says for each screen state: a table of real states."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.model import Outcome
from kiosk.service.status import Phase, Screen
from kiosk.web.present import PROMPT, PROMPT_TEMP, WAIT, safe_name, screen_view

NOW = 1000.0
DECIDED = Screen(
    version=7,
    phase=Phase.DECIDED,
    code_seen=True,
    outcome=Outcome.PASS,
    masked_name="张*中",
    temperature_c=36.45,
    temperature_state="ok",
    decided_t=NOW - 1.0,
    dwell_s=3.0,
)

# (screen, phase shown, outcome colour, headline zh, headline en)
CASES = [
    (Screen(), "idle", None, PROMPT.zh, PROMPT.en),
    (
        Screen(phase=Phase.VERIFYING, code_seen=True),
        "progress",
        None,
        "正在验证健康码",
        "Verifying your code",
    ),
    (
        Screen(phase=Phase.MEASURING, code_seen=True, temperature_state="measuring"),
        "progress",
        None,
        PROMPT_TEMP.zh,
        PROMPT_TEMP.en,
    ),
    (
        Screen(phase=Phase.MEASURING, temperature_state="ok", temperature_c=36.5),
        "progress",
        None,
        PROMPT.zh,
        PROMPT.en,
    ),
    (DECIDED, "decided", "pass", "通行", "PASS"),
    (
        replace(DECIDED, outcome=Outcome.DENY, reasons=("code.red",)),
        "decided",
        "deny",
        "禁止",
        "DENY",
    ),
    (
        replace(DECIDED, outcome=Outcome.REFER, reasons=("temp.fever",)),
        "decided",
        "refer",
        "请联系工作人员",
        "SEE STAFF",
    ),
    (replace(DECIDED, decided_t=NOW - 3.5), "expired", None, WAIT.zh, WAIT.en),
    (replace(DECIDED, outcome=None), "expired", None, WAIT.zh, WAIT.en),
    (replace(DECIDED, dwell_s=None, decided_t=NOW - 4.0), "decided", "pass", "通行", "PASS"),
    (replace(DECIDED, dwell_s=None, decided_t=NOW - 6.0), "expired", None, WAIT.zh, WAIT.en),
    # no camera: an idle screen sends visitors to staff instead of asking for a code
    (Screen(notices=("device.camera",)), "idle", "refer", "请联系工作人员", "SEE STAFF"),
    (Screen(notices=("uplink.offline",)), "idle", None, PROMPT.zh, PROMPT.en),
    (replace(DECIDED, notices=("device.camera",)), "decided", "pass", "通行", "PASS"),
]


@pytest.mark.parametrize(("screen", "phase", "colour", "zh", "en"), CASES)
def test_screen_view_table(
    screen: Screen, phase: str, colour: str | None, zh: str, en: str
) -> None:
    view = screen_view(screen, NOW)
    assert (view.phase, view.outcome, view.headline.zh, view.headline.en) == (
        phase,
        colour,
        zh,
        en,
    )
    assert view.version == screen.version


def test_decision_carries_reasons_name_and_temperature() -> None:
    view = screen_view(
        replace(DECIDED, reasons=("code.expired", "temp.fever"), temperature_state="fever"), NOW
    )
    assert [r.zh for r in view.reasons] == ["码已过期，请更新", "体温异常，请联系工作人员"]
    assert [r.en for r in view.reasons] == [
        "The code has expired; please renew it",
        "Elevated temperature",
    ]
    assert view.masked_name == "张*中"
    assert view.temperature == "36.5 °C"
    assert view.fever is True
    assert view.dwell_ms == 3000


def test_unknown_reason_still_gets_a_text_naming_it() -> None:
    view = screen_view(
        replace(DECIDED, outcome=Outcome.REFER, reasons=("checkpoint.stalled",)), NOW
    )
    assert view.reasons[0].zh == "请联系工作人员（checkpoint.stalled）"


@pytest.mark.parametrize(
    ("state", "value", "status_zh", "step_state"),
    [
        (None, None, "请测量体温", "todo"),
        ("measuring", None, "测温中，请保持", "active"),
        ("no_subject", None, "请将手腕或额头靠近测温区", "active"),
        ("not_ready", None, "测温仪未就绪", "problem"),
        ("ok", 36.44, "36.4 °C", "done"),
        ("fever", 38.06, "38.1 °C", "done"),
    ],
)
def test_progress_temperature_step(
    state: str | None, value: float | None, status_zh: str, step_state: str
) -> None:
    screen = Screen(
        phase=Phase.MEASURING, code_seen=True, temperature_state=state, temperature_c=value
    )
    code, temp = screen_view(screen, NOW).steps
    assert (code.status.zh, code.state) == ("已读取", "done")
    assert (temp.status.zh, temp.state) == (status_zh, step_state)


def test_verifying_step_is_active() -> None:
    code, temp = screen_view(Screen(phase=Phase.VERIFYING, code_seen=True), NOW).steps
    assert code.state == "active" and code.status.en == "Verifying…"
    assert temp.state == "todo"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("张*中", "张*中"),
        ("G* M*", "G* M*"),
        ("张三丰", None),
        ("Gabriele Musterfrau", None),
        ("", None),
        (None, None),
    ],
)
def test_only_masked_names_are_shown(name: str | None, shown: str | None) -> None:
    assert safe_name(name) == shown
    view = screen_view(replace(DECIDED, masked_name=name), NOW)
    assert view.masked_name == shown


def test_notices_become_banners() -> None:
    view = screen_view(Screen(notices=("device.camera", "uplink.offline", "x.unknown")), NOW)
    assert [n.en for n in view.notices] == [
        "Camera fault: please see staff",
        "County link offline: entries are kept on this kiosk",
        "Please see staff (x.unknown)",
    ]


RESULT = Screen(phase=Phase.DECIDED, outcome=Outcome.PASS, code_seen=True, decided_t=100.0,
                 dwell_s=4.0, entry_seq=7, code_status="green")  # fmt: skip

# (screen changes, expected checks as (key, zh status, state))
CHECKS: list[tuple[dict[str, object], list[tuple[str, str, str]]]] = [
    ({}, [("code", "✓", "ok")]),  # no itinerary given (spec 1.0 pass): only the code
    ({"itinerary_status": "normal"}, [("code", "✓", "ok"), ("itinerary", "✓", "ok")]),
    ({"itinerary_status": "starred", "outcome": Outcome.REFER, "reasons": ("itinerary.starred",)},
     [("code", "✓", "ok"), ("itinerary", "带星号", "warn")]),
    ({"itinerary_status": "normal", "outcome": Outcome.REFER, "reasons": ("itinerary.stale",)},
     [("code", "✓", "ok"), ("itinerary", "✓（信息过旧）", "warn")]),
    ({"outcome": Outcome.REFER, "reasons": ("itinerary.missing",)},
     [("code", "✓", "ok"), ("itinerary", "未获取", "warn")]),
    ({"code_status": "red", "outcome": Outcome.DENY}, [("code", "红码", "bad")]),
    ({"code_status": "failed", "outcome": Outcome.REFER}, [("code", "未验证", "bad")]),
    ({"code_status": None, "outcome": Outcome.REFER}, []),  # no code at all
]  # fmt: skip


@pytest.mark.parametrize(("changes", "expected"), CHECKS)
def test_result_checks_health_code_and_itinerary(
    changes: dict[str, object], expected: list[tuple[str, str, str]]
) -> None:
    view = screen_view(replace(RESULT, **changes), now=101.0)  # type: ignore[arg-type]
    assert [(c.key, c.status.zh, c.state) for c in view.checks] == expected


# (screen, clips, key prefix): what the screen says aloud
VOICE: list[tuple[Screen, tuple[str, ...], str]] = [
    (RESULT, ("pass", "mask"), "decided:"),
    (replace(RESULT, outcome=Outcome.DENY), ("deny",), "decided:"),
    (replace(RESULT, outcome=Outcome.REFER), ("refer",), "decided:"),
    (replace(RESULT, decided_t=90.0), (), ""),  # past its dwell: says nothing
    (Screen(phase=Phase.MEASURING, code_seen=True, frame_t=5.0), ("measure",), "measuring:"),
    (Screen(phase=Phase.VERIFYING, code_seen=True, frame_t=5.0), (), ""),
    (Screen(temperature_state="ok", temperature_c=36.5, temperature_t=3.0), ("show_code",),
     "show:"),
    (Screen(temperature_state="measuring"), (), ""),
    (Screen(), (), ""),
]  # fmt: skip


@pytest.mark.parametrize(("screen", "clips", "key"), VOICE)
def test_voice_cues(screen: Screen, clips: tuple[str, ...], key: str) -> None:
    from kiosk.web.voice import CLIP_NAMES

    view = screen_view(screen, now=101.0)
    assert view.voice == clips and set(clips) <= set(CLIP_NAMES)
    assert view.voice_key.startswith(key) and bool(view.voice_key) == bool(key)
    # another event of the same kind gets another key, so it is spoken again
    if clips and screen.phase is Phase.DECIDED:
        assert screen_view(replace(screen, entry_seq=8), 101.0).voice_key != view.voice_key
