"""Where the county keeps what it receives: one ``Store`` protocol, SQLite or PostgreSQL."""

from __future__ import annotations

from county.config import Config, read_secret
from county.store.base import (
    Batch,
    KioskRow,
    Progress,
    Quarantined,
    Store,
    StoreError,
    StoreRejected,
)

__all__ = [
    "Batch",
    "KioskRow",
    "Progress",
    "Quarantined",
    "Store",
    "StoreError",
    "StoreRejected",
    "open_store",
]


def open_store(config: Config) -> Store:
    """The configured store, not yet connected (``open()`` connects and migrates).

    psycopg is imported only when PostgreSQL is configured. Reads the database password.
    """
    db = config.database
    if db.backend == "sqlite":
        from county.store.sqlite import SqliteStore

        return SqliteStore(db.sqlite_path, db.retention_days)
    from county.store.postgres import PostgresStore

    password = read_secret("database.password", db.password_file, db.password_credential)
    return PostgresStore(
        db.url, password, db.retention_days, db.partitions_ahead, db.connect_timeout_s
    )
