"""Hostile clients against the county desk served by the real ``WebServer`` (``build_desk``,
real sockets): password guessing per client address and in parallel, CSRF, a replayed cookie
after logout, trickled and oversized requests, the per-client connection cap and the caps
on alert streams. Attackers connect from other loopback addresses (127.0.0.2 ...): to the
server they are other hosts, as LAN clients are when ``[desk] host = "0.0.0.0"``; the desk's
own checks come from 127.0.0.1, which keeps reserved connections (``desk.admin_addresses``).
"""

from __future__ import annotations

import select
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from county.desk.alerts import recent_alerts
from kiosk.model import Entry, Outcome
from tests.county_support import (
    DESK_PASSWORD,
    RunningDesk,
    desk_login,
    running_desk,
    sqlite_url,
    write_entries,
)
from tests.helpers import wait_until
from tests.web_support import SseClient, csrf_from, request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REQUEST_TIMEOUT_S = 2.0
PER_CLIENT = 16
DESK = {
    "request_timeout_s": REQUEST_TIMEOUT_S,
    "connections_per_client": PER_CLIENT,
    "max_connections": 48,  # 40 for all other clients together, 8 kept for 127.0.0.1
    "sse_max_streams": 4,
    "sse_streams_per_client": 2,
    "login_attempts": 5,
}
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDesk]:
    tmp = tmp_path_factory.mktemp("desk-web")
    with running_desk(tmp, sqlite_url(tmp / "county.sqlite"), desk=DESK) as running:
        yield running


def login_form(port: int, source: str | None = None) -> tuple[str, str]:
    """A fresh session's cookie and its CSRF token, from the login page."""
    status, headers, page = request(port, "GET", "/login", source=source)
    assert status == 200
    return headers["Set-Cookie"].split(";", 1)[0], csrf_from(page.decode())


def post_login(
    port: int, source: str, cookie: str, token: str, user: str, password: str, **headers: str
) -> int:
    form = urllib.parse.urlencode({"user": user, "password": password, "csrf_token": token})
    status, _, _ = request(
        port, "POST", "/login", source=source, body=form,
        headers={"Cookie": cookie, "Content-Type": FORM, **headers},
    )  # fmt: skip
    return status


def page_token(port: int, cookie: str, path: str = "/") -> str:
    status, _, page = request(port, "GET", path, headers={"Cookie": cookie})
    assert status == 200, (path, status)
    return csrf_from(page.decode())


# -- logins -------------------------------------------------------------------------------


def test_password_guessing_is_limited_per_client_address(desk: RunningDesk) -> None:
    source = "127.0.0.2"
    cookie, token = login_form(desk.port, source)
    codes = [post_login(desk.port, source, cookie, token, "tina", f"guess-{i}") for i in range(6)]
    assert codes == [401] * 5 + [429]
    # the right password and a forged client address do not get past the limit either
    assert post_login(desk.port, source, cookie, token, "tina", DESK_PASSWORD) == 429
    spoofed = post_login(
        desk.port, source, cookie, token, "tina", DESK_PASSWORD, **{"X-Forwarded-For": "10.9.9.9"}
    )
    assert spoofed == 429
    status, headers, _ = request(
        desk.port, "POST", "/login", source=source,
        body=urllib.parse.urlencode({"user": "x", "password": "y", "csrf_token": token}),
        headers={"Cookie": cookie, "Content-Type": FORM},
    )  # fmt: skip
    assert status == 429 and 0 < int(headers["Retry-After"]) <= 300
    # staff at other addresses log in as usual
    for other in ("127.0.0.3", "127.0.0.1"):
        assert desk_login(desk.port, "tina", DESK_PASSWORD, source=other)


def test_parallel_guesses_cannot_race_the_limit(desk: RunningDesk) -> None:
    source = "127.0.0.4"
    cookie, token = login_form(desk.port, source)
    start = threading.Barrier(14)
    codes: list[int] = []

    def guess(i: int) -> None:
        start.wait()
        codes.append(post_login(desk.port, source, cookie, token, "hank", f"parallel-{i}"))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(14)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [401] * 5 + [429] * 9  # exactly five passwords were checked


def test_a_login_to_another_account_does_not_reset_the_guesses(desk: RunningDesk) -> None:
    """An insider with a viewer account must not buy more guesses at a tracer's password by
    logging in to their own account between rounds of guessing."""
    source = "127.0.0.5"
    failed = 0
    for _round in range(3):
        cookie, token = login_form(desk.port, source)
        for i in range(4):
            code = post_login(desk.port, source, cookie, token, "tina", f"round-{_round}-{i}")
            failed += code == 401
        post_login(desk.port, source, cookie, token, "vera", DESK_PASSWORD)
    assert failed == DESK["login_attempts"]
    # and a good login from a quiet address is still not counted against it
    source = "127.0.0.6"
    for _ in range(DESK["login_attempts"] + 2):
        assert desk_login(desk.port, "vera", DESK_PASSWORD, source=source)


