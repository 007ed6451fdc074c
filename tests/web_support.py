"""Test helpers for kiosk/web: configs, a realistic health snapshot, seeded ledgers, screens."""

from __future__ import annotations

import csv
import http.client
import io
import json
import random
import re
import select
import socket
import sqlite3
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from werkzeug.security import generate_password_hash

from kiosk.config import Config, parse
from kiosk.ledger import Ledger
from kiosk.model import Entry, Outcome
from kiosk.service.status import KioskHealth, Phase, StatusBoard, WorkerHealth
from kiosk.synthetic import synthetic_entry

PASSWORD = "correct horse battery staple"
#: pbkdf2 is quicker to check than scrypt; the tests need many logins, not a strong hash.
PASSWORD_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
VENUE = "https://venue.county.example/c/330106-0001"


def web_config(state_dir: Path, uplink: dict[str, Any] | None = None, **web: Any) -> Config:
    values: dict[str, Any] = {
        "staff_password_hash": PASSWORD_HASH,
        "venue_code": VENUE,
        "venue_name": "凡庄社区服务中心",
        **web,
    }
    return parse(
        {
            "kiosk": {"id": "k-001", "site": "fanzhuang", "state_dir": str(state_dir)},
            "web": values,
            "uplink": uplink or {},
        },
        source="test",
    )


#: Debian's chromium and the flags the e2e tests and the benchmark launch it with.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",  # as systemd/kiosk-screen.service: it speaks
]


def health(
    *,
    camera_fresh: bool = True,
    thermo_state: str = "connected",
    connected: bool = True,
    updated_t: float | None = None,
) -> KioskHealth:
    """A snapshot shaped like the supervisor's: scanner, thermometer and uplink workers."""
    now = time.monotonic()
    camera = {"state": "running", "fps_in": 15.0, "last_frame_age_s": 0.06 if camera_fresh else 9.0}
    thermo = {
        "state": thermo_state,
        "protocol": "gy-mcu90614",
        "last_reading": {"object_c": 33.2, "ambient_c": 24.0, "t": now},
    }
    return KioskHealth(
        kiosk="k-001",
        site="fanzhuang",
        version="test",
        started_at="2026-11-28T08:00:00.000Z",
        workers=(
            WorkerHealth("scanner", camera_fresh, 0.06 if camera_fresh else 9.0, 0, camera),
            WorkerHealth("thermometer", thermo_state == "connected", 0.1, 1, thermo),
            WorkerHealth(
                "uplink", True, 0.1, 0, {"broker": "127.0.0.1:1883", "connected": connected}
            ),
        ),
        outbox={"pending": 0, "oldest_age_s": None, "parked": 0},
        disk_free_bytes=12 * 1024**3,
        updated_t=now if updated_t is None else updated_t,
    )


def board_with_health() -> StatusBoard:
    """A fresh board whose health snapshot says every worker is fresh."""
    board = StatusBoard()
    board.set_health(health())
    return board


def seed(ledger_path: Path, count: int, seed_value: int = 11) -> list[Entry]:
    """Commit ``count`` synthetic entries (masked names, keyed hashes) and return them."""
    rng = random.Random(seed_value)
    with Ledger(ledger_path) as ledger:
        return [ledger.commit(synthetic_entry("k-001", "fanzhuang", rng)) for _ in range(count)]


def commit(ledger_path: Path, decision: Outcome, *reasons: str, **fields: Any) -> Entry:
    with Ledger(ledger_path) as ledger:
        return ledger.commit(Entry.new("k-001", "fanzhuang", decision, reasons, **fields))


#: The visitor screens the e2e tests and screenshots walk through.
DECISIONS: dict[str, dict[str, Any]] = {
    "pass": {
        "outcome": Outcome.PASS,
        "reasons": (),
        "masked_name": "张*中",
        "temperature_c": 36.4,
        "temperature_state": "ok",
        "code_status": "green",
    },
    "deny": {
        "outcome": Outcome.DENY,
        "reasons": ("code.red",),
        "masked_name": "李*",
        "temperature_c": 36.7,
        "temperature_state": "ok",
        "code_status": "red",
    },
    "refer": {
        "outcome": Outcome.REFER,
        "reasons": ("temp.fever", "code.expired"),
        "masked_name": "欧**明",
        "temperature_c": 37.8,
        "temperature_state": "fever",
        "code_status": "expired",
    },
}


def show_decision(board: StatusBoard, name: str, dwell_s: float = 30.0) -> None:
    now = time.monotonic()
    board.show(
        phase=Phase.DECIDED,
        code_seen=True,
        frame_t=now - 0.2,
        decided_t=now,
        dwell_s=dwell_s,
        **DECISIONS[name],
    )


def idle(board: StatusBoard) -> None:
    board.show(
        phase=Phase.IDLE,
        code_seen=False,
        temperature_state=None,
        temperature_c=None,
        outcome=None,
        reasons=(),
        masked_name=None,
        code_status=None,
        decided_t=None,
        dwell_s=None,
    )


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


