"""The county desk over a real store (SQLite file and the real PostgreSQL): roles, alerts and
their acknowledgement, fleet alerts, venue ledgers and exports, and tracing with the key
scheme — the subject hashes come from the kiosk's own verifier, fed real county passes."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient

from county.config import Config
from county.desk import fleet as fleet_mod
from county.desk.alerts import recent_alerts
from county.desk.db import DeskDb
from county.desk.users import add_user
from county.store import Batch, open_store
from county.trace import CountyKeys, TraceError, subject_of
from county.web.app import create_app
from kiosk.codes.county import issue
from kiosk.codes.verifier import Verifier
from kiosk.config.codes import VerifySection
from kiosk.model import CodeStatus, Entry, Outcome, PassClaims
from kiosk.uplink.wire import TopicRef, parse_message
from tests.codes_support import make_issuer
from tests.county_support import county_config, pg_database, sqlite_url

COUNTY = "330106"
PASSWORD = "correct horse battery"
PEOPLE = {  # resident ID number -> masked name on their pass
    "11010519491231002X": "张*中",
    "440106198001011234": "李*",
    "330106199912125678": "欧**明",
}
T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


@dataclass
class Desk:
    config: Config
    db: DeskDb
    keys: CountyKeys
    app: Flask
    store: Any


@pytest.fixture(params=["sqlite", "postgres"])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Desk]:
    keys = CountyKeys(secrets.token_bytes(32), secrets.token_bytes(32))
    (tmp_path / "master.key").write_text(keys.master.hex() if keys.master else "")
    (tmp_path / "ident.key").write_text(keys.identity.hex() if keys.identity else "")
    sections = {
        "desk": {"cookie_secure": False},
        "trace": {
            "master_key_file": str(tmp_path / "master.key"),
            "identity_key_file": str(tmp_path / "ident.key"),
        },
        "fleet": {"silent_after_s": 60},
    }

    def build(url: str) -> Iterator[Desk]:
        config = county_config(tmp_path, 1883, url, **sections)
        store = open_store(config)
        store.open()
        db = DeskDb(config)
        for name, role in (("vera", "viewer"), ("hank", "handler"), ("tina", "tracer")):
            add_user(db, name, role, PASSWORD, T0)
        loaded = CountyKeys.load(config)
        assert loaded == keys
        app = create_app(config, db, loaded)
        app.config["TESTING"] = True
        yield Desk(config, db, loaded, app, store)
        db.close()
        store.close()

    if request.param == "sqlite":
        yield from build(sqlite_url(tmp_path / "county.sqlite"))
    else:
        with pg_database() as url:
            yield from build(url)


def login(desk: Desk, user: str) -> FlaskClient:
    client = desk.app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = csrf(page)
    reply = client.post("/login", data={"user": user, "password": PASSWORD, "csrf_token": token})
    assert reply.status_code == 303, reply.get_data(as_text=True)
    return client


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def write(desk: Desk, entries: list[Entry], alerts: bool = True, now: datetime = T0) -> None:
    batch = Batch()
    for e in entries:
        rec = parse_message(TopicRef(e.kiosk, "entries"), e.entry_message())
        batch.entries.append(rec)  # type: ignore[arg-type]
        if alerts and e.alert_reasons:
            alert = parse_message(TopicRef(e.kiosk, "alerts"), e.alert_message())
            batch.alerts.append(alert)  # type: ignore[arg-type]
    desk.store.write(batch, now)


def visit(
    desk: Desk, tmp: Path, issuer: Any, kiosk: str, site: str, who: str, at: datetime
) -> Entry:
    """A visitor showing a real county pass to ``kiosk``'s real verifier."""
    key_file = tmp / f"{kiosk}.key"
    key_file.write_bytes(desk.keys.kiosk_key(kiosk))
    verifier = Verifier(
        VerifySection(county_trust=(issuer.cert,), subject_key_file=key_file), kiosk_id=kiosk
    )
    verifier.load()
    claims = PassClaims(
        issuer=COUNTY,
        subject_key=desk.keys.subject_for_id(who),
        masked_name=PEOPLE[who],
        status=CodeStatus.GREEN,
        status_updated_at=at - timedelta(hours=1),
        issued_at=at - timedelta(days=1),
        expires_at=at + timedelta(days=30),
    )
    v = verifier.verify(issue(claims, issuer.key), at)
    assert v.valid and v.subject_hash, v
    return Entry.new(
        kiosk, site, Outcome.PASS, ("code.green",), ts=at,
        masked_name=v.masked_name, subject_hash=v.subject_hash, temperature_c=36.5,
    )  # fmt: skip


