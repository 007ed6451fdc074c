"""The desk's webhooks against real local HTTP receivers (json, 企业微信 and 钉钉 presets):
a receiver that is down for 30 s, one that refuses (``errcode``), one that answers garbage,
and one slower than ``notify.timeout_s`` while the real ingest takes a kiosk's entries."""

from __future__ import annotations

import html
import http.client
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from county.desk.db import DeskDb
from county.desk.users import add_user
from county.notify.receiver import WebhookReceiver
from county.notify.worker import PAGE
from kiosk.model import Entry, Outcome
from kiosk.uplink.localbroker import LocalBroker, free_port
from scripts.bench_desk import run_phases
from tests.county_support import (
    DESK_PASSWORD,
    desk_login,
    pg_database,
    running_desk,
    sqlite_url,
    write_entries,
)
from tests.helpers import Pki, wait_until

pytestmark = pytest.mark.integration

PRESETS = ("json", "wecom", "dingtalk")
#: Short retry settings, so a receiver that comes back is served within a second or two.
FAST_RETRY = {"timeout_s": 1.0, "retry_min_s": 0.2, "retry_max_s": 1.0, "poll_s": 0.1}


def alert(n: int, at: datetime) -> Entry:
    """The ``n``-th alert of a run: a red code (deny) at kiosk k-001."""
    return Entry.new(
        "k-001", "fanzhuang", Outcome.DENY, ("code.red",), ts=at, masked_name=f"王*{n}",
        temperature_c=36.6,
    ).with_seq(n)  # fmt: skip


def alert_key(preset: str, doc: dict[str, object]) -> str:
    """Which alert a received message is about: the json preset carries the alert itself, the
    robot presets only text (whose masked name ends in the alert's number)."""
    if preset == "json":
        inner = doc["alert"]
        assert isinstance(inner, dict)
        return str(inner["key"])
    assert doc["msgtype"] == "text" and set(doc) == {"msgtype", "text"}, doc
    text = doc["text"]
    assert isinstance(text, dict)
    found = re.search(r"王\*(\d+)", str(text["content"]))
    assert found, text
    return found.group(1)


