"""The desk's revoke button: a handler revokes a person by ID number, the list is signed and
published, and a connected kiosk denies that person's pass; viewers may not, bad input is
refused without echoing it, and no ID number or subject lands in the database."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from county.desk.db import DeskDb
from county.desk.users import add_user
from county.store import open_store
from county.trace import CountyKeys
from county.web.app import create_app
from kiosk.model import Outcome
from kiosk.uplink.localbroker import LocalBroker
from tests.codes_support import make_issuer
from tests.county_support import county_config, sqlite_url
from tests.helpers import make_config
from tests.updates_support import door, pass_for, seconds_until

pytestmark = pytest.mark.integration

CID = "330106"
ID_NUMBER = "11010519491231002X"
PASSWORD = "correct horse battery"


def login(client: FlaskClient, user: str) -> str:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    reply = client.post("/login", data={"user": user, "password": PASSWORD,
                                        "csrf_token": token.group(1)})  # fmt: skip
    assert reply.status_code == 303
    home = client.get("/").get_data(as_text=True)  # every page's log-out form has the token
    found = re.search(r'name="csrf_token" value="([^"]+)"', home)
    assert found
    return found.group(1)


def test_a_handler_revokes_by_id_number_and_the_kiosk_denies(
    tmp_path: Path, broker: LocalBroker
) -> None:
    key = make_issuer(tmp_path / "k", CID)
    keys = CountyKeys(secrets.token_bytes(32), secrets.token_bytes(32))
    (tmp_path / "ident.key").write_text(keys.identity.hex() if keys.identity else "")
    db_url = sqlite_url(tmp_path / "county.sqlite")
    config = county_config(
        tmp_path, broker.port, db_url, desk={"cookie_secure": False},
        trace={"identity_key_file": str(tmp_path / "ident.key")},
        lists={"issuer_key_file": str(key.bundle)},
    )  # fmt: skip
    db = DeskDb(config)
    app = create_app(config, db, CountyKeys.load(config))
    app.config["TESTING"] = True
    kiosk_config = make_config(
        tmp_path / "kiosk", broker.port,
        verify={"county_trust": [str(key.cert)], "updates": {"county_id": CID}},
    )  # fmt: skip
    subject = keys.subject_for_id(ID_NUMBER)
    with door(kiosk_config) as kiosk:
        visitor = pass_for(key.key, subject)
        assert kiosk.outcome(visitor)[0] == Outcome.REFER  # no list yet: stale
        store = open_store(config)
        store.open()
        store.close()
        for name, role in (("vera", "viewer"), ("hank", "handler")):
            add_user(db, name, role, PASSWORD, datetime.now(UTC))
        viewer = app.test_client()
        token = login(viewer, "vera")
        refused = viewer.post("/revocations", data={"who": ID_NUMBER, "reason": "x",
                                                    "csrf_token": token})  # fmt: skip
        assert refused.status_code == 403
        handler = app.test_client()
        token = login(handler, "hank")
        both = {"who": "110105194912310021", "pass_id": "ab" * 8, "reason": "both"}
        bad = handler.post("/revocations", data={**both, "csrf_token": token})
        assert bad.status_code == 400 and "110105194912310021" not in bad.get_data(as_text=True)
        done = handler.post("/revocations", data={"who": ID_NUMBER, "reason": "status red",
                                                  "csrf_token": token})  # fmt: skip
        page = done.get_data(as_text=True)
        assert done.status_code == 200, page
        assert 'id="count">1<' in page and "status red" in page and "hank" in page
        assert ID_NUMBER not in page and subject not in page
        assert seconds_until(lambda: kiosk.outcome(visitor) == (Outcome.DENY, ("code.revoked",)))
    raw = (tmp_path / "county.sqlite").read_bytes()
    assert ID_NUMBER.encode() not in raw and subject.encode() not in raw
    audit = db.rows("SELECT who, kind, query FROM audit_log")
    assert audit and audit[-1][:2] == ("hank", "revoke") and ID_NUMBER not in audit[-1][2]
    db.close()
