"""The county's end of the demo: ingest into SQLite from the demo broker, the county desk with a
one-off password, and a robot-style webhook receiver whose messages the demo prints.

Imported only by ``kiosk demo`` and its tests (the ``county`` package is the other end of the
system; the kiosk itself never needs it).
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.uplink.localbroker import free_port

logger = logging.getLogger(__name__)

DESK_USER = "duty"  # the demo's handler on the desk


@dataclass
class CountySide:
    """Ingest + desk + webhook receiver on the demo's broker, all in ``workdir``."""

    workdir: Path
    broker_port: int
    desk_port: int | None = None
    on_webhook: Callable[[dict[str, Any]], None] = lambda _doc: None
    password: str = field(default_factory=lambda: secrets.token_urlsafe(9))
    config: Any = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _parts: list[Any] = field(default_factory=list)
    receiver: Any = None  # county.notify.receiver.WebhookReceiver
    desk_url: str = ""

    def build(self) -> Any:
        """Keys, config and the desk user; returns the county config (nothing started)."""
        from county.config import parse
        from county.desk.db import DeskDb
        from county.desk.users import add_user
        from county.store import open_store

        root = self.workdir / "county"
        root.mkdir(parents=True, exist_ok=True)
        for name in ("master.key", "identity.key"):
            path = root / name
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        from county.notify.receiver import WebhookReceiver

        self.receiver = WebhookReceiver(on_message=lambda m: self.on_webhook(m.doc)).start()
        hook = f"wecom {self.receiver.url}/cgi-bin/webhook/send"
        self.config = parse(
            {
                "county": {"id": "330106", "state_dir": str(root)},
                "broker": {
                    "host": "127.0.0.1",
                    "port": self.broker_port,
                    "topic_prefix": "county/demo",
                    "client_id": "demo-county-ingest",
                    "reconnect_max_s": 2,
                },
                "database": {"url": f"sqlite://{root / 'county.sqlite'}"},
                "desk": {"port": self.desk_port or free_port(), "cookie_secure": False},
                "notify": {"webhooks": [hook], "retry_max_s": 2.0, "poll_s": 0.2},
                "fleet": {"silent_after_s": 120, "check_every_s": 2},
                "trace": {
                    "master_key_file": str(root / "master.key"),
                    "identity_key_file": str(root / "identity.key"),
                },
            },
            source="demo",
        )
        store = open_store(self.config)
        store.open()
        store.close()
        db = DeskDb(self.config)
        add_user(db, DESK_USER, "handler", self.password, datetime.now(UTC))
        db.close()
        self.desk_url = f"http://127.0.0.1:{self.config.desk.port}"
        return self.config

    def kiosk_key(self, kiosk: str) -> bytes:
        """The subject key the county derives for ``kiosk`` (so tracing works in the demo)."""
        from county.trace import CountyKeys

        return CountyKeys.load(self.config).kiosk_key(kiosk)

    def start(self) -> CountySide:
        from county.app import build_desk
        from county.ingest.worker import Ingest
        from county.store import open_store

        assert self.config is not None and self.receiver is not None  # noqa: S101 - build()
        ingest = Ingest(self.config, open_store(self.config), self._stop)
        ingest.start()
        server, notifier, _db = build_desk(self.config, self._stop)
        notifier.start()
        server.start()
        self._parts = [ingest, notifier, server]
        return self

    def stored(self) -> dict[str, dict[str, Any]]:
        """The county's entries by id: what ingest committed."""
        path = Path(self.config.database.sqlite_path)
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT id, kiosk, seq, decision, reasons FROM entries").fetchall()
        return {
            r[0]: {"kiosk": r[1], "seq": r[2], "decision": r[3], "reasons": json.loads(r[4])}
            for r in rows
        }

    def stop(self) -> None:
        self._stop.set()
        ingest, notifier, server = self._parts or (None, None, None)
        if server is not None:
            server.stop()
        if notifier is not None:
            notifier.join(5)
        if ingest is not None:
            ingest.join(10)
        if self.receiver is not None:
            self.receiver.stop()
