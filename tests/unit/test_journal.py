"""The journald handler against a real unix datagram socket standing in for journald."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.model import Outcome
from kiosk.service.journal import (
    FieldsFormatter,
    JournalHandler,
    encode,
    iter_fields,
    priority,
    setup_logging,
    use_journal,
)
from tests.helpers import bind_datagram


@pytest.fixture
def journald(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "journal.socket"
    sock = bind_datagram(path)
    yield sock, str(path)
    sock.close()


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("kiosk.test.journal")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def fields_of(datagram: bytes) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in iter_fields(datagram):
        out.setdefault(key, []).append(value)
    return out


def test_a_decision_arrives_with_its_structured_fields(
    journald: tuple[socket.socket, str], logger: logging.Logger
) -> None:
    sock, path = journald
    logger.addHandler(JournalHandler("kiosk", path))
    logger.info(
        "entry %s: %s",
        "0190a1b2-...",
        "deny",
        extra={"journal": {"ENTRY_ID": "0190a1b2", "DECISION": Outcome.DENY,
                           "REASONS": ("code.red", "temp.fever"), "entry_seq": 42}},
    )  # fmt: skip
    got = fields_of(sock.recv(65536))
    assert got["MESSAGE"] == ["entry 0190a1b2-...: deny"]
    assert got["PRIORITY"] == ["6"]
    assert got["SYSLOG_IDENTIFIER"] == ["kiosk"]
    assert got["LOGGER"] == ["kiosk.test.journal"]
    assert got["CODE_FILE"] == [__file__]
    assert int(got["CODE_LINE"][0]) > 0
    assert got["CODE_FUNC"] == ["test_a_decision_arrives_with_its_structured_fields"]
    assert got["ENTRY_ID"] == ["0190a1b2"]
    assert got["ENTRY_SEQ"] == ["42"]  # lower-case keys are upper-cased
    assert got["DECISION"] == ["deny"]
    assert got["REASONS"] == ["code.red", "temp.fever"]  # one field each: REASONS=x matches


def test_fields_outside_the_allow_list_never_leave(
    journald: tuple[socket.socket, str], logger: logging.Logger
) -> None:
    sock, path = journald
    logger.addHandler(JournalHandler("kiosk", path))
    logger.warning(
        "rejected",
        extra={"journal": {"CODE_TEXT": "CP1:SECRET", "name": "张三丰", "ID_NUMBER": "1101",
                           "DECISION": "deny", "SUBJECT_HASH": "ab12"}},
    )  # fmt: skip
    raw = sock.recv(65536)
    got = fields_of(raw)
    assert got["DECISION"] == ["deny"]
    assert sorted(got["DROPPED_FIELDS"]) == ["CODE_TEXT", "ID_NUMBER", "NAME", "SUBJECT_HASH"]
    for secret in ("CP1:SECRET", "张三丰", "1101", "ab12"):
        assert secret.encode() not in raw


def test_multi_line_messages_and_tracebacks_use_the_length_form(
    journald: tuple[socket.socket, str], logger: logging.Logger
) -> None:
    sock, path = journald
    logger.addHandler(JournalHandler("kiosk", path))
    try:
        raise RuntimeError("camera gone")
    except RuntimeError:
        logger.exception("worker %s crashed", "scanner", extra={"journal": {"WORKER": "scanner"}})
    raw = sock.recv(65536)
    assert b"MESSAGE\n" in raw  # KEY\n<u64 length>value\n
    got = fields_of(raw)
    assert got["MESSAGE"][0].startswith("worker scanner crashed\nTraceback")
    assert "RuntimeError: camera gone" in got["MESSAGE"][0]
    assert got["PRIORITY"] == ["3"]
    assert got["WORKER"] == ["scanner"]


def test_a_record_larger_than_a_datagram_goes_through_a_sealed_memfd(
    journald: tuple[socket.socket, str], logger: logging.Logger
) -> None:
    sock, path = journald
    logger.addHandler(JournalHandler("kiosk", path))
    big = "x" * (4 * 1024 * 1024)
    logger.info("dump %s", big)
    data, fds, _flags, _addr = socket.recv_fds(sock, 1024, 1)
    assert data == b"" and len(fds) == 1
    try:
        payload = os.pread(fds[0], 8 * 1024 * 1024, 0)
    finally:
        os.close(fds[0])
    assert fields_of(payload)["MESSAGE"] == [f"dump {big}"]


def test_a_stuck_journal_drops_records_instead_of_blocking(
    journald: tuple[socket.socket, str], logger: logging.Logger
) -> None:
    sock, path = journald
    handler = JournalHandler("kiosk", path, send_timeout=0.05)
    logger.addHandler(handler)
    sent = 0
    while handler.dropped == 0 and sent < 100_000:  # nobody reads: the queue fills up
        logger.info("filler %d", sent)
        sent += 1
    assert handler.dropped == 1
    sock.setblocking(False)
    while True:  # journald catches up
        try:
            sock.recv(65536)
        except BlockingIOError:
            break
    sock.setblocking(True)
    logger.info("after the jam")
    got = fields_of(sock.recv(65536))
    assert got["MESSAGE"] == ["after the jam"]
    assert got["DROPPED_RECORDS"] == ["1"]
    assert handler.dropped == 0


def test_a_restarted_journald_gets_the_next_record(
    journald: tuple[socket.socket, str], logger: logging.Logger
) -> None:
    sock, path = journald
    handler = JournalHandler("kiosk", path)
    logger.addHandler(handler)
    logger.info("before")
    assert fields_of(sock.recv(65536))["MESSAGE"] == ["before"]
    sock.close()
    os.unlink(path)
    logger.info("while journald is down")  # dropped, counted
    assert handler.dropped == 1
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as again:
        again.bind(path)
        again.settimeout(5)
        logger.info("after")
        got = fields_of(again.recv(65536))
    assert got["MESSAGE"] == ["after"] and got["DROPPED_RECORDS"] == ["1"]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (logging.CRITICAL, 2),
        (logging.ERROR, 3),
        (logging.WARNING, 4),
        (logging.INFO, 6),
        (logging.DEBUG, 7),
        (25, 6),
        (45, 3),
        (1, 7),
    ],
)
def test_priority(level: int, expected: int) -> None:
    assert priority(level) == expected


def test_encode_and_decode_are_inverse() -> None:
    fields = [("MESSAGE", "a\nb"), ("PRIORITY", "6"), ("REASONS", "x"), ("REASONS", "y=z")]
    assert list(iter_fields(encode(fields))) == fields


def test_journal_is_used_only_when_stderr_is_the_journal_stream(
    journald: tuple[socket.socket, str], tmp_path: Path
) -> None:
    _sock, path = journald
    with open(tmp_path / "stream", "wb") as stream:
        st = os.fstat(stream.fileno())
        mine = f"{st.st_dev}:{st.st_ino}"
        assert use_journal({"JOURNAL_STREAM": mine}, stream.fileno(), path)
        assert not use_journal(
            {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"}, stream.fileno(), path
        )
        assert not use_journal({}, stream.fileno(), path)  # a terminal or a pipe
        assert not use_journal({"JOURNAL_STREAM": "garbage"}, stream.fileno(), path)
        assert not use_journal({"JOURNAL_STREAM": mine}, stream.fileno(), str(tmp_path / "none"))


def test_setup_logging_picks_the_handler(journald: tuple[socket.socket, str]) -> None:
    sock, path = journald
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        st = os.fstat(2)
        handler = setup_logging("INFO", environ={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"},
                                path=path)  # fmt: skip
        assert isinstance(handler, JournalHandler)
        logging.getLogger("kiosk.test").info("to the journal", extra={"journal": {"SITE": "s1"}})
        got = fields_of(sock.recv(65536))
        assert got["MESSAGE"] == ["to the journal"] and got["SITE"] == ["s1"]
        handler.close()
        fallback = setup_logging("INFO", environ={}, path=path)
        assert not isinstance(fallback, JournalHandler)
        assert isinstance(fallback.formatter, FieldsFormatter)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_stderr_lines_show_the_allowed_fields_only() -> None:
    record = logging.LogRecord("kiosk.x", logging.INFO, __file__, 1, "entry committed", (), None)
    record.journal = {"DECISION": "pass", "ENTRY_SEQ": 7, "CODE_TEXT": "CP1:..."}
    line = FieldsFormatter("%(message)s").format(record)
    assert line == "entry committed [DECISION=pass ENTRY_SEQ=7]"
