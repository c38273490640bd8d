-- The detection stage: dedup windows, alerts, rule matches, alert deliveries, source checkpoints
-- and scheduled-query runs. Times are milliseconds since the Unix epoch.
-- Kept in lock-step with ../postgres/0002_detection.sql.

-- One row per (rule, dedup string): Panther's alert-merger row. `alert_count` numbers the windows
-- (it is part of the alert id); `first_match` holds the window's generated fields (title,
-- severity, context), kept from its first match until the threshold is crossed.
CREATE TABLE alert_windows (
    rule_id TEXT NOT NULL,
    dedup TEXT NOT NULL,
    alert_count INTEGER NOT NULL,
    alert_id TEXT NOT NULL,
    event_count INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    alerted INTEGER NOT NULL,
    first_match TEXT NOT NULL,
    PRIMARY KEY (rule_id, dedup)
);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    alert_type TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    dedup TEXT NOT NULL,
    log_types TEXT NOT NULL,
    event_count INTEGER NOT NULL,
    notification TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX alerts_created ON alerts (created_at);

CREATE TABLE rule_matches (
    id INTEGER PRIMARY KEY,
    rule_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    log_type TEXT NOT NULL,
    event_time INTEGER NOT NULL,
    event TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX rule_matches_rule_time ON rule_matches (rule_id, event_time);
CREATE INDEX rule_matches_alert ON rule_matches (alert_id);

CREATE TABLE alert_deliveries (
    id INTEGER PRIMARY KEY,
    alert_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    run_id TEXT,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX alert_deliveries_once ON alert_deliveries (alert_id, destination);
CREATE INDEX alert_deliveries_due ON alert_deliveries (due_at) WHERE state = 'pending';

CREATE TABLE source_checkpoints (
    source TEXT PRIMARY KEY,
    checkpoint TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE scheduled_query_runs (
    query_name TEXT PRIMARY KEY,
    last_run_at INTEGER NOT NULL
);