def test_roles_decide_what_each_user_may_do(desk: Desk) -> None:
    anonymous = desk.app.test_client()
    assert anonymous.get("/").status_code == 303
    viewer = login(desk, "vera")
    assert viewer.get("/").status_code == 200
    assert viewer.get("/trace").status_code == 403
    token = csrf(viewer.get("/").get_data(as_text=True))
    assert (
        viewer.post("/trace/person", data={"query": "x" * 20, "csrf_token": token}).status_code
        == 403
    )
    assert viewer.post("/alerts/ack", data={"key": "x", "csrf_token": token}).status_code == 403
    assert viewer.get("/audit").status_code == 403
    handler = login(desk, "hank")
    assert handler.get("/audit").status_code == 200
    assert handler.get("/trace").status_code == 403
    tracer = login(desk, "tina")
    assert tracer.get("/trace").status_code == 200
    assert tracer.get("/audit").status_code == 403


def test_alerts_unhandled_on_top_and_acknowledged_with_who_and_note(desk: Desk) -> None:
    red = Entry.new("k-a", "market-1", Outcome.DENY, ("code.red",), ts=T0, masked_name="王*")
    at = T0 + timedelta(minutes=1)
    fever = Entry.new(
        "k-b",
        "garden-2",
        Outcome.DENY,
        ("temp.fever",),
        ts=at,
        masked_name="赵*",
        temperature_c=38.4,
    )
    ok = Entry.new("k-a", "market-1", Outcome.PASS, ("code.green",), ts=T0 + timedelta(minutes=2))
    write(desk, [red.with_seq(1), fever.with_seq(1), ok.with_seq(2)])
    handler = login(desk, "hank")
    page = handler.get("/").get_data(as_text=True)
    assert page.index(fever.id) < page.index(red.id)  # newest first
    assert ok.id not in page  # a pass is not an alert
    token = csrf(page)
    reply = handler.post(
        "/alerts/ack", data={"key": fever.id, "note": "已送发热门诊", "csrf_token": token}
    )
    assert reply.status_code == 303
    alerts = recent_alerts(desk.db)
    assert [a.key for a in alerts] == [red.id, fever.id]  # the unhandled one is on top again
    handled = alerts[1]
    assert (handled.handled_by, handled.note) == ("hank", "已送发热门诊")
    assert handled.handled_at is not None
    assert handled.temperature_c == 38.4 and handled.masked_name == "赵*"
    # acknowledging twice keeps the first record; an unknown key is 404; no token is 400
    handler.post("/alerts/ack", data={"key": fever.id, "note": "again", "csrf_token": token})
    assert recent_alerts(desk.db)[1].note == "已送发热门诊"
    assert handler.post("/alerts/ack", data={"key": "nope", "csrf_token": token}).status_code == 404
    assert handler.post("/alerts/ack", data={"key": red.id}).status_code == 400


