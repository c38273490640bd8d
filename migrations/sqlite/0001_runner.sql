-- The durable runner: story versions, runs, events, steps and per-action state.
-- Times are milliseconds since the Unix epoch. Kept in lock-step with ../postgres/0001_runner.sql.

CREATE TABLE story_versions (
    story_id TEXT NOT NULL,
    version TEXT NOT NULL,
    source TEXT NOT NULL,
    templates TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (story_id, version)
);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL,
    story_version TEXT NOT NULL,
    status TEXT NOT NULL,
    dedupe_key TEXT,
    dedupe_expires_at INTEGER,
    parent_step_id INTEGER,
    open_steps INTEGER NOT NULL,
    failed_steps INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE UNIQUE INDEX runs_dedupe ON runs (story_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX runs_created ON runs (created_at);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    parent_id INTEGER,
    step_id INTEGER,
    action_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    link TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX events_run ON events (run_id, id);
CREATE INDEX events_step ON events (step_id, seq);

CREATE TABLE steps (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    story_id TEXT NOT NULL,
    story_version TEXT NOT NULL,
    run_started_at INTEGER NOT NULL,
    action_id TEXT NOT NULL,
    input_event_id INTEGER,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    lease_token INTEGER NOT NULL,
    lease_owner TEXT,
    due_at INTEGER NOT NULL,
    wait TEXT,
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX steps_due ON steps (due_at) WHERE state IN ('pending', 'running', 'waiting');
CREATE INDEX steps_run ON steps (run_id, id);

CREATE TABLE action_state (
    story_id TEXT NOT NULL,
    action_id TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (story_id, action_id, key)
);
