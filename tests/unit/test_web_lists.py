"""The county's lists on the staff page, in /api/status and as the screen's device notice:
issue time, size, staleness and the last refused list, from the updates worker's health."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kiosk.reasons import describe
from kiosk.service.app import device_notices
from kiosk.service.status import StatusBoard, WorkerHealth
from kiosk.uplink.updates import UpdatesHealth
from kiosk.web import create_app
from kiosk.web.lists import county_list_rows
from tests.web_support import PASSWORD, csrf_from, health, web_config

REFUSAL = {
    "list": "revocations",
    "reason": "list.older",
    "text": "比现用名单旧（重放） / older than the list in force (replay)",
    "detail": "issued 1, list in force 2",
    "at": "2026-12-01T06:00:00.000Z",
}


def board_with(updates: UpdatesHealth) -> StatusBoard:
    snapshot = health()
    worker = WorkerHealth("updates", True, 0.2, 0, updates.to_dict())
    board = StatusBoard()
    board.set_health(dataclasses.replace(snapshot, workers=(*snapshot.workers, worker)))
    return board


def test_rows_say_issue_time_size_staleness_and_refusals() -> None:
    fresh = UpdatesHealth("330106", revocations_issued_at="2026-12-01T05:00:00.000Z",
                          revocation_entries=3, revocations_stale=False)  # fmt: skip
    rows = county_list_rows(board_with(fresh).health())
    assert [(r.name.en, r.ok) for r in rows] == [("Revocation list", True), ("Trust list", None)]
    assert rows[0].detail.en == "issued 2026-12-01 05:00:00 UTC · 3 entries"
    stale = dataclasses.replace(
        fresh, revocations_stale=True, refused=2, last_refusal=REFUSAL,
        trust_issued_at="2026-11-30T01:00:00.000Z", trust_certs=2,
    )  # fmt: skip
    rows = county_list_rows(board_with(stale).health())
    assert [(r.name.en, r.ok) for r in rows] == [
        ("Revocation list", False), ("Trust list", True), ("Lists refused", False)
    ]  # fmt: skip
    assert "out of date" in rows[0].detail.en and "已过期" in rows[0].detail.zh
    assert "older than the list in force (replay) (2 in all)" in rows[2].detail.en
    missing = county_list_rows(board_with(UpdatesHealth("330106")).health())
    assert missing[0].detail.en == "not received yet" and missing[0].ok is False
    assert county_list_rows(health()) == []  # no county followed: no rows


def test_staff_page_and_api_status_show_the_list(tmp_path: Path) -> None:
    updates = UpdatesHealth("330106", revocations_issued_at="2026-12-01T05:00:00.000Z",
                            revocation_entries=3, revocations_stale=False, refused=1,
                            last_refusal=REFUSAL)  # fmt: skip
    config = web_config(tmp_path / "state")
    client = create_app(board_with(updates), config.ledger_path, config).test_client()
    status = client.get("/api/status").get_json()
    detail = status["health"]["workers"]["updates"]["detail"]
    assert detail["revocations_issued_at"] == "2026-12-01T05:00:00.000Z"
    assert detail["last_refusal"]["reason"] == "list.older"
    page = client.get("/staff/login")
    client.post("/staff/login", data={"password": PASSWORD, "csrf_token": csrf_from(page.text)})
    html = client.get("/staff?lang=en").text
    assert "撤销名单" in html and "2026-12-01 05:00:00 UTC" in html and "3 entries" in html
    assert "older than the list in force (replay)" in html


def test_a_stale_list_raises_the_device_notice() -> None:
    def workers(**detail: object) -> tuple[WorkerHealth, ...]:
        return (*health().workers, WorkerHealth("updates", True, 0.1, 0, dict(detail)))

    assert device_notices(workers(revocations_stale=True), 48) == ("updates.stale",)
    assert device_notices(workers(revocations_stale=False), 48) == ()
    assert device_notices(workers(revocations_stale=True), 0) == ()  # 0 = freshness off
    assert device_notices(health().workers, 48) == ()  # no county followed
    assert describe("updates.stale").zh.startswith("撤销名单")