# -- CSRF and sessions ---------------------------------------------------------------------


def test_posts_without_the_sessions_csrf_token_are_refused(desk: RunningDesk) -> None:
    red = Entry.new("k-001", "fanzhuang", Outcome.DENY, ("code.red",), masked_name="王*")
    write_entries(desk.store, [red.with_seq(1)])
    cookie = desk_login(desk.port, "hank", DESK_PASSWORD)
    other = desk_login(desk.port, "hank", DESK_PASSWORD, source="127.0.0.7")
    foreign_token = page_token(desk.port, other)  # valid, but another session's
    assert page_token(desk.port, cookie) != foreign_token
    for extra in ({}, {"csrf_token": "x" * 43}, {"csrf_token": foreign_token}):
        form = urllib.parse.urlencode({"key": red.id, "note": "forged", **extra})
        status, _, _ = request(
            desk.port, "POST", "/alerts/ack", body=form,
            headers={"Cookie": cookie, "Content-Type": FORM, "Origin": "http://evil.example"},
        )  # fmt: skip
        assert status == 400, extra
    assert not any(a.handled for a in recent_alerts(desk.db))
    form = urllib.parse.urlencode({"key": red.id, "note": "ok", "csrf_token": page_token(
        desk.port, cookie)})  # fmt: skip
    status, _, _ = request(
        desk.port,
        "POST",
        "/alerts/ack",
        body=form,
        headers={"Cookie": cookie, "Content-Type": FORM},
    )
    assert status == 303 and [a.handled_by for a in recent_alerts(desk.db)] == ["hank"]
    # a forged logout is refused as well: the session lives on
    status, _, _ = request(desk.port, "POST", "/logout", headers={"Cookie": cookie})
    assert status == 400
    assert request(desk.port, "GET", "/", headers={"Cookie": cookie})[0] == 200


def test_logout_ends_the_session_for_every_copy_of_the_cookie(desk: RunningDesk) -> None:
    status, headers, _ = request(desk.port, "GET", "/login")
    cookie_attrs = headers["Set-Cookie"].lower()
    assert "httponly" in cookie_attrs and "samesite=strict" in cookie_attrs
    cookie = desk_login(desk.port, "tina", DESK_PASSWORD, source="127.0.0.8")
    copy = cookie  # what someone who saw the cookie keeps
    token = page_token(desk.port, cookie, "/trace")
    form = urllib.parse.urlencode({"csrf_token": token})
    status, _, _ = request(
        desk.port, "POST", "/logout", body=form, headers={"Cookie": cookie, "Content-Type": FORM}
    )
    assert status == 303
    for path in ("/", "/trace", "/api/alerts", "/ledger/export.csv", "/events"):
        status, headers, _ = request(desk.port, "GET", path, headers={"Cookie": copy})
        assert status == 303 and headers["Location"].startswith("/login"), (path, status)
    form = urllib.parse.urlencode({"query": "11010519491231002X", "csrf_token": token})
    status, headers, _ = request(
        desk.port, "POST", "/trace/person", body=form,
        headers={"Cookie": copy, "Content-Type": FORM},
    )  # fmt: skip
    assert status in (303, 400) and "/login" in headers.get("Location", "/login")
    assert desk.db.rows("SELECT id FROM audit_log") == []  # the replay traced nobody


def test_one_account_logging_in_again_and_again_ends_only_its_own_sessions(
    desk: RunningDesk,
) -> None:
    """Sessions are capped per user: 70 logins of one account end that account's oldest
    sessions, not another user's (a single capped pool would have logged everyone out)."""
    victim = desk_login(desk.port, "hank", DESK_PASSWORD, source="127.0.0.24")
    first = desk_login(desk.port, "vera", DESK_PASSWORD, source="127.0.0.25")
    latest = [desk_login(desk.port, "vera", DESK_PASSWORD, source="127.0.0.25") for _ in range(70)]
    assert request(desk.port, "GET", "/audit", headers={"Cookie": victim})[0] == 200
    assert request(desk.port, "GET", "/", headers={"Cookie": latest[-1]})[0] == 200
    assert request(desk.port, "GET", "/", headers={"Cookie": first})[0] == 303  # vera's oldest


