"""County test helpers: throwaway PostgreSQL databases and instances, configs, kiosk messages."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from werkzeug.security import generate_password_hash

from county.config import Config, parse
from county.store import Batch, Store, open_store
from kiosk.model import Entry, Outcome
from kiosk.uplink.localbroker import free_port
from kiosk.uplink.wire import TopicRef, parse_message
from tests.web_support import csrf_from

#: The machine's PostgreSQL (trust auth on loopback); scripts/bootstrap.sh installs it.
PG_ADMIN_URL = os.environ.get("COUNTY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
#: The newest installed PostgreSQL server binaries (Debian: /usr/lib/postgresql/<major>/bin).
PG_BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin"),
    key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    default=Path("/usr/lib/postgresql/15/bin"),
)


def _with_db(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


@contextmanager
def pg_database(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A database with a unique name, dropped afterwards; yields its URL."""
    name = f"county_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_db(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PrivatePostgres:
    """A PostgreSQL instance of its own (``initdb`` in a temp dir, a free loopback port), so a
    test may stop and restart it without touching the machine's server. Run as user postgres
    when the tests run as root (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="county-pg-"))
        self.dir = self.workdir / "data"
        self.port = free_port()
        self.log = self.workdir / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def init(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres")
        self._run("initdb", "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        return self.start()

    def start(self) -> PrivatePostgres:
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1"
            f" -c unix_socket_directories={self.workdir} -c fsync=on -c shared_buffers=32MB"
        )
        self._run("pg_ctl", "-D", str(self.dir), "-l", str(self.log), "-o", opts, "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> PrivatePostgres:
        return self.init()

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.workdir, ignore_errors=True)


def county_dict(
    state_dir: Path, port: int, database_url: str, **sections: dict[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "county": {"id": "330106", "state_dir": str(state_dir)},
        "broker": {"host": "127.0.0.1", "port": port, "topic_prefix": "county/demo"},
        "database": {"url": database_url},
    }
    for name, table in sections.items():
        values.setdefault(name, {}).update(table)
    return values


def county_config(state_dir: Path, port: int, database_url: str, **sections: Any) -> Config:
    return parse(county_dict(state_dir, port, database_url, **sections), source="test")


def sqlite_url(path: Path) -> str:
    return f"sqlite://{path}"


def entry(kiosk: str, seq: int, site: str = "fanzhuang", **fields: Any) -> Entry:
    """A committed-looking entry of ``kiosk`` with ``seq``."""
    return Entry.new(kiosk, site, Outcome.PASS, ("code.green",), **fields).with_seq(seq)


def county_popen(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``python -m county ARGS`` with its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "county", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def county_cmd(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "county", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_entries(store: Store, entries: list[Entry], now: datetime | None = None) -> None:
    """Commit ``entries`` (and the alerts they raise) as ingest would: one ``Batch``."""
    batch = Batch()
    for e in entries:
        batch.entries.append(parse_message(TopicRef(e.kiosk, "entries"), e.entry_message()))  # type: ignore[arg-type]
        if e.alert_reasons:
            alert = parse_message(TopicRef(e.kiosk, "alerts"), e.alert_message())
            batch.alerts.append(alert)  # type: ignore[arg-type]
    store.write(batch, now or datetime.now(UTC))


def desk_login(port: int, user: str, password: str, source: str | None = None) -> str:
    """Log in to the desk over plain HTTP, as a browser would; the session cookie pair."""
    bind = None if source is None else (source, 0)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=bind)
    try:
        conn.request("GET", "/login")
        page = conn.getresponse()
        cookie = (page.getheader("Set-Cookie") or "").split(";", 1)[0]
        token = csrf_from(page.read().decode())
        form = urllib.parse.urlencode({"user": user, "password": password, "csrf_token": token})
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        conn.request("POST", "/login", body=form, headers=headers)
        answer = conn.getresponse()
        answer.read()
    finally:
        conn.close()
    if answer.status != 303:
        raise RuntimeError(f"desk login failed: HTTP {answer.status}")
    return (answer.getheader("Set-Cookie") or "").split(";", 1)[0]


DESK_PASSWORD = "correct horse battery"
#: pbkdf2 is quicker to check than the desk's scrypt: the tests need many logins.
DESK_PASSWORD_HASH = generate_password_hash(DESK_PASSWORD, method="pbkdf2:sha256:1000")
DESK_USERS = (("vera", "viewer"), ("hank", "handler"), ("tina", "tracer"))


@dataclass
class RunningDesk:
    """``county web``'s parts (``county.app.build_desk``) serving on a free loopback port."""

    config: Config
    store: Store
    db: Any  # county.desk.db.DeskDb
    server: Any  # kiosk.web.server.WebServer
    notifier: Any  # county.notify.worker.Notifier
    stop: threading.Event

    @property
    def port(self) -> int:
        return int(self.server.port)


@contextmanager
def running_desk(
    state_dir: Path,
    database_url: str,
    *,
    start_notifier: bool = True,
    **sections: dict[str, Any],
) -> Iterator[RunningDesk]:
    """The desk (and, if ``start_notifier``, its notifier) on the database at ``database_url``
    with the users of ``DESK_USERS``; stopped and joined afterwards."""
    from county.app import build_desk
    from county.desk.users import add_user

    desk = {"port": free_port(), "cookie_secure": False, **sections.pop("desk", {})}
    config = county_config(state_dir, free_port(), database_url, desk=desk, **sections)
    stop = threading.Event()
    server, notifier, db = build_desk(config, stop)
    for name, role in DESK_USERS:
        add_user(db, name, role, DESK_PASSWORD, datetime.now(UTC))
        db.execute("UPDATE desk_users SET password_hash = ? WHERE name = ?",
                   (DESK_PASSWORD_HASH, name))  # fmt: skip
    store = open_store(config)
    store.open()
    if start_notifier:
        notifier.start()
    server.start()
    try:
        yield RunningDesk(config, store, db, server, notifier, stop)
    finally:
        stop.set()
        server.stop()
        notifier.join()
        store.close()
        db.close()
