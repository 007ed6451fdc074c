"""The desk's connection to the county database: SQLite or PostgreSQL behind one small class.

The desk reads what ingest wrote and writes only its own tables (users, handled alerts,
fleet alerts, deliveries, the audit log). SQL is written once with ``?`` placeholders; the
PostgreSQL side turns them into ``%s``. Times cross as aware ``datetime`` values: SQLite
keeps them as the same ISO text ingest writes (``kiosk.model.utc_iso``), PostgreSQL as
``timestamptz``. One connection per thread (waitress serves each request on one thread).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from county.config import Config, read_secret
from county.store import StoreError
from kiosk.model import parse_utc, utc_iso

Row = tuple[Any, ...]


class DeskDb:
    """Queries of the desk. ``rows()``/``execute()`` raise ``StoreError`` when the database
    cannot be reached; the next call reconnects. Constructing it does no I/O."""

    def __init__(self, config: Config) -> None:
        self.backend = config.database.backend
        self._url = config.database.url
        self._path: Path | None = config.database.sqlite_path if self.backend == "sqlite" else None
        self._password: str | None = None
        self._config = config
        self._local = threading.local()

    # -- connections ------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._path is not None:
            conn = sqlite3.connect(self._path, isolation_level=None, timeout=30.0)
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA foreign_keys = ON")
            return conn
        import psycopg

        if self._password is None:
            db = self._config.database
            secret = read_secret("database.password", db.password_file, db.password_credential)
            self._password = secret or ""
        try:
            return psycopg.connect(
                self._url,
                password=self._password or None,
                autocommit=True,
                connect_timeout=self._config.database.connect_timeout_s,
                application_name="county-desk",
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _sql(self, sql: str) -> str:
        return sql if self._path is not None else sql.replace("?", "%s")

    def _param(self, value: object) -> object:
        if self._path is not None and isinstance(value, datetime):
            return utc_iso(value)
        return value

    def _run(self, sql: str, params: Sequence[object]) -> Any:
        values = tuple(self._param(p) for p in params)
        try:
            return self._conn().execute(self._sql(sql), values)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"county database: {exc}") from exc
        except Exception as exc:
            if self._path is None and _is_connection_error(exc):
                self.close()
                raise StoreError(f"county database: {exc}") from exc
            raise

    # -- queries ----------------------------------------------------------------------------

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return [tuple(r) for r in self._run(sql, params).fetchall()]

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        row = self._run(sql, params).fetchone()
        return None if row is None else tuple(row)

    def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement (autocommit); the number of rows it changed."""
        return int(self._run(sql, params).rowcount)

    # -- values -----------------------------------------------------------------------------

    @staticmethod
    def ts(value: object) -> datetime | None:
        """A time read back from either database as an aware datetime (None stays None)."""
        if value is None:
            return None
        if isinstance(value, datetime):
            return value
        return parse_utc(str(value))

    @staticmethod
    def json_list(value: object) -> list[str]:
        """A JSON list column (TEXT in SQLite, jsonb in PostgreSQL) as a list of strings."""
        if value is None:
            return []
        loaded = json.loads(value) if isinstance(value, str | bytes) else value
        return [str(v) for v in loaded] if isinstance(loaded, list) else []


def _is_connection_error(exc: Exception) -> bool:
    import psycopg

    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
