"""The embedded store: one SQLite file in WAL mode, ``synchronous=FULL`` (acks follow commits)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from county.store.base import DESK_PURGE, Batch, KioskRow, Progress, StoreError, StoreRejected
from county.store.rows import (
    ALERT_COLUMNS,
    ENTRY_COLUMNS,
    alert_values,
    changed_runs,
    entry_values,
    group_runs,
    insert_sql,
    migrations,
    progress_of,
)
from kiosk.model import parse_utc, utc_iso

_INSERT_ENTRY = insert_sql("entries", ENTRY_COLUMNS, "?", "id")
_INSERT_ALERT = insert_sql("alerts", ALERT_COLUMNS, "?", "entry_id")
_KIOSK_LIST = (
    "SELECT k.kiosk, k.site, k.online, k.last_seen, k.backlog FROM kiosks k ORDER BY k.kiosk"
)


def _iso(value: object) -> object:
    return utc_iso(value) if isinstance(value, datetime) else value


class SqliteStore:
    """``Store`` on a SQLite file; several processes may share it (writes take turns)."""

    def __init__(self, path: Path, retention_days: int) -> None:
        self.path = path
        self._retention = timedelta(days=retention_days)
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        if self._conn is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._migrate(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot prepare {self.path}: {exc}") from exc
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            done = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
            for migration in migrations("sqlite"):
                if migration.version in done:
                    continue
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, datetime('now'))",
                    (migration.version, migration.name),
                )
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.open()
        assert self._conn is not None  # noqa: S101 - open() sets it or raises
        return self._conn

    def write(self, batch: Batch, now: datetime) -> None:
        db = self._db
        received = utc_iso(now)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                self._write(db, batch, received)
                db.execute("COMMIT")
            finally:
                if db.in_transaction:
                    db.execute("ROLLBACK")
        except (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError) as exc:
            raise StoreRejected(f"writing a batch to {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"writing a batch to {self.path}: {exc}") from exc

    def _write(self, db: sqlite3.Connection, batch: Batch, received: str) -> None:
        kiosks = batch.kiosks()
        db.executemany(
            "INSERT INTO kiosks (kiosk) VALUES (?) ON CONFLICT DO NOTHING", [(k,) for k in kiosks]
        )
        if batch.entries:
            rows = [tuple(map(_iso, entry_values(e, received))) for e in batch.entries]
            db.executemany(_INSERT_ENTRY, rows)
            held = self._runs(db, batch.entry_kiosks())
            for kiosk, runs in changed_runs(batch, held).items():
                db.execute("DELETE FROM seq_runs WHERE kiosk = ?", (kiosk,))
                db.executemany(
                    "INSERT INTO seq_runs (kiosk, lo, hi) VALUES (?, ?, ?)",
                    [(kiosk, lo, hi) for lo, hi in runs],
                )
            seen = {(e.kiosk, e.site) for e in batch.entries}
            db.executemany(
                "UPDATE kiosks SET site = ?, last_seen = ? WHERE kiosk = ?",
                [(site, received, kiosk) for kiosk, site in seen],
            )
        if batch.alerts:
            rows = [tuple(map(_iso, alert_values(a, received))) for a in batch.alerts]
            db.executemany(_INSERT_ALERT, rows)
        for s in batch.statuses:
            db.execute(
                "UPDATE kiosks SET site = ?, online = ?, version = ?, status_since = ?, "
                "last_seen = ? WHERE kiosk = ?",
                (s.site, int(s.online), s.version, _iso(s.since), received, s.kiosk),
            )
        for kiosk, st in batch.states:
            db.execute(
                "UPDATE kiosks SET backlog = ?, oldest_pending_age_s = ?, parked = ?, "
                "state_ts = ?, last_seen = ? WHERE kiosk = ?",
                (st.backlog, st.oldest_pending_age_s, st.parked, _iso(st.ts), received, kiosk),
            )
        if batch.quarantine:
            db.executemany(
                "INSERT INTO quarantine (received_at, topic, kiosk, reason, detail, size, payload)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (received, q.topic, q.kiosk, q.reason, q.detail, q.size, q.payload)
                    for q in batch.quarantine
                ],
            )

    @staticmethod
    def _runs(db: sqlite3.Connection, kiosks: list[str]) -> dict[str, list[tuple[int, int]]]:
        marks = ", ".join("?" for _ in kiosks)
        rows = db.execute(
            f"SELECT kiosk, lo, hi FROM seq_runs WHERE kiosk IN ({marks}) ORDER BY kiosk, lo",  # noqa: S608 - placeholders only
            kiosks,
        ).fetchall()
        return group_runs(rows)

    def progress(self, kiosks: list[str]) -> list[Progress]:
        try:
            held = self._runs(self._db, kiosks)
        except sqlite3.Error as exc:
            raise StoreError(f"reading progress from {self.path}: {exc}") from exc
        return [progress_of(k, held.get(k, [])) for k in kiosks]

    def kiosks(self) -> list[KioskRow]:
        try:
            rows = self._db.execute(_KIOSK_LIST).fetchall()
            held = group_runs(
                self._db.execute("SELECT kiosk, lo, hi FROM seq_runs ORDER BY kiosk, lo").fetchall()
            )
        except sqlite3.Error as exc:
            raise StoreError(f"reading kiosks from {self.path}: {exc}") from exc
        out = []
        for kiosk, site, online, last_seen, backlog in rows:
            p = progress_of(kiosk, held.get(kiosk, []))
            seen = parse_utc(last_seen) if last_seen else None
            out.append(
                KioskRow(
                    kiosk, site, bool(online), seen, p.last_seq, p.confirmed_seq, p.missing, backlog
                )
            )
        return out

    def purge(self, now: datetime) -> int:
        """Delete entries, alerts, quarantine and the desk's records of alerts (webhook
        deliveries, acknowledgements, cleared fleet alerts) older than the retention period."""
        cutoff = utc_iso(now - self._retention)
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                n = db.execute("DELETE FROM entries WHERE ts < ?", (cutoff,)).rowcount
                db.execute("DELETE FROM alerts WHERE ts < ?", (cutoff,))
                db.execute("DELETE FROM quarantine WHERE received_at < ?", (cutoff,))
                for sql in DESK_PURGE:
                    db.execute(sql.replace("%s", "?"), (cutoff,))
                db.execute("COMMIT")
            finally:
                if db.in_transaction:
                    db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise StoreError(f"purging {self.path}: {exc}") from exc
        return int(n)
