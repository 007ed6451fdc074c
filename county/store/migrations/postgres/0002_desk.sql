-- The county desk: staff users, handled alerts, fleet alerts, webhook deliveries and the
-- append-only audit log of trace queries.
CREATE TABLE desk_users (
    name text PRIMARY KEY,
    role text NOT NULL CHECK (role IN ('viewer', 'handler', 'tracer')),
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE alert_acks (
    alert_key text PRIMARY KEY,
    handled_by text NOT NULL,
    handled_at timestamptz NOT NULL,
    note text NOT NULL
);
CREATE TABLE fleet_alerts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kiosk text NOT NULL,
    site text,
    kind text NOT NULL,
    raised_at timestamptz NOT NULL,
    last_seen timestamptz,
    cleared_at timestamptz
);
CREATE INDEX fleet_alerts_open ON fleet_alerts (kiosk, cleared_at);
CREATE TABLE deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_key text NOT NULL,
    hook text NOT NULL,
    alert_ts timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    state text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_at timestamptz NOT NULL,
    last_error text,
    sent_at timestamptz,
    body text NOT NULL,
    UNIQUE (alert_key, hook)
);
CREATE INDEX deliveries_due ON deliveries (hook, state, id);
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts timestamptz NOT NULL,
    who text NOT NULL,
    role text NOT NULL,
    kind text NOT NULL,
    query text NOT NULL,
    rows integer NOT NULL
);
-- (one line: a ';' at a line end ends a statement for the migration runner)
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE INDEX alerts_received ON alerts (received_at);
CREATE INDEX entries_site_ts ON entries (site, ts);
CREATE INDEX entries_subject ON entries (subject_hash);
