-- The county's signed lists for kiosks (county/lists.py, docs/county-pass.md §7): the
-- revocation register holds keyed hashes only, never a subject key or an ID number.
CREATE TABLE list_meta (
    name text PRIMARY KEY,
    value bytea NOT NULL
);
CREATE TABLE revocations (
    entry bytea PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('subject', 'pass')),
    issued_before bigint NOT NULL,
    reason text NOT NULL,
    revoked_at text NOT NULL,
    revoked_by text NOT NULL
);
CREATE TABLE lists_published (
    list text PRIMARY KEY CHECK (list IN ('revocations', 'trust')),
    issued_at bigint NOT NULL,
    payload bytea NOT NULL
);
