-- The county desk: staff users, handled alerts, fleet alerts, webhook deliveries and the
-- append-only audit log of trace queries.
CREATE TABLE desk_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'handler', 'tracer')),
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE alert_acks (
    alert_key TEXT PRIMARY KEY,
    handled_by TEXT NOT NULL,
    handled_at TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE fleet_alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kiosk TEXT NOT NULL,
    site TEXT,
    kind TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    last_seen TEXT,
    cleared_at TEXT
);
CREATE INDEX fleet_alerts_open ON fleet_alerts (kiosk, cleared_at);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_key TEXT NOT NULL,
    hook TEXT NOT NULL,
    alert_ts TEXT NOT NULL,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at TEXT NOT NULL,
    last_error TEXT,
    sent_at TEXT,
    body TEXT NOT NULL,
    UNIQUE (alert_key, hook)
);
CREATE INDEX deliveries_due ON deliveries (hook, state, id);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    who TEXT NOT NULL,
    role TEXT NOT NULL,
    kind TEXT NOT NULL,
    query TEXT NOT NULL,
    rows INTEGER NOT NULL
);
-- (one line: a ';' at a line end ends a statement for the migration runner)
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
-- (one line: a ';' at a line end ends a statement for the migration runner)
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE INDEX alerts_received ON alerts (received_at);
CREATE INDEX entries_site_ts ON entries (site, ts);
CREATE INDEX entries_subject ON entries (subject_hash);