def test_a_hostile_login_target_is_refused_and_the_login_still_works(desk: RunningDesk) -> None:
    for hostile in (
        "/\r\nSet-Cookie: admin=1",
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
    ):
        query = urllib.parse.quote(hostile, safe="/")
        status, _, page = request(desk.port, "GET", f"/login?next={query}")
        assert status == 200 and "admin=1" not in page.decode() and "evil" not in page.decode()
        cookie, token = login_form(desk.port, "127.0.0.9")
        form = urllib.parse.urlencode(
            {"user": "vera", "password": DESK_PASSWORD, "csrf_token": token, "next": hostile}
        )
        status, headers, _ = request(
            desk.port, "POST", "/login", source="127.0.0.9", body=form,
            headers={"Cookie": cookie, "Content-Type": FORM},
        )  # fmt: skip
        assert status == 303 and headers["Location"] == "/", (hostile, headers)
        assert "admin=1" not in str(headers)


# -- slow, oversized and too many requests -------------------------------------------------


def trickle(port: int, source: str, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), 5, (source, 0))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: desk\r\nX-Slow: ")
        socks.append(sock)
    return socks


def test_trickled_headers_are_cut_off_while_healthz_answers(desk: RunningDesk) -> None:
    """Three hosts open 16 connections each and trickle header bytes: 40 are admitted (8
    more are kept for the desk's own address), every one is cut off after the request
    deadline, and /healthz from 127.0.0.1 answers promptly all along."""
    cut_before = desk.server.health().cut_off
    sources = [f"127.0.0.{10 + n}" for n in range(3)]
    sockets = {s: source for source in sources for s in trickle(desk.port, source, PER_CLIENT)}
    started = time.monotonic()
    closed: dict[socket.socket, float] = {}
    answers: dict[socket.socket, bytes] = {}
    healthz: list[tuple[int, float]] = []
    next_byte = started
    while len(closed) < len(sockets) and time.monotonic() - started < REQUEST_TIMEOUT_S + 8:
        readable, _, _ = select.select([s for s in sockets if s not in closed], [], [], 0.1)
        for sock in readable:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            answers[sock] = answers.get(sock, b"") + data
            if not data:
                closed[sock] = time.monotonic() - started
        if time.monotonic() >= next_byte:  # a byte every 0.3 s: waitress alone would wait
            next_byte += 0.3
            for sock in sockets:
                if sock not in closed and not answers.get(sock):
                    try:
                        sock.send(b"a")
                    except OSError:
                        closed.setdefault(sock, time.monotonic() - started)
            t0 = time.monotonic()
            status = request(desk.port, "GET", "/healthz", timeout=5)[0]
            healthz.append((status, time.monotonic() - t0))
    for sock in sockets:
        sock.close()
    assert len(closed) == len(sockets), "some trickling connections were never cut off"
    # refused: answered 503, or reset at once (the 503 may be lost when the server closes a
    # socket holding unread request bytes); the admitted are cut off only at the deadline
    refused = [
        s for s in sockets
        if answers.get(s, b"").startswith(b"HTTP/1.1 503") or closed[s] < REQUEST_TIMEOUT_S / 2
    ]  # fmt: skip
    admitted = {src: sum(1 for s, v in sockets.items() if v == src and s not in refused)
                for src in sources}  # fmt: skip
    assert sum(admitted.values()) <= 40 and len(refused) >= 8, admitted
    assert max(closed[s] for s in sockets if s not in refused) <= REQUEST_TIMEOUT_S + 2
    assert healthz and all(s == 200 and t < 2.0 for s, t in healthz), healthz
    assert desk.server.health().cut_off - cut_before >= sum(admitted.values())
    assert request(desk.port, "GET", "/healthz", source="127.0.0.13")[0] == 200  # LAN again


def test_a_trickled_body_is_cut_off(desk: RunningDesk) -> None:
    cookie, token = login_form(desk.port, "127.0.0.14")
    with socket.create_connection(("127.0.0.1", desk.port), 5, ("127.0.0.14", 0)) as sock:
        sock.sendall(
            f"POST /login HTTP/1.1\r\nHost: desk\r\nCookie: {cookie}\r\n"
            f"Content-Type: {FORM}\r\nContent-Length: 2000\r\n\r\ncsrf_token=".encode()
        )
        started = time.monotonic()
        sock.settimeout(0.3)
        answer = b""
        while time.monotonic() - started < REQUEST_TIMEOUT_S + 5:
            try:
                sock.send(b"a")
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            answer += chunk
        took = time.monotonic() - started
    assert took <= REQUEST_TIMEOUT_S + 2 and not answer.startswith(b"HTTP/1.1 2"), (took, answer)
    assert token  # (the form was a real one)


