"""The web app behind a real waitress server on a free loopback port: SSE delivery, the stream
cap and lifetime, page requests beside open streams, and a clean stop."""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path

import pytest

from kiosk.config import Config
from kiosk.model import Outcome
from kiosk.service.status import Phase, StatusBoard
from kiosk.web import WebServer, create_app
from kiosk.web.state import state_of
from tests.web_support import (
    SseClient,
    commit,
    http_login,
    show_decision,
    web_config,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return web_config(tmp_path / "state", threads=5, sse_max_streams=2, sse_stream_s=60)


def get(port: int, path: str, source: str | None = None) -> tuple[int, bytes]:
    """GET ``path``; from ``source`` (another loopback address: a LAN client) if given."""
    bind = None if source is None else (source, 0)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=bind)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_stream_starts_with_the_current_screen_then_delivers_each_new_one(
    server: WebServer, board: StatusBoard
) -> None:
    board.show(phase=Phase.VERIFYING, code_seen=True)
    client = SseClient(server.port)
    try:
        assert client.response.getheader("Content-Type") == "text/event-stream; charset=utf-8"
        assert client.response.getheader("Cache-Control") == "no-store"
        first = client.next_event()
        assert first is not None
        assert first["version"] == 1 and first["screen"]["phase"] == "verifying"
        assert "正在验证健康码" in first["html"]
        show_decision(board, "deny")
        second = client.next_event()
        assert second is not None
        assert second["version"] == 2
        assert second["screen"]["outcome"] == "deny"
        assert 'data-outcome="deny"' in second["html"] and "红码，禁止通行" in second["html"]
        board.show(phase=Phase.IDLE, outcome=None)
        third = client.next_event()
        assert third is not None and third["screen"]["phase"] == "idle"
    finally:
        client.close()


def test_a_burst_of_screens_ends_on_the_latest(server: WebServer, board: StatusBoard) -> None:
    client = SseClient(server.port)
    try:
        assert client.next_event() is not None
        for i in range(50):
            board.show(temperature_c=36.0 + i / 100)
        seen = []
        while not seen or seen[-1]["version"] < 50:
            event = client.next_event()
            assert event is not None
            seen.append(event)
        versions = [e["version"] for e in seen]
        assert versions == sorted(versions)  # never goes back
        assert seen[-1]["screen"]["temperature_c"] == pytest.approx(36.49)
    finally:
        client.close()


def test_streams_are_capped_and_pages_still_answer(server: WebServer, config: Config) -> None:
    streams = [SseClient(server.port) for _ in range(config.web.sse_max_streams)]
    try:
        assert all(s.next_event() is not None for s in streams)
        status, body = get(server.port, "/events", source="127.0.0.2")  # not the screen
        assert status == 503 and b"too many" in body
        for path in ("/healthz", "/", "/api/status", "/metrics", "/staff/login"):
            assert get(server.port, path)[0] == 200, path
    finally:
        for stream in streams:
            stream.close()


def test_a_slot_is_freed_when_a_client_goes_away(
    server: WebServer, board: StatusBoard, config: Config
) -> None:
    gate = state_of(server.app).gate
    streams = [SseClient(server.port) for _ in range(config.web.sse_max_streams)]
    try:
        for stream in streams:
            assert stream.next_event() is not None
        streams[0].close()
        # the server notices at its next write to the vanished client
        deadline = time.monotonic() + 10
        while gate.open == config.web.sse_max_streams and time.monotonic() < deadline:
            board.show(temperature_c=36.6)
            time.sleep(0.05)
        assert gate.open == config.web.sse_max_streams - 1
        streams.append(SseClient(server.port))
        assert streams[-1].next_event() is not None
    finally:
        for stream in streams:
            stream.close()


def test_a_stream_ends_after_its_lifetime(board: StatusBoard, tmp_path: Path) -> None:
    config = web_config(tmp_path, sse_stream_s=2)
    app = create_app(board, config.ledger_path, config)
    with WebServer(app, "127.0.0.1", 0) as server:
        client = SseClient(server.port)
        try:
            started = time.monotonic()
            assert client.next_event() is not None
            assert client.next_event() is None  # the server ended the response
            lived = time.monotonic() - started
        finally:
            client.close()
        assert config.web.sse_stream_s - 0.5 <= lived < config.web.sse_stream_s + 5
        deadline = time.monotonic() + 5
        while state_of(app).gate.open and time.monotonic() < deadline:
            time.sleep(0.02)
        assert state_of(app).gate.open == 0


def test_stop_ends_open_streams_and_frees_the_port(board: StatusBoard, config: Config) -> None:
    app = create_app(board, config.ledger_path, config)
    server = WebServer(app, "127.0.0.1", 0, threads=config.web.threads).start()
    client = SseClient(server.port)
    assert client.next_event() is not None
    ended: list[object] = []
    reader = threading.Thread(target=lambda: ended.append(client.next_event()))
    reader.start()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5
    reader.join(5)
    assert ended == [None]
    client.close()
    # the same port can be bound again at once
    again = WebServer(app, "127.0.0.1", server.port, threads=config.web.threads).start()
    again.stop()


def test_start_on_a_taken_port_raises(
    server: WebServer, board: StatusBoard, config: Config
) -> None:
    app = create_app(board, config.ledger_path, config)
    with pytest.raises(OSError):
        WebServer(app, "127.0.0.1", server.port).start()


def test_login_and_export_through_waitress(server: WebServer, config: Config) -> None:
    commit(config.ledger_path, Outcome.PASS, masked_name="张*中")
    session = http_login(server.port)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/staff/export?format=csv", headers={"Cookie": session})
    export = conn.getresponse()
    text = export.read().decode("utf-8-sig")
    conn.close()
    assert export.status == 200
    assert text.splitlines()[1].split(",")[9] == "张*中"
