"""The county's list register in the county database (SQLite or PostgreSQL, migration 0003):
revocations as keyed hashes, the list salt, and the last list of each kind as signed. Every
change and the signing that follows it run in one locked transaction, so two ``county revoke``
at once cannot publish lists with the same issue time or lose an entry."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from county.config import Config, read_secret
from county.store import StoreError, open_store

_LOCK_LISTS = 0x4C495354  # "LIST": PostgreSQL advisory lock of the register


class _Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Tx:
    """One transaction on the register; ``?`` placeholders on both backends."""

    def __init__(self, run: Callable[[str, tuple[Any, ...]], _Cursor]) -> None:
        self._run = run

    def salt(self, new: bytes) -> bytes:
        """The register's salt, ``new`` the first time."""
        self._run("INSERT INTO list_meta VALUES ('salt', ?) ON CONFLICT (name) DO NOTHING", (new,))
        return bytes(self._run("SELECT value FROM list_meta WHERE name = 'salt'", ()).fetchone()[0])

    def add(self, entry: bytes, kind: str, issued_before: int, reason: str, at: str,
            by: str) -> None:  # fmt: skip
        """Revoke ``entry``; revoking again keeps the later ``issued_before``."""
        self._run(
            "INSERT INTO revocations VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (entry) DO UPDATE SET "
            "issued_before = CASE WHEN excluded.issued_before > revocations.issued_before "
            "THEN excluded.issued_before ELSE revocations.issued_before END, "
            "reason = excluded.reason, revoked_at = excluded.revoked_at, "
            "revoked_by = excluded.revoked_by",
            (entry, kind, issued_before, reason, at, by),
        )

    def entries(self) -> dict[bytes, int]:
        rows = self._run("SELECT entry, issued_before FROM revocations", ()).fetchall()
        return {bytes(k): int(v) for k, v in rows}

    def last_issued(self, name: str) -> int | None:
        row = self._run("SELECT issued_at FROM lists_published WHERE list = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def keep(self, name: str, issued_at: int, payload: bytes) -> None:
        self._run(
            "INSERT INTO lists_published VALUES (?, ?, ?) ON CONFLICT (list) DO UPDATE SET "
            "issued_at = excluded.issued_at, payload = excluded.payload",
            (name, issued_at, payload),
        )


@contextmanager
def transaction(config: Config) -> Iterator[Tx]:
    """Bring the database's schema up to date (the store's migrations), then one locked
    transaction; committed when the block ends, rolled back on any exception."""
    store = open_store(config)
    store.open()  # migrates, 0003 included
    store.close()
    db = config.database
    if db.backend == "sqlite":
        with _sqlite(config) as tx:
            yield tx
    else:
        password = read_secret("database.password", db.password_file, db.password_credential)
        with _postgres(db.url, password, db.connect_timeout_s) as tx:
            yield tx


@contextmanager
def _sqlite(config: Config) -> Iterator[Tx]:
    path = config.database.sqlite_path
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the list register in {path}: {exc}") from exc
    try:
        yield Tx(lambda sql, args: conn.execute(sql, args))
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(f"list register in {path}: {exc}") from exc
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


@contextmanager
def _postgres(url: str, password: str | None, timeout_s: int) -> Iterator[Tx]:
    import psycopg

    try:
        conn = psycopg.connect(url, password=password, connect_timeout=timeout_s,
                               application_name="county-lists")  # fmt: skip
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_LISTS,))
            yield Tx(lambda sql, args: conn.execute(sql.replace("?", "%s").encode(), args))
    except psycopg.Error as exc:
        raise StoreError(f"list register in PostgreSQL: {exc}") from exc
    finally:
        conn.close()
