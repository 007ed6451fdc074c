"""人工登记 through Flask's test client over a real ledger file: login and CSRF required, the
staff member's decision recorded, the name masked and the ID number nowhere but its hash."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from kiosk.codes.privacy import SubjectHasher
from kiosk.config import Config
from kiosk.ledger import Ledger
from kiosk.manual import RegistrationDesk, RegistrationRefused, manual_entry
from kiosk.model import Outcome, Temperature, TempState
from kiosk.web import create_app
from tests.unit.test_web_routes import login
from tests.web_support import board_with_health, csrf_from, web_config

ID_NUMBER = "11010519491231002X"
HASHER = SubjectHasher(b"kiosk-secret-key-0123456789abcdef")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return web_config(tmp_path / "state")


@pytest.fixture
def desk(config: Config) -> Iterator[RegistrationDesk]:
    """A desk with a stand-in coordinator that commits like the checkpoint (kiosk at 36.5)."""
    desk = RegistrationDesk(HASHER)
    stop = threading.Event()

    def coordinator() -> None:
        with Ledger(config.ledger_path) as ledger:
            while not stop.wait(0.01):
                taken = desk.take()
                if taken is None:
                    continue
                reg, answer = taken
                try:
                    entry = manual_entry(
                        reg, Temperature(TempState.OK, 36.5), kiosk="k-001", site="fanzhuang",
                        fever_threshold_c=37.3, policy_version="2+test",
                    )  # fmt: skip
                    answer.set_result(ledger.commit(entry))
                except RegistrationRefused as refused:
                    answer.set_exception(refused)

    worker = threading.Thread(target=coordinator)
    worker.start()
    yield desk
    stop.set()
    worker.join(5)


@pytest.fixture
def client(config: Config, desk: RegistrationDesk) -> FlaskClient:
    return create_app(board_with_health(), config.ledger_path, config, desk=desk).test_client()


def form(client: FlaskClient, **changes: str) -> dict[str, Any]:
    token = csrf_from(client.get("/staff").text)
    return {
        "csrf_token": token, "name": "欧阳小明", "identifier": ID_NUMBER,
        "why": "manual.no_phone", "temperature_source": "kiosk", "clinical_c": "",
        "decision": "pass", "staff_name": "李工作", **changes,
    }  # fmt: skip


def test_a_registration_is_recorded_and_shown(
    client: FlaskClient, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert login(client)[0] == 303
    response = client.post("/staff/register", data=form(client))
    assert response.status_code == 303
    assert response.location.endswith("/staff?lang=zh&registered=1#register")
    with Ledger(config.ledger_path) as ledger:
        [(entry, _)] = list(ledger.entries())
    assert (entry.decision, entry.reasons) == (Outcome.PASS, ("staff.manual", "manual.no_phone"))
    assert (entry.masked_name, entry.staff_name, entry.code_kind) == ("欧**明", "李工作", "manual")
    assert entry.subject_hash == HASHER("id:cn", ID_NUMBER)
    assert (entry.temperature_c, entry.temperature_source) == (36.5, "kiosk")
    page = client.get("/staff?registered=1").text
    assert "已登记，记录 #1" in page and "· 李工作</div>" in page and "欧**明" in page
    assert 'value="李工作"' in page  # the staff name is remembered for the next one
    # the typed ID number and the full name are nowhere: ledger file, page, logs
    raw = b"".join(p.read_bytes() for p in config.ledger_path.parent.glob("ledger.sqlite*"))
    for secret in (ID_NUMBER, "欧阳小明", "小明"):
        assert secret.encode() not in raw and secret not in page and secret not in caplog.text


def test_clinical_reading_and_deny(client: FlaskClient, config: Config) -> None:
    login(client)
    data = form(client, temperature_source="clinical", clinical_c="37.6", decision="deny",
                identifier="138 1234 5678", why="manual.phone_flat")  # fmt: skip
    assert client.post("/staff/register", data=data).status_code == 303
    with Ledger(config.ledger_path) as ledger:
        [(entry, _)] = list(ledger.entries())
    assert entry.decision == Outcome.DENY and "temp.fever" in entry.reasons
    assert (entry.temperature_c, entry.temperature_source) == (37.6, "clinical")
    assert entry.subject_hash == HASHER("phone:cn", "13812345678")
    assert "体温计" in client.get("/staff").text


@pytest.mark.parametrize(
    ("changes", "code", "text"),
    [
        ({"identifier": "12345"}, "identifier", "请填写11位手机号或18位身份证号"),
        ({"temperature_source": "clinical", "clinical_c": ""}, "temperature", "体温计读数应在"),
        ({"temperature_source": "clinical", "clinical_c": "38.0"}, "fever_pass", "不能登记为通行"),
        ({"decision": "refer"}, "decision", "请选择通行或禁止"),
    ],
)
def test_refusals_say_why_and_record_nothing(
    client: FlaskClient, config: Config, changes: dict[str, str], code: str, text: str
) -> None:
    login(client)
    response = client.post("/staff/register", data=form(client, **changes))
    assert response.status_code == 303 and response.location.endswith(f"register={code}#register")
    assert text in client.get(f"/staff?register={code}").text
    with Ledger(config.ledger_path) as ledger:
        assert list(ledger.entries()) == []


def test_login_and_csrf_are_required(client: FlaskClient, config: Config) -> None:
    token = csrf_from(client.get("/staff/login").text)  # a session, but not a staff one
    response = client.post("/staff/register", data={"csrf_token": token, "name": "欧阳小明",
                           "identifier": ID_NUMBER, "decision": "pass"})  # fmt: skip
    assert response.status_code == 303 and "/staff/login" in response.location
    login(client)
    data = form(client)
    assert client.post("/staff/register", data={**data, "csrf_token": "forged"}).status_code == 400
    with Ledger(config.ledger_path) as ledger:
        assert list(ledger.entries()) == []


def test_without_a_running_checkpoint_registration_is_unavailable(config: Config) -> None:
    client = create_app(board_with_health(), config.ledger_path, config).test_client()
    login(client)
    response = client.post("/staff/register", data=form(client))
    assert response.location.endswith("register=unavailable#register")
    assert "本机检查点未运行" in client.get("/staff?register=unavailable").text
