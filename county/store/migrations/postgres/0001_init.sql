-- County store, PostgreSQL: entries partitioned by day of the entry's time; retention drops
-- whole partitions. The primary key must hold the partition key, so it is (id, ts): ts is part
-- of the entry (a re-delivery carries the same ts), so this is as unique as id alone.
CREATE TABLE entries (
    id uuid NOT NULL,
    kiosk text NOT NULL,
    site text NOT NULL,
    seq bigint NOT NULL,
    ts timestamptz NOT NULL,
    decision text NOT NULL,
    reasons jsonb NOT NULL,
    code_kind text,
    code_status text,
    masked_name text,
    subject_hash text,
    temperature_c double precision,
    temperature_state text,
    policy_version text,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (id, ts)
) PARTITION BY RANGE (ts);
-- entries far outside the day partitions (a kiosk clock years off) land here, never lost
CREATE TABLE entries_default PARTITION OF entries DEFAULT;
CREATE INDEX entries_kiosk_seq ON entries (kiosk, seq);
CREATE TABLE alerts (
    entry_id uuid PRIMARY KEY,
    kiosk text NOT NULL,
    site text NOT NULL,
    seq bigint NOT NULL,
    ts timestamptz NOT NULL,
    decision text NOT NULL,
    alerts jsonb NOT NULL,
    reasons jsonb NOT NULL,
    code_status text,
    masked_name text,
    temperature_c double precision,
    received_at timestamptz NOT NULL
);
CREATE INDEX alerts_ts ON alerts (ts);
CREATE TABLE kiosks (
    kiosk text PRIMARY KEY,
    site text,
    online boolean,
    status_since timestamptz,
    version text,
    last_seen timestamptz,
    backlog integer,
    oldest_pending_age_s double precision,
    parked integer,
    state_ts timestamptz
);
CREATE TABLE seq_runs (
    kiosk text NOT NULL,
    lo bigint NOT NULL,
    hi bigint NOT NULL,
    PRIMARY KEY (kiosk, lo)
);
CREATE TABLE quarantine (
    id bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL,
    topic text NOT NULL,
    kiosk text,
    reason text NOT NULL,
    detail text NOT NULL,
    size integer NOT NULL,
    payload bytea NOT NULL
);
CREATE INDEX quarantine_received ON quarantine (received_at);
