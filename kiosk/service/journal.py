"""Logging to journald's native socket with structured fields, or to stderr without systemd.

Personal data never goes to the log: messages name entries by id and outcome only, and the
structured fields a record may carry are limited to ``FIELDS`` (no code text, ID number, name
or subject hash can be attached by accident; other keys are dropped and listed in
``DROPPED_FIELDS``). Attach fields with ``logger.info("...", extra={"journal": {...}})``.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket
import stat
import struct
import sys
from collections.abc import Iterable, Iterator, Mapping
from enum import Enum
from typing import Any

JOURNAL_SOCKET = "/run/systemd/journal/socket"

#: Structured fields a record may carry (``extra={"journal": {...}}``); nothing personal.
FIELDS = frozenset(
    {
        "ENTRY_ID",  # UUIDv7 of a ledger entry
        "ENTRY_SEQ",  # the kiosk's sequence number of that entry
        "DECISION",  # pass / deny / refer
        "REASONS",  # reason codes (code.red, temp.fever ...), one field per reason
        "CODE_KIND",  # county-pass / eu-dcc / online-token / unknown
        "CODE_STATUS",  # green / yellow / red / expired / failed ...
        "TEMP_STATE",  # ok / fever / not_ready ...
        "POLICY_VERSION",
        "KIOSK_ID",
        "SITE",
        "WORKER",  # scanner / thermometer / uplink / gate ...
        "DEVICE",  # /dev/ttyUSB0, camera 0 ...
        "OUTBOX_PENDING",
        "CHECK",  # a kiosk doctor check name
        "STATUS",  # its outcome
    }
)

VALUE_MAX = 1024  # characters per structured value; messages are not cut
DATAGRAM_MAX = 128 * 1024  # larger records go through a memfd (default send buffers ~208 KiB)

_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def priority(level: int) -> int:
    """The syslog priority journald files a Python level under (INFO -> 6, ERROR -> 3)."""
    return next((prio for floor, prio in _PRIORITIES if level >= floor), 7)


def _text(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    text = str(value)
    return text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 1] + "…"


def record_fields(record: logging.LogRecord) -> tuple[list[tuple[str, str]], list[str]]:
    """The allowed structured fields of a record, and the names of those it dropped.

    Lists and tuples become one field per item (``journalctl REASONS=temp.fever`` then finds
    every entry with that reason); ``None`` values are left out.
    """
    extra = getattr(record, "journal", None)
    if not isinstance(extra, Mapping):
        return [], []
    kept: list[tuple[str, str]] = []
    dropped: list[str] = []
    for key, value in extra.items():
        name = str(key).upper()
        if name not in FIELDS:
            dropped.append("".join(c if c.isalnum() or c == "_" else "_" for c in name)[:64])
            continue
        items = value if isinstance(value, list | tuple | frozenset | set) else (value,)
        kept += [(name, _text(item)) for item in items if item is not None]
    return kept, dropped


def encode(fields: Iterable[tuple[str, str]]) -> bytes:
    """journald's native protocol: ``KEY=value\\n``, or ``KEY\\n<u64 LE length>value\\n`` for
    values that contain a newline."""
    out = bytearray()
    for key, value in fields:
        data = value.encode("utf-8", "replace")
        if b"\n" in data:
            out += key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += key.encode() + b"=" + data + b"\n"
    return bytes(out)


class JournalHandler(logging.Handler):
    """Writes each record as one datagram to journald with MESSAGE, PRIORITY,
    SYSLOG_IDENTIFIER, CODE_FILE/LINE/FUNC, LOGGER, THREAD_NAME and the allowed extra fields.

    Never blocks for long: a send waits at most ``send_timeout`` s (journald overloaded), then
    the record is dropped and counted; the next record that gets through carries
    ``DROPPED_RECORDS=n``. Records larger than a datagram go through a sealed memfd, as
    sd_journal_send does. The constructor does no I/O.
    """

    def __init__(
        self,
        identifier: str = "kiosk",
        path: str = JOURNAL_SOCKET,
        level: int = logging.NOTSET,
        send_timeout: float = 0.5,
    ) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter("%(message)s"))
        self.identifier = identifier
        self.path = path
        self.dropped = 0
        self._timeout = send_timeout
        self._sock: socket.socket | None = None

    def fields(self, record: logging.LogRecord) -> list[tuple[str, str]]:
        """Everything sent for ``record``, in order (also used by the tests)."""
        extra, dropped = record_fields(record)
        out = [
            ("MESSAGE", self.format(record)),
            ("PRIORITY", str(priority(record.levelno))),
            ("SYSLOG_IDENTIFIER", self.identifier),
            ("LOGGER", record.name),
            ("CODE_FILE", record.pathname),
            ("CODE_LINE", str(record.lineno)),
            ("CODE_FUNC", record.funcName or ""),
            ("THREAD_NAME", record.threadName or ""),
            *extra,
        ]
        out += [("DROPPED_FIELDS", name) for name in dropped]
        if self.dropped:
            out.append(("DROPPED_RECORDS", str(self.dropped)))
        return out

    def emit(self, record: logging.LogRecord) -> None:
        try:
            payload = encode(self.fields(record))
        except Exception:  # a bad %-format in some message: logging's own error path
            self.handleError(record)
            return
        try:
            self._send(payload)
        except OSError:
            self.dropped += 1
            return
        self.dropped = 0

    def _send(self, payload: bytes) -> None:
        """Send on a socket connected to journald; reconnect once if journald restarted."""
        for attempt in (1, 2):
            sock = self._connect()
            try:
                if len(payload) > DATAGRAM_MAX:
                    self._send_memfd(sock, payload)
                    return
                try:
                    sock.send(payload)
                except OSError as exc:
                    if exc.errno not in (errno.EMSGSIZE, errno.ENOBUFS):
                        raise
                    self._send_memfd(sock, payload)
                return
            except TimeoutError:
                raise  # journald is alive but behind: drop, do not reconnect
            except OSError:
                self._disconnect()
                if attempt == 2:
                    raise

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            sock.settimeout(self._timeout)
            try:
                sock.connect(self.path)
            except OSError:
                sock.close()
                raise
            self._sock = sock
        return self._sock

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    @staticmethod
    def _send_memfd(sock: socket.socket, payload: bytes) -> None:
        """The payload in a sealed memfd, passed as SCM_RIGHTS (journald's large-record path)."""
        fd = os.memfd_create("journal-record", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
            socket.send_fds(sock, [b""], [fd])
        finally:
            os.close(fd)

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._disconnect()
        super().close()


class FieldsFormatter(logging.Formatter):
    """For stderr: the usual line plus the record's allowed fields (``[DECISION=pass ...]``)."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra, _dropped = record_fields(record)
        if not extra:
            return line
        return f"{line} [{' '.join(f'{k}={v}' for k, v in extra)}]"


def journal_stream_matches(environ: Mapping[str, str], fd: int) -> bool:
    """Whether ``fd`` is the journal stream systemd connected (``$JOURNAL_STREAM`` =
    ``device:inode`` of it); a child with redirected stderr inherits the variable, not the
    stream, so the variable alone proves nothing."""
    value = environ.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return st.st_dev == int(dev) and st.st_ino == int(ino)


def use_journal(
    environ: Mapping[str, str] | None = None, fd: int = 2, path: str = JOURNAL_SOCKET
) -> bool:
    """True when run by systemd with stderr going to the journal and the native socket there.

    A technician's terminal keeps getting plain stderr even where journald runs.
    """
    env = os.environ if environ is None else environ
    return journal_stream_matches(env, fd) and _is_socket(path)


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def setup_logging(
    level: int | str,
    identifier: str = "kiosk",
    environ: Mapping[str, str] | None = None,
    path: str = JOURNAL_SOCKET,
) -> logging.Handler:
    """Send the root logger to the journal (see ``use_journal``) or to stderr; returns the
    handler installed. Replaces any handler installed before."""
    handler: logging.Handler
    if use_journal(environ, _stderr_fd(), path):
        handler = JournalHandler(identifier, path)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(FieldsFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    return handler


def _stderr_fd() -> int:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by something without a descriptor
        return -1


def iter_fields(payload: bytes) -> Iterator[tuple[str, str]]:
    """Decode one native-protocol datagram (the inverse of ``encode``; for tests and tools)."""
    pos = 0
    while pos < len(payload):
        end = payload.index(b"\n", pos)
        line = payload[pos:end]
        if b"=" in line:
            key, _, value = line.partition(b"=")
            yield key.decode(), value.decode("utf-8", "replace")
            pos = end + 1
            continue
        (size,) = struct.unpack_from("<Q", payload, end + 1)
        start = end + 1 + 8
        yield line.decode(), payload[start : start + size].decode("utf-8", "replace")
        pos = start + size + 1
