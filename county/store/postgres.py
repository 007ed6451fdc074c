"""The production store: PostgreSQL through psycopg 3, entries partitioned by day.

Batches go through a per-connection staging table: ``COPY`` in, then one
``INSERT ... SELECT ... ON CONFLICT (id, ts) DO NOTHING``. Kiosk rows are locked in sorted
order at the start of each transaction, so workers that share a kiosk take turns on its
sequence runs and never deadlock on them. A lost connection is reopened on the next call.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg

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

_LOCK_MIGRATE = 0x636F756E7479  # pg_advisory_xact_lock keys ("county")
_LOCK_PARTITIONS = _LOCK_MIGRATE + 1
_COLS = ", ".join(ENTRY_COLUMNS)
_INSERT_ALERT = insert_sql("alerts", ALERT_COLUMNS, "%s", "entry_id")


def partition_name(day: date) -> str:
    return f"entries_p{day:%Y%m%d}"


class PostgresStore:
    """``Store`` on PostgreSQL; one connection, owned by the thread that calls it."""

    def __init__(
        self,
        url: str,
        password: str | None,
        retention_days: int,
        partitions_ahead: int = 3,
        connect_timeout_s: int = 5,
    ) -> None:
        self.url = url
        self._password = password
        self._retention_days = retention_days
        self._ahead = partitions_ahead
        self._timeout = connect_timeout_s
        self._conn: psycopg.Connection[Any] | None = None

    # -- connection -------------------------------------------------------------------------

    def open(self) -> None:
        if self._conn is not None and not self._conn.closed:
            return
        self._conn = None
        try:
            conn = psycopg.connect(
                self.url,
                password=self._password,
                connect_timeout=self._timeout,
                application_name="county-ingest",
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {_short(exc)}") from exc
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_MIGRATE,))
                self._migrate(conn)
            self.maintain(datetime.now(UTC), conn)
            conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS entries_stage AS "  # noqa: S608 - constant
                f"SELECT {_COLS} FROM entries WITH NO DATA"
            )
            conn.commit()
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"cannot prepare PostgreSQL: {_short(exc)}") from exc
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @staticmethod
    def _migrate(conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)"
        )
        done = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
        for migration in migrations("postgres"):
            if migration.version in done:
                continue
            for statement in migration.statements:
                conn.execute(statement.encode())
            conn.execute(
                "INSERT INTO schema_migrations VALUES (%s, %s, now())",
                (migration.version, migration.name),
            )

    def _db(self) -> psycopg.Connection[Any]:
        self.open()
        assert self._conn is not None  # noqa: S101 - open() sets it or raises
        return self._conn

    def _failed(self, exc: psycopg.Error, doing: str) -> StoreError:
        """Translate an error; a broken connection is dropped so the next call reconnects."""
        if self._conn is not None and (self._conn.closed or self._conn.broken):
            self._conn = None
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return StoreError(f"{doing}: {_short(exc)}")
        return StoreRejected(f"{doing}: {_short(exc)}")

    # -- partitions and retention -------------------------------------------------------------

    def maintain(self, now: datetime, conn: psycopg.Connection[Any] | None = None) -> None:
        """Create the day partitions from the retention cutoff to ``partitions_ahead`` days on.

        An entry whose day has no partition yet waits in ``entries_default``; creating that
        day moves it into the new partition in the same transaction.
        """
        db = conn or self._db()
        today = now.astimezone(UTC).date()
        days = [today + timedelta(days=d) for d in range(-self._retention_days, self._ahead + 1)]
        try:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_PARTITIONS,))
                existing = {r[0] for r in db.execute(_PARTITIONS)}
                for day in days:
                    if partition_name(day) not in existing:
                        _create_partition(db, day)
        except psycopg.Error as exc:
            raise self._failed(exc, "creating day partitions") from exc

    def purge(self, now: datetime) -> int:
        """Drop day partitions wholly past retention; trim the rest. Returns partitions dropped."""
        db = self._db()
        cutoff_day = now.astimezone(UTC).date() - timedelta(days=self._retention_days)
        cutoff = datetime.combine(cutoff_day, time(), UTC)
        dropped = 0
        try:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_PARTITIONS,))
                for (name,) in db.execute(_PARTITIONS).fetchall():
                    if datetime.strptime(name[-8:], "%Y%m%d").date() < cutoff_day:
                        db.execute(f'DROP TABLE "{name}"')
                        dropped += 1
                db.execute("DELETE FROM entries_default WHERE ts < %s", (cutoff,))
                db.execute("DELETE FROM alerts WHERE ts < %s", (cutoff,))
                db.execute("DELETE FROM quarantine WHERE received_at < %s", (cutoff,))
                for sql in DESK_PURGE:
                    db.execute(sql, (cutoff,))
        except psycopg.Error as exc:
            raise self._failed(exc, "purging past retention") from exc
        self.maintain(now)
        return dropped

    # -- batches ------------------------------------------------------------------------------

    def write(self, batch: Batch, now: datetime) -> None:
        db = self._db()
        try:
            with db.transaction():
                self._write(db, batch, now)
        except psycopg.Error as exc:
            raise self._failed(exc, "writing a batch") from exc

    def _write(self, db: psycopg.Connection[Any], batch: Batch, now: datetime) -> None:
        kiosks = batch.kiosks()
        with db.cursor() as cur:
            if kiosks:
                cur.execute(
                    "INSERT INTO kiosks (kiosk) SELECT k FROM unnest(%s::text[]) AS k ORDER BY k "
                    "ON CONFLICT DO NOTHING",
                    (kiosks,),
                )
                cur.execute(
                    "SELECT kiosk FROM kiosks WHERE kiosk = ANY(%s) ORDER BY kiosk FOR UPDATE",
                    (kiosks,),
                )
            if batch.entries:
                rows = sorted(entry_values(e, now) for e in batch.entries)
                with cur.copy(f"COPY entries_stage ({_COLS}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(
                    f"INSERT INTO entries ({_COLS}) SELECT {_COLS} FROM entries_stage "  # noqa: S608 - constant
                    "ORDER BY id ON CONFLICT (id, ts) DO NOTHING"
                )
                cur.execute("TRUNCATE entries_stage")
                cur.execute(
                    "SELECT kiosk, lo, hi FROM seq_runs WHERE kiosk = ANY(%s) ORDER BY kiosk, lo",
                    (batch.entry_kiosks(),),
                )
                held = group_runs(cur.fetchall())
                changed = changed_runs(batch, held)
                if changed:
                    cur.execute("DELETE FROM seq_runs WHERE kiosk = ANY(%s)", (sorted(changed),))
                    cur.executemany(
                        "INSERT INTO seq_runs (kiosk, lo, hi) VALUES (%s, %s, %s)",
                        [(k, lo, hi) for k, runs in sorted(changed.items()) for lo, hi in runs],
                    )
                seen = sorted({(e.kiosk, e.site) for e in batch.entries})
                cur.executemany(
                    "UPDATE kiosks SET site = %s, last_seen = %s WHERE kiosk = %s",
                    [(site, now, kiosk) for kiosk, site in seen],
                )
            if batch.alerts:
                cur.executemany(_INSERT_ALERT, [alert_values(a, now) for a in batch.alerts])
            if batch.statuses:
                cur.executemany(
                    "UPDATE kiosks SET site = %s, online = %s, version = %s, status_since = %s, "
                    "last_seen = %s WHERE kiosk = %s",
                    [(s.site, s.online, s.version, s.since, now, s.kiosk) for s in batch.statuses],
                )
            if batch.states:
                cur.executemany(
                    "UPDATE kiosks SET backlog = %s, oldest_pending_age_s = %s, parked = %s, "
                    "state_ts = %s, last_seen = %s WHERE kiosk = %s",
                    [
                        (st.backlog, st.oldest_pending_age_s, st.parked, st.ts, now, kiosk)
                        for kiosk, st in batch.states
                    ],
                )
            if batch.quarantine:
                cur.executemany(
                    "INSERT INTO quarantine (received_at, topic, kiosk, reason, detail, size, "
                    "payload) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (now, q.topic, q.kiosk, q.reason, q.detail, q.size, q.payload)
                        for q in batch.quarantine
                    ],
                )

    # -- reads --------------------------------------------------------------------------------

    def progress(self, kiosks: list[str]) -> list[Progress]:
        db = self._db()
        try:
            with db.transaction():
                rows = db.execute(
                    "SELECT kiosk, lo, hi FROM seq_runs WHERE kiosk = ANY(%s) ORDER BY kiosk, lo",
                    (kiosks,),
                ).fetchall()
        except psycopg.Error as exc:
            raise self._failed(exc, "reading progress") from exc
        held = group_runs(rows)
        return [progress_of(k, held.get(k, [])) for k in kiosks]

    def kiosks(self) -> list[KioskRow]:
        db = self._db()
        try:
            with db.transaction():
                rows = db.execute(
                    "SELECT kiosk, site, online, last_seen, backlog FROM kiosks ORDER BY kiosk"
                ).fetchall()
                runs = db.execute("SELECT kiosk, lo, hi FROM seq_runs ORDER BY kiosk, lo")
                held = group_runs(runs.fetchall())
        except psycopg.Error as exc:
            raise self._failed(exc, "reading kiosks") from exc
        out = []
        for kiosk, site, online, last_seen, backlog in rows:
            p = progress_of(kiosk, held.get(kiosk, []))
            out.append(
                KioskRow(
                    kiosk,
                    site,
                    bool(online),
                    last_seen,
                    p.last_seq,
                    p.confirmed_seq,
                    p.missing,
                    backlog,
                )
            )
        return out


_PARTITIONS = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'entries'::regclass AND c.relname LIKE 'entries\\_p%%' ORDER BY 1"
)


def _create_partition(db: psycopg.Connection[Any], day: date) -> None:
    name = partition_name(day)
    lo = datetime.combine(day, time(), UTC)
    hi = lo + timedelta(days=1)
    db.execute(f'CREATE TABLE "{name}" (LIKE entries INCLUDING DEFAULTS)')
    db.execute(
        f"WITH moved AS (DELETE FROM entries_default WHERE ts >= %s AND ts < %s RETURNING *) "  # noqa: S608 - name from a date
        f'INSERT INTO "{name}" SELECT * FROM moved',
        (lo, hi),
    )
    db.execute(
        f"ALTER TABLE entries ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{lo.isoformat()}') "
        f"TO ('{hi.isoformat()}')"
    )


def _short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
