-- The county's signed lists for kiosks (county/lists.py, docs/county-pass.md §7): the
-- revocation register holds keyed hashes only, never a subject key or an ID number.
CREATE TABLE list_meta (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE revocations (
    entry BLOB PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('subject', 'pass')),
    issued_before INTEGER NOT NULL,
    reason TEXT NOT NULL,
    revoked_at TEXT NOT NULL,
    revoked_by TEXT NOT NULL
);
CREATE TABLE lists_published (
    list TEXT PRIMARY KEY CHECK (list IN ('revocations', 'trust')),
    issued_at INTEGER NOT NULL,
    payload BLOB NOT NULL
);
