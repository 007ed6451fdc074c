-- County store, SQLite: the embedded default (one file, WAL).
CREATE TABLE entries (
    id TEXT PRIMARY KEY,
    kiosk TEXT NOT NULL,
    site TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    decision TEXT NOT NULL,
    reasons TEXT NOT NULL,
    code_kind TEXT,
    code_status TEXT,
    masked_name TEXT,
    subject_hash TEXT,
    temperature_c REAL,
    temperature_state TEXT,
    policy_version TEXT,
    received_at TEXT NOT NULL
);
CREATE INDEX entries_kiosk_seq ON entries (kiosk, seq);
CREATE INDEX entries_ts ON entries (ts);
CREATE TABLE alerts (
    entry_id TEXT PRIMARY KEY,
    kiosk TEXT NOT NULL,
    site TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    decision TEXT NOT NULL,
    alerts TEXT NOT NULL,
    reasons TEXT NOT NULL,
    code_status TEXT,
    masked_name TEXT,
    temperature_c REAL,
    received_at TEXT NOT NULL
);
CREATE INDEX alerts_ts ON alerts (ts);
CREATE TABLE kiosks (
    kiosk TEXT PRIMARY KEY,
    site TEXT,
    online INTEGER,
    status_since TEXT,
    version TEXT,
    last_seen TEXT,
    backlog INTEGER,
    oldest_pending_age_s REAL,
    parked INTEGER,
    state_ts TEXT
);
CREATE TABLE seq_runs (
    kiosk TEXT NOT NULL,
    lo INTEGER NOT NULL,
    hi INTEGER NOT NULL,
    PRIMARY KEY (kiosk, lo)
);
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    topic TEXT NOT NULL,
    kiosk TEXT,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    size INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX quarantine_received ON quarantine (received_at);