def test_huge_bodies_are_refused_before_they_are_read(desk: RunningDesk) -> None:
    head = f"POST /login HTTP/1.1\r\nHost: desk\r\nContent-Type: {FORM}\r\n"
    with socket.create_connection(("127.0.0.1", desk.port), 5, ("127.0.0.15", 0)) as sock:
        sock.sendall((head + "Content-Length: 500000000\r\n\r\n").encode())
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")  # from the header alone
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", desk.port), 5, ("127.0.0.15", 0)) as sock:
        sock.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
        chunk = b"1000\r\n" + b"a" * 4096 + b"\r\n"
        while sent < 100 * 1024 * 1024:
            if select.select([sock], [], [], 0.01)[0]:
                answer = sock.recv(4096)
                break
            try:
                sock.sendall(chunk)
            except OSError:
                break
            sent += 4096
    assert answer.startswith(b"HTTP/1.1 413") and sent <= 64 * 1024, (answer[:60], sent)
    with socket.create_connection(("127.0.0.1", desk.port), 5, ("127.0.0.15", 0)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: desk\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
        sock.settimeout(5)
        answer = sock.recv(4096)
    assert answer.split(b"\r\n", 1)[0].split(b" ")[1] in (b"431", b"400"), answer[:60]


def test_one_client_cannot_hold_more_than_its_connections(desk: RunningDesk) -> None:
    held = [socket.create_connection(("127.0.0.1", desk.port), 5, ("127.0.0.16", 0))
            for _ in range(PER_CLIENT + 3)]  # fmt: skip
    try:
        readable: list[socket.socket] = []
        deadline = time.monotonic() + REQUEST_TIMEOUT_S - 0.5  # before the idle are cut off
        while len(readable) < 3 and time.monotonic() < deadline:
            waiting = [s for s in held if s not in readable]
            readable += select.select(waiting, [], [], 0.1)[0]
        assert len(readable) == 3, len(readable)  # the three over the cap: answered and closed
        for sock in readable:
            try:
                answer = sock.recv(4096)
            except ConnectionResetError:
                answer = b""  # closed before the answer could be read: refused all the same
            assert answer in (b"",) or answer.startswith(b"HTTP/1.1 503"), answer
        # another client and the desk's own address are served meanwhile
        assert request(desk.port, "GET", "/healthz", source="127.0.0.17")[0] == 200
        assert request(desk.port, "GET", "/healthz")[0] == 200
    finally:
        for sock in held:
            sock.close()


# -- alert streams -------------------------------------------------------------------------


def stream(port: int, cookie: str, source: str) -> SseClient:
    return SseClient(port, source=source, cookie=cookie)


def test_alert_streams_are_capped_per_client_and_in_total(desk: RunningDesk) -> None:
    cookie = desk_login(desk.port, "vera", DESK_PASSWORD, source="127.0.0.20")
    for source in ("127.0.0.20", "127.0.0.21", "127.0.0.22") * 2:  # headers only: no place kept
        status, _, body = request(
            desk.port, "HEAD", "/events", source=source, headers={"Cookie": cookie}
        )
        assert status == 200 and body == b""
    open_: list[SseClient] = []
    statuses: dict[str, list[int]] = {}
    try:
        for source in ("127.0.0.20",) * 3 + ("127.0.0.21",) * 2 + ("127.0.0.22",):
            client = stream(desk.port, cookie, source)
            open_.append(client)
            statuses.setdefault(source, []).append(client.response.status)
        assert statuses == {
            "127.0.0.20": [200, 200, 503],  # two per client
            "127.0.0.21": [200, 200],
            "127.0.0.22": [503],  # four in all
        }
        # pages are still served beside the four open streams
        assert request(desk.port, "GET", "/", headers={"Cookie": cookie})[0] == 200
        # a new alert reaches an open stream
        live = next(c for c in open_ if c.response.status == 200)
        fever = Entry.new("k-002", "garden", Outcome.DENY, ("temp.fever",), temperature_c=38.2,
                          ts=datetime.now(UTC))  # fmt: skip
        write_entries(desk.store, [fever.with_seq(1)])
        line = b""
        while line != b"event: alerts\n":
            line = live.response.readline()
            assert line, "the stream ended without the event"
    finally:
        for client in open_:
            client.close()
    # closed streams give their places back: a new client gets one soon
    assert wait_until(
        lambda: _stream_status(desk.port, cookie, "127.0.0.23") == 200, 5, interval=0.5
    ), "the closed streams kept their places"


def _stream_status(port: int, cookie: str, source: str) -> int:
    client = stream(port, cookie, source)
    try:
        return int(client.response.status)
    finally:
        client.close()
