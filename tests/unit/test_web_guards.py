"""The web layer's guards as pure rules: login limit, server-side sessions, screen streams,
connection admission, the login redirect target and CSV cells a spreadsheet would run."""

from __future__ import annotations

import threading

import pytest

from kiosk.export import defuse
from kiosk.web.auth import _safe_next
from kiosk.web.guard import Admission
from kiosk.web.limiter import LoginLimiter, client_key
from kiosk.web.sessions import StaffSessions
from kiosk.web.sse import StreamGate


def test_limiter_counts_each_attempt_before_the_check_and_releases_in_time() -> None:
    limiter = LoginLimiter(attempts=3, window_s=60)
    for t in (0.0, 1.0, 2.0):
        assert limiter.reserve("10.0.0.2", t) is None
    assert limiter.reserve("10.0.0.2", 3.0) == pytest.approx(57.0)
    assert limiter.reserve("10.0.0.3", 3.0) is None  # another client is not locked out
    assert limiter.reserve("10.0.0.2", 60.5) is None  # the first attempt left the window
    limiter.succeeded("10.0.0.2")
    assert limiter.reserve("10.0.0.2", 61.0) is None


def test_a_refund_gives_back_one_attempt_and_keeps_the_failures() -> None:
    limiter = LoginLimiter(attempts=3, window_s=60)
    for t in (0.0, 1.0):  # two failures
        assert limiter.reserve("10.0.0.4", t) is None
    for t in (2.0, 3.0, 4.0):  # three logins that succeeded are given back
        assert limiter.reserve("10.0.0.4", t) is None
        limiter.refund("10.0.0.4", t)
    assert limiter.reserve("10.0.0.4", 5.0) is None  # the third failure
    assert limiter.reserve("10.0.0.4", 6.0) == pytest.approx(54.0)
    limiter.refund("10.0.0.4", 6.0)  # a refused attempt was never counted: nothing to give
    limiter.refund("10.0.0.9", 1.0)  # nor for a client never seen
    assert limiter.reserve("10.0.0.4", 6.5) == pytest.approx(53.5)
    assert limiter.remembered == 1


def test_failures_from_other_addresses_never_lock_out_a_client() -> None:
    limiter = LoginLimiter(attempts=5, window_s=300)
    for i in range(4):  # twenty failures from four addresses
        for t in range(5):
            assert limiter.reserve(f"192.168.1.{20 + i}", float(t)) is None
        assert limiter.reserve(f"192.168.1.{20 + i}", 5.0) is not None
    assert limiter.reserve("192.168.1.50", 6.0) is None


def test_parallel_guesses_never_exceed_the_limit() -> None:
    limiter = LoginLimiter(attempts=5, window_s=300)
    start = threading.Barrier(40)
    allowed: list[bool] = []

    def guess() -> None:
        start.wait()
        allowed.append(limiter.reserve("10.0.0.9", 1.0) is None)

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 5


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.168.1.7", "192.168.1.7"),
        ("::ffff:192.168.1.7", "192.168.1.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),  # same /64: the same client
        ("fe80::1%eth0", "fe80::/64"),
        (None, "unknown"),
    ],
)
def test_client_key(address: str | None, key: str) -> None:
    assert client_key(address) == key


def test_limiter_memory_is_bounded() -> None:
    limiter = LoginLimiter(attempts=2, window_s=100, max_clients=10)
    for i in range(500):
        limiter.reserve(f"10.1.{i // 250}.{i % 250}", float(i) * 0.01)
    assert limiter.remembered <= 10


def test_a_session_ends_on_logout_on_idle_and_when_too_many() -> None:
    sessions = StaffSessions(idle_s=60, max_sessions=3)
    sid = sessions.begin(0.0)
    assert sessions.touch(sid, 30.0) and sessions.touch(sid, 89.0)  # each use restarts idle
    sessions.end(sid)
    assert not sessions.touch(sid, 90.0)  # a copied cookie names an ended session
    idle = sessions.begin(100.0)
    assert not sessions.touch(idle, 161.0)
    assert not sessions.touch("made-up", 0.0) and not sessions.touch(None, 0.0)
    first = sessions.begin(200.0)
    others = [sessions.begin(201.0 + i) for i in range(3)]
    assert not sessions.touch(first, 205.0)  # the longest idle made room
    assert all(sessions.touch(s, 205.0) for s in others) and sessions.live == 3