def delivery_rows(port: int) -> list[tuple[str, list[str]]]:
    """The ``#deliveries`` table of the desk's alerts page, as a logged-in viewer sees it:
    (state class, cells) per row."""
    cookie = desk_login(port, "vera", DESK_PASSWORD)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Cookie": cookie})
        reply = conn.getresponse()
        page = reply.read().decode()
    finally:
        conn.close()
    assert reply.status == 200, page[:200]
    assert "key=k-" not in page  # a robot's key (in its URL) is never shown
    table = re.search(r'<table id="deliveries">(.*?)</table>', page, re.DOTALL)
    assert table, "no #deliveries table on the alerts page"
    rows = re.findall(r'<tr class="delivery (\w+)">(.*?)</tr>', table.group(1), re.DOTALL)
    return [(state, [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", cells, re.DOTALL)])
            for state, cells in rows]  # fmt: skip


def first_row(port: int) -> tuple[str, list[str]]:
    """The newest delivery the desk shows (an empty one while there is none yet)."""
    rows = delivery_rows(port)
    return rows[0] if rows else ("", ["", "", "", "", "0", "", ""])


@pytest.fixture
def hook_ports() -> dict[str, int]:
    return {preset: free_port() for preset in PRESETS}


def _hooks(ports: dict[str, int]) -> list[str]:
    return [f"{p} http://127.0.0.1:{port}/robot/send?key=k-{p}" for p, port in ports.items()]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_receiver_down_for_30_s_gets_every_alert_once_back_in_order_exactly_once(
    tmp_path: Path, hook_ports: dict[str, int]
) -> None:
    notify = {**FAST_RETRY, "webhooks": _hooks(hook_ports)}
    written: list[Entry] = []
    with running_desk(tmp_path, sqlite_url(tmp_path / "county.sqlite"), notify=notify) as desk:
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < 27:  # an alert every 3 s while nothing listens
            n += 1
            written.append(alert(n, datetime.now(UTC)))
            write_entries(desk.store, [written[-1]])
            time.sleep(3.0)
        assert wait_until(lambda: len(desk.db.rows("SELECT id FROM deliveries")) == 3 * n, 5)
        down = delivery_rows(desk.port)  # the desk shows them waiting, with the reason
        assert {state for state, _ in down} == {"pending"}, down
        assert any("Connection refused" in cells[-1] for _, cells in down), down
        assert desk.notifier.failed_attempts >= 3 * 10  # retried all along, with back-off
        time.sleep(max(0.0, started + 30 - time.monotonic()))
        receivers = {p: WebhookReceiver(port=port).start() for p, port in hook_ports.items()}
        try:
            # short retry settings: each is served within seconds of coming back
            assert wait_until(lambda: all(len(r.received) >= n for r in receivers.values()), 15)
            time.sleep(1.5)  # time enough for a duplicate to show up
            got = {p: [alert_key(p, m.doc) for m in r.messages()] for p, r in receivers.items()}
        finally:
            for r in receivers.values():
                r.stop()
        assert got["json"] == [e.id for e in written]  # every alert, in order, once
        assert got["wecom"] == got["dingtalk"] == [str(i) for i in range(1, n + 1)]
        assert all(m.path == f"/robot/send?key=k-{p}" for p, r in receivers.items()
                   for m in r.received)  # fmt: skip
        rows = delivery_rows(desk.port)
        assert len(rows) == 3 * n and {state for state, _ in rows} == {"sent"}, rows
        attempts = [int(cells[4]) for _, cells in rows]
        assert max(attempts) > 5 and all(cells[6] == "" for _, cells in rows)
        assert desk.notifier.alive
    assert n >= 9


def test_a_robot_that_refuses_with_an_errcode_is_retried_until_it_accepts(
    tmp_path: Path, hook_ports: dict[str, int]
) -> None:
    notify = {**FAST_RETRY, "webhooks": _hooks({"wecom": hook_ports["wecom"]})}
    with (
        WebhookReceiver(port=hook_ports["wecom"], errcode=93000) as robot,
        running_desk(tmp_path, sqlite_url(tmp_path / "county.sqlite"), notify=notify) as desk,
    ):
        first, second = alert(1, datetime.now(UTC)), alert(2, datetime.now(UTC))
        write_entries(desk.store, [first, second])
        assert wait_until(lambda: len(robot.received) >= 3, 10)
        rows = delivery_rows(desk.port)
        assert [state for state, _ in rows] == ["pending", "pending"], rows
        refused = [cells for _, cells in rows if cells[6]]
        assert len(refused) == 1 and refused[0][6].startswith("errcode 93000"), rows
        assert {alert_key("wecom", m.doc) for m in robot.messages()} == {"1"}  # order kept
        robot.errcode = 0
        assert wait_until(lambda: {s for s, _ in delivery_rows(desk.port)} == {"sent"}, 10)
        keys = [alert_key("wecom", m.doc) for m in robot.messages()]
        assert keys[-2:] == ["1", "2"] and set(keys[:-2]) == {"1"}


def test_a_slow_receiver_holds_up_only_its_own_queue(
    tmp_path: Path, hook_ports: dict[str, int]
) -> None:
    notify = {**FAST_RETRY, "webhooks": _hooks({p: hook_ports[p] for p in ("json", "wecom")})}
    with (
        WebhookReceiver(port=hook_ports["json"]) as prompt,
        WebhookReceiver(port=hook_ports["wecom"], delay_s=3.0) as slow,
        running_desk(tmp_path, sqlite_url(tmp_path / "county.sqlite"), notify=notify) as desk,
    ):
        written = [alert(n, datetime.now(UTC)) for n in range(1, 6)]
        for e in written:
            write_entries(desk.store, [e])
        assert wait_until(lambda: len(prompt.received) == 5, 3), len(prompt.received)
        assert [alert_key("json", m.doc) for m in prompt.messages()] == [e.id for e in written]
        assert {alert_key("wecom", m.doc) for m in slow.messages()} == {"1"}  # still the first
        rows = delivery_rows(desk.port)
        states = {(cells[2].split(":")[0], state) for state, cells in rows}
        assert states == {("json", "sent"), ("wecom", "pending")}, rows
        assert desk.notifier.alive


def test_a_silent_kiosk_reaches_the_robots_as_a_fleet_alert(
    tmp_path: Path, hook_ports: dict[str, int]
) -> None:
    notify = {**FAST_RETRY, "webhooks": _hooks({"dingtalk": hook_ports["dingtalk"]})}
    fleet = {"silent_after_s": 10, "check_every_s": 0.2}
    with (
        WebhookReceiver(port=hook_ports["dingtalk"]) as robot,
        running_desk(
            tmp_path, sqlite_url(tmp_path / "county.sqlite"), notify=notify, fleet=fleet
        ) as desk,
    ):
        last_heard = datetime.now(UTC) - timedelta(seconds=30)
        quiet = Entry.new("k-009", "garden", Outcome.PASS, ("code.green",), ts=last_heard)
        write_entries(desk.store, [quiet.with_seq(1)], now=last_heard)
        assert wait_until(lambda: len(robot.received) >= 1, 10)
        [message] = robot.messages()
        content = message.doc["text"]["content"]
        assert message.doc["msgtype"] == "text" and "【设备失联】" in content, content
        assert "garden" in content and "k-009" in content
        [(state, cells)] = delivery_rows(desk.port)
        assert state == "sent" and cells[1].startswith("fleet:"), cells


def test_a_receiver_with_a_certificate_nobody_trusts_gets_nothing(
    tmp_path: Path, hook_ports: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """TLS is verified: a receiver whose certificate comes from an unknown CA is refused (and
    the desk says why) until the CA is trusted; then it gets the alert."""
    pki = Pki(tmp_path / "pki")
    tls = pki.issue("receiver", server=True)
    port = hook_ports["wecom"]
    notify = {**FAST_RETRY, "webhooks": [f"wecom https://127.0.0.1:{port}/robot/send?key=k"]}
    with (
        WebhookReceiver(port=port, tls=tls) as robot,
        running_desk(tmp_path, sqlite_url(tmp_path / "county.sqlite"), notify=notify) as desk,
    ):
        write_entries(desk.store, [alert(1, datetime.now(UTC))])
        assert wait_until(lambda: "CERTIFICATE_VERIFY_FAILED" in first_row(desk.port)[1][6], 5)
        assert robot.received == []
        monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))  # the county trusts its CA now
        assert wait_until(lambda: first_row(desk.port)[0] == "sent", 5)
        assert [alert_key("wecom", m.doc) for m in robot.messages()] == ["1"]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "county.sqlite")
    else:
        with pg_database() as url:
            yield url