def test_a_silent_kiosk_raises_a_fleet_alert_and_clears_it(desk: Desk) -> None:
    write(desk, [Entry.new("k-a", "market-1", Outcome.PASS, ts=T0).with_seq(1)])
    f = desk.config.fleet
    later = T0 + timedelta(seconds=f.silent_after_s + 1)
    views = fleet_mod.fleet(desk.db, later, f.silent_after_s, f.clock_skew_warn_s)
    assert [(v.kiosk, v.silent, v.confirmed_seq, v.clock_ok) for v in views] == [
        ("k-a", True, 1, True)
    ]
    assert fleet_mod.watch(desk.db, views, later) == (1, 0)
    assert fleet_mod.watch(desk.db, views, later) == (0, 0)  # raised once
    fleet_alert = recent_alerts(desk.db)[0]
    assert (fleet_alert.kind, fleet_alert.kiosk, fleet_alert.reasons) == (
        "fleet",
        "k-a",
        ("fleet.silent",),
    )
    write(desk, [Entry.new("k-a", "market-1", Outcome.PASS, ts=later).with_seq(3)], now=later)
    views = fleet_mod.fleet(desk.db, later, f.silent_after_s, f.clock_skew_warn_s)
    assert views[0].missing == ((2, 2),) and not views[0].silent
    assert fleet_mod.watch(desk.db, views, later) == (0, 1)
    page = login(desk, "vera").get("/fleet").get_data(as_text=True)
    assert 'data-kiosk="k-a"' in page and "2\u20132" in page