def test_the_screen_keeps_its_stream_whoever_holds_the_rest() -> None:
    gate = StreamGate(4, per_client=2)
    held = [gate.try_open("10.0.0.5", local=False) for _ in range(3)]
    assert held[0] and held[1] and held[2] is None  # two per client
    held.append(gate.try_open("10.0.0.6", local=False))
    assert held[3] is not None and gate.try_open("10.0.0.7", local=False) is None  # 3 shared
    screen = gate.try_open("127.0.0.1", local=True)
    assert screen is not None and screen.reserved and gate.open == 4
    screen.release()
    screen.release()  # exactly once
    assert gate.open == 3
    assert gate.try_open("10.0.0.8", local=False) is None  # the freed slot is the screen's
    again = gate.try_open("127.0.0.1", local=True)
    assert again is not None and again.reserved
    held[0].release()  # type: ignore[union-attr]
    extra = gate.try_open("127.0.0.1", local=True)  # the screen may use a shared one too
    assert extra is not None and not extra.reserved and gate.open == 4


def test_a_reconnecting_screen_supersedes_its_old_stream_when_all_are_taken() -> None:
    gate = StreamGate(3, per_client=2)
    old = gate.try_open("127.0.0.1", local=True)
    hogs = [gate.try_open("10.0.0.5", local=False), gate.try_open("10.0.0.5", local=False)]
    assert old is not None and all(hogs) and gate.open == 3
    new = gate.try_open("127.0.0.1", local=True)  # the display reloaded its page
    assert new is not None and new.reserved
    assert old.superseded.is_set() and not new.superseded.is_set()
    old.release()  # the old stream ends: it gives back nothing it no longer holds
    assert gate.open == 3
    assert gate.try_open("10.0.0.6", local=False) is None
    new.release()
    assert gate.open == 2


RULE = Admission(("127.0.0.1", "::1"), total=100, per_client=20, reserved=8, request_timeout_s=10)


@pytest.mark.parametrize(
    ("address", "by_client", "total", "refused"),
    [
        ("192.168.1.9", {}, 0, ""),
        ("192.168.1.9", {"192.168.1.9": 19}, 19, ""),
        ("192.168.1.9", {"192.168.1.9": 20}, 20, "too many connections from this client"),
        ("2001:db8::5", {"2001:db8::/64": 20}, 20, "too many connections from this client"),
        ("192.168.1.10", {}, 91, ""),
        ("192.168.1.10", {}, 92, "only the screen's reserved connections are left"),
        ("127.0.0.1", {"127.0.0.1": 60}, 99, ""),  # the screen: no per-client cap
        ("::ffff:127.0.0.1", {}, 99, ""),
        ("127.0.0.2", {}, 92, "only the screen's reserved connections are left"),
        ("127.0.0.1", {}, 100, "all connections in use"),
    ],
)
def test_admission(address: str, by_client: dict[str, int], total: int, refused: str) -> None:
    assert RULE.refusal(address, by_client, total) == refused


@pytest.mark.parametrize(
    ("asked", "target"),
    [
        ("/staff/export?from=2026-11-01", "/staff/export?from=2026-11-01"),
        ("/staff\r\nSet-Cookie: x=1", "/staff"),
        ("/staff\n", "/staff"),
        ("/staff\t", "/staff"),
        ("/staff x", "/staff"),
        ("/staff\x7f", "/staff"),
        ("//evil.example/staff", "/staff"),
        ("/staff/..//evil.example", "/staff"),
        ("/staff\\..\\x", "/staff"),
        ("https://evil.example/staff", "/staff"),
        ("", "/staff"),
        (None, "/staff"),
    ],
)
def test_only_a_plain_local_staff_path_follows_a_login(asked: str | None, target: str) -> None:
    assert _safe_next(asked) == target


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("张*中", "张*中"),
        ("a=b", "a=b"),
        (-3.5, -3.5),  # numbers are data, not formulas
        (7, 7),
    ],
)
def test_csv_cells_that_would_run_as_formulas_are_defused(value: object, cell: object) -> None:
    assert defuse(value) == cell