def test_a_burst_larger_than_a_page_is_sent_whole_and_in_order(
    tmp_path: Path, hook_ports: dict[str, int], database: str
) -> None:
    """A kiosk back from a long outage sends its backlog: more alerts arrive in one ingest
    batch (one arrival time) than the notifier reads at once; none may be left behind."""
    notify = {**FAST_RETRY, "webhooks": _hooks({"json": hook_ports["json"]})}
    t0 = datetime.now(UTC) - timedelta(hours=2)
    burst = [alert(n, t0 + timedelta(seconds=n)) for n in range(1, PAGE + 201)]
    with (
        WebhookReceiver(port=hook_ports["json"]) as receiver,
        running_desk(tmp_path, database, notify=notify) as desk,
    ):
        write_entries(desk.store, burst)
        time.sleep(1.0)
        late = alert(len(burst) + 1, datetime.now(UTC))
        write_entries(desk.store, [late])
        assert wait_until(lambda: len(receiver.received) >= len(burst) + 1, 60), len(
            receiver.received
        )
        time.sleep(0.5)
        got = [alert_key("json", m.doc) for m in receiver.messages()]
    assert got == [e.id for e in [*burst, late]]


class RawServer:
    """Accepts connections and answers each request with ``answer(conn)``: bytes that are not
    HTTP, or a reply trickled a byte at a time."""

    def __init__(self, port: int, answer: Callable[[socket.socket], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", port))
        self.answer = answer
        self.requests = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            self.requests += 1
            try:
                self.answer(conn)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


def garbage(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")


def trickle_reply(conn: socket.socket) -> None:
    """A status line, then a header byte every 0.3 s: each read completes well within the
    socket timeout, so only a deadline for the whole attempt ends it."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ")
    for _ in range(200):
        time.sleep(0.3)
        conn.sendall(b"a")


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (garbage, "BadStatusLine"),
        (trickle_reply, "TimeoutError: timed out: no complete reply within 1 s"),
    ],
)
def test_a_receiver_answering_garbage_or_trickling_is_a_failed_attempt_with_back_off(
    tmp_path: Path, hook_ports: dict[str, int], answer: Callable[[socket.socket], None], error: str
) -> None:
    notify = {**FAST_RETRY, "retry_min_s": 1.0, "retry_max_s": 8.0,
              "webhooks": _hooks({"json": hook_ports["json"]})}  # fmt: skip
    server = RawServer(hook_ports["json"], answer)
    try:
        with running_desk(tmp_path, sqlite_url(tmp_path / "county.sqlite"), notify=notify) as desk:
            write_entries(desk.store, [alert(1, datetime.now(UTC))])
            assert wait_until(lambda: server.requests >= 1, 10)
            # each attempt ends within timeout_s; back-off 1 s then 2 s: not one every poll
            assert wait_until(lambda: server.requests >= 2, 4), server.requests
            time.sleep(1.0)
            assert server.requests <= 3, server.requests
            assert wait_until(lambda: int(first_row(desk.port)[1][4]) >= server.requests, 3)
            [(state, cells)] = delivery_rows(desk.port)
            assert state == "pending" and error in cells[6], cells
            assert desk.notifier.alive
    finally:
        server.close()


@pytest.mark.timeout(120)
def test_a_slow_receiver_never_delays_ingest(tmp_path: Path, broker: LocalBroker) -> None:
    """The kiosk's uplink publishes a stream of entries (a quarter of them alerts) to the real
    ingest; without the notifier, with it sending to a prompt receiver, then to one slower
    than ``timeout_s``. Every entry is committed either way; the desk shows the timed-out
    deliveries and the notifier lives on. (Latency figures: ``scripts/bench_desk.py``.)"""
    shown: list[list[tuple[str, list[str]]]] = []

    def inspect(port: int, db: DeskDb) -> None:
        add_user(db, "vera", "viewer", DESK_PASSWORD, datetime.now(UTC))
        shown.append(delivery_rows(port))

    run = run_phases(
        tmp_path, broker.port, entries=40, rate=20.0, slow_delay_s=3.0,
        inspect=inspect,
    )  # fmt: skip
    assert [p.webhook for p in run.phases] == ["none", "prompt", "slow"]
    for phase in run.phases:
        assert phase.committed == phase.published == 40, phase  # every entry, every phase
    assert run.phases[-1].alerts == 10 and run.receiver_requests >= 1
    assert run.timeouts >= 1  # attempts cut off at notify.timeout_s, left for a retry
    assert run.notifier_alive and run.ingest_failed == 0
    [rows] = shown
    slow = [(state, cells) for state, cells in rows if cells[2] == run.slow_hook]
    assert len(slow) == 30 and {state for state, _ in slow} == {"pending"}, slow  # every alert
    assert any("timed out" in cells[6] for _, cells in slow), slow
    assert any(state == "sent" for state, _ in rows)  # the prompt receiver's