def test_the_fleet_reads_every_kiosks_newest_entry_in_a_fixed_number_of_queries(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fleet page (and the notifier, every few seconds) used to read each kiosk's newest
    entry with a query of its own: 7,000 kiosks, 7,000 round trips. Now the number of queries
    does not grow with the fleet, and each kiosk still shows its newest entry by seq."""
    f = desk.config.fleet
    received = T0 + timedelta(minutes=30)

    def add(kiosks: range) -> None:
        for k in kiosks:
            seqs = (1, 4) if k % 2 else (1, 2, 3)  # odd kiosks have a gap: 2-3 missing
            write(
                desk,
                [
                    Entry.new(f"k-{k:02}", f"site-{k}", Outcome.PASS, ts=T0 + timedelta(
                        minutes=seq + k)).with_seq(seq)
                    for seq in seqs
                ],
                now=received,
            )  # fmt: skip

    queries: list[str] = []
    run = desk.db._run

    def counted(sql: str, params: Any) -> Any:
        queries.append(sql)
        return run(sql, params)

    monkeypatch.setattr(desk.db, "_run", counted)
    add(range(2))
    small = fleet_mod.fleet(desk.db, received, f.silent_after_s, f.clock_skew_warn_s)
    few, queries[:] = len(queries), []
    add(range(2, 14))
    views = fleet_mod.fleet(desk.db, received, f.silent_after_s, f.clock_skew_warn_s)
    assert len(small) == 2 and len(views) == 14
    assert len(queries) == few <= 3, queries
    for view in views:
        k = int(view.kiosk[2:])
        top = 4 if k % 2 else 3
        newest = T0 + timedelta(minutes=top + k)
        assert (view.site, view.last_seq, view.last_entry) == (f"site-{k}", top, newest)
        assert view.clock_skew_s == (received - newest).total_seconds() and view.clock_ok
        assert view.missing == (((2, 3),) if k % 2 else ())


def test_venue_ledger_counts_chart_and_exports_defuse_formulas(desk: Desk) -> None:
    rows = [
        Entry.new(
            "k-a", "market-1", Outcome.PASS, ("code.green",), ts=T0, masked_name="=HYPERLINK(1)"
        ),
        Entry.new("k-a", "market-1", Outcome.DENY, ("code.red",), ts=T0 + timedelta(hours=1)),
        Entry.new("k-b", "garden-2", Outcome.REFER, ("temp.not_ready",), ts=T0),
    ]
    write(desk, [rows[0].with_seq(1), rows[1].with_seq(2), rows[2].with_seq(1)])
    client = login(desk, "vera")
    page = client.get("/ledger?day=2026-11-30&site=market-1").get_data(as_text=True)
    assert re.search(
        r'data-site="market-1"><td>.*?</td><td>1</td><td>1</td><td>0</td><td>2</td>', page
    )
    assert "<svg" in page and rows[0].id in page and rows[2].id not in page
    text = client.get("/ledger/export.csv?day=2026-11-30&site=market-1").get_data(as_text=True)
    parsed = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [r["id"] for r in parsed] == [rows[0].id, rows[1].id]
    assert parsed[0]["masked_name"] == "'=HYPERLINK(1)"
    assert parsed[1]["reasons"] == "code.red" and parsed[1]["decision"] == "deny"
    data = client.get("/ledger/export.xlsx?day=2026-11-30&site=market-1").get_data()
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][1] == rows[0].id and values[1][9] == "=HYPERLINK(1)"
    assert sheet.cell(2, 10).data_type == "s"  # a string, never a formula


def test_tracing_finds_one_person_across_kiosks_and_the_co_visitors(
    desk: Desk, tmp_path: Path
) -> None:
    issuer = make_issuer(tmp_path / "issuer", COUNTY)
    zhang, li, ou = PEOPLE
    plan = [  # (kiosk, site, person, minutes after T0)
        ("k-a", "market-1", zhang, 0), ("k-a", "market-1", li, 5), ("k-a", "market-1", ou, 90),
        ("k-b", "garden-2", zhang, 30), ("k-b", "garden-2", ou, 31),
        ("k-a", "market-1", zhang, 200),
    ]  # fmt: skip
    entries = [
        visit(desk, tmp_path, issuer, k, s, p, T0 + timedelta(minutes=m)) for k, s, p, m in plan
    ]
    seqs: dict[str, int] = {}
    numbered = []
    for e in entries:
        seqs[e.kiosk] = seqs.get(e.kiosk, 0) + 1
        numbered.append(e.with_seq(seqs[e.kiosk]))
    write(desk, numbered)
    hashes = {e.subject_hash for e in entries}
    assert len(hashes) == len(entries) - 1  # one hash per person *and kiosk*: zhang twice at k-a

    tracer = login(desk, "tina")
    token = csrf(tracer.get("/trace").get_data(as_text=True))
    page = tracer.post("/trace/person", data={"query": zhang, "csrf_token": token}).get_data(
        as_text=True
    )
    found = re.findall(r'<tr class="visit"><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>', page)
    assert [(k, s) for _, s, k in found] == [
        ("k-a", "market-1"),
        ("k-b", "garden-2"),
        ("k-a", "market-1"),
    ]
    assert zhang not in page and "张*中" in page

    window = {
        "site": "market-1",
        "start": "2026-11-30T09:55",
        "end": "2026-11-30T11:00",
        "csrf_token": token,
    }
    page = tracer.post("/trace/venue", data=window).get_data(as_text=True)
    assert re.findall(r'<tr class="visit">.*?<td>([^<]*)</td><td>[a-z]+</td>', page) == [
        "张*中",
        "李*",
    ]

    handler = login(desk, "hank")
    audit = handler.get("/audit").get_data(as_text=True)
    row = r'<tr class="audit" data-kind="(\w+)">.*?<td>(\w+)</td><td>\w+</td>'
    lines = re.findall(row + r"<td>([^<]*)</td><td>(\d+)</td>", audit)
    assert [(kind, who, rows) for kind, who, _, rows in lines] == [
        ("venue", "tina", "2"), ("person", "tina", "3"),
    ]  # fmt: skip
    dump = json.dumps([desk.db.rows("SELECT * FROM audit_log")], default=str)
    for person in PEOPLE:
        assert person not in audit and person not in dump
        assert desk.keys.subject_for_id(person) not in dump  # not even the pass subject
    # the audit log cannot be rewritten
    with pytest.raises(Exception, match="append-only"):
        desk.db.execute("DELETE FROM audit_log")


def test_trace_inputs_and_keys() -> None:
    keys = CountyKeys(b"m" * 32, b"i" * 32)
    assert subject_of("11010519491231002x", keys) == subject_of("11010519491231002X", keys)
    assert subject_of("c2a41f0e9b7d43a8b5e6", keys) == "c2a41f0e9b7d43a8b5e6"
    with pytest.raises(TraceError):
        subject_of("张三", keys)
    assert keys.kiosk_key("k-a") != keys.kiosk_key("k-b") and len(keys.kiosk_key("k-a")) == 64
    with pytest.raises(TraceError):
        replace(keys, master=None).kiosk_key("k-a")