class SseClient:
    """A plain HTTP client reading ``/events`` the way EventSource does (``data:`` lines)."""

    def __init__(
        self,
        port: int,
        path: str = "/events",
        timeout: float = 5.0,
        source: str | None = None,
        cookie: str | None = None,
    ) -> None:
        bind = None if source is None else (source, 0)  # another loopback address: a LAN client
        self.conn = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=timeout, source_address=bind
        )
        headers = {"Accept": "text/event-stream", **({"Cookie": cookie} if cookie else {})}
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()

    def next_event(self) -> dict[str, Any] | None:
        """The next event's JSON, skipping comments; None when the stream has ended."""
        data: list[str] = []
        while True:
            line = self.response.readline().decode()
            if not line:
                return None
            line = line.rstrip("\n")
            if line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                doc: dict[str, Any] = json.loads("\n".join(data))
                return doc

    def close(self) -> None:
        self.response.close()  # the response holds the socket open until it is closed too
        self.conn.close()


def http_login(port: int, password: str = PASSWORD, source: str | None = None) -> str:
    """Log in over plain HTTP (as a browser would) and return the session cookie pair."""
    bind = None if source is None else (source, 0)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=bind)
    try:
        conn.request("GET", "/staff/login")
        page = conn.getresponse()
        cookie = (page.getheader("Set-Cookie") or "").split(";", 1)[0]
        token = csrf_from(page.read().decode())
        body = urllib.parse.urlencode({"password": password, "csrf_token": token})
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        conn.request("POST", "/staff/login", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
    finally:
        conn.close()
    if answer.status != 303:
        raise RuntimeError(f"login failed: HTTP {answer.status}")
    return (answer.getheader("Set-Cookie") or "").split(";", 1)[0]


#: A text cell a spreadsheet would run as a formula starts with one of these (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def ledger_csv_rows(ledger_path: Path, *, defused: bool = True) -> list[dict[str, str]]:
    """What an export's rows must say, read straight from the ledger's SQLite tables (not
    through ``kiosk.export``): every entry in order, text that could run as a formula
    prefixed with ``'`` (if ``defused``: CSV), reasons joined with ``;``, delivered when no
    outbox row is left."""
    db = sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute(
            "SELECT e.*, NOT EXISTS (SELECT 1 FROM outbox o WHERE o.entry = e.n) AS delivered "
            "FROM entries e ORDER BY e.kiosk, e.seq"
        ).fetchall()
    finally:
        db.close()

    def cell(value: object) -> str:
        if value is None:
            return ""
        text = str(value)
        risky = defused and isinstance(value, str) and text.startswith(FORMULA_START)
        return "'" + text if risky else text

    out = []
    for row in rows:
        record = {key: cell(row[key]) for key in row.keys() if key not in ("n", "reasons")}
        record["reasons"] = cell(";".join(json.loads(row["reasons"])))
        record["delivered"] = str(bool(row["delivered"]))
        out.append(record)
    return out


def csv_rows(text: str) -> list[dict[str, str]]:
    """An exported CSV parsed as a spreadsheet would (the UTF-8 BOM first)."""
    assert text.startswith("\ufeff"), "no BOM: spreadsheet programs would misread UTF-8"
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


# Hostile clients (tests/integration/test_web_hostile.py, scripts/bench_web_hostile.py)


class Trickler:
    """Keeps ``per_source`` connections from each source trickling header bytes, opening a
    new one whenever the server closes one, until stopped."""

    def __init__(self, port: int, sources: list[str], per_source: int) -> None:
        self.port, self.sources, self.per_source = port, sources, per_source
        self.reconnects = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trickler", daemon=True)

    def _open(self, source: str) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), 5, (source, 0))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: kiosk\r\nX-Slow: ")
        except OSError:
            return None
        return sock

    def _run(self) -> None:
        live = {s: [self._open(s) for _ in range(self.per_source)] for s in self.sources}
        while not self._stop.wait(0.5):
            for source, socks in live.items():
                for i, sock in enumerate(socks):
                    try:
                        if sock is None:
                            raise OSError
                        sock.send(b"a")
                    except OSError:
                        if sock is not None:
                            sock.close()
                        socks[i] = self._open(source)
                        self.reconnects += 1
        for socks in live.values():
            for sock in socks:
                if sock is not None:
                    sock.close()

    def __enter__(self) -> Trickler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


BODY_HEADERS = (
    "POST /staff/login HTTP/1.1\r\nHost: kiosk\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\n"
)


def declared_huge_body(port: int) -> bytes:
    """Declare 500 MB and send none of it: the answer must come from the header alone."""
    with socket.create_connection(("127.0.0.1", port), 5, ("127.0.0.50", 0)) as sock:
        sock.sendall((BODY_HEADERS + "Content-Length: 500000000\r\n\r\n").encode())
        return sock.recv(4096)


def endless_chunked_body(port: int) -> tuple[bytes, int]:
    """Send 4 KiB chunks until the server answers; returns the answer and the bytes sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), 5, ("127.0.0.51", 0)) as sock:
        sock.sendall((BODY_HEADERS + "Transfer-Encoding: chunked\r\n\r\n").encode())
        chunk = b"1000\r\n" + b"a" * 4096 + b"\r\n"
        while sent < 100 * 1024 * 1024:
            readable, _, _ = select.select([sock], [], [], 0.01)
            if readable:
                return sock.recv(4096), sent
            try:
                sock.sendall(chunk)
            except OSError:
                break
            sent += 4096
    return b"", sent


def request(
    port: int,
    method: str,
    path: str,
    *,
    source: str | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request from ``source`` (another loopback address stands for another host):
    status, headers and body."""
    bind = None if source is None else (source, 0)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=bind)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()
