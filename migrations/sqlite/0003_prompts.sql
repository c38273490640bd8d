-- Prompts: a question waiting for a person, answered once (Slack button or single-use URL);
-- and the rate-limit buckets of credentials.
-- Times are milliseconds since the Unix epoch. Kept in lock-step with ../postgres/0003_prompts.sql.

-- `id` is random and unguessable; Slack buttons carry it. `responders` lists the Slack user ids
-- allowed to answer (empty: anyone who can see the message).
CREATE TABLE prompts (
    id TEXT PRIMARY KEY,
    step_id INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    story_id TEXT NOT NULL,
    action_id TEXT NOT NULL,
    choices TEXT NOT NULL,
    responders TEXT NOT NULL,
    slack_channel TEXT,
    slack_ts TEXT,
    state TEXT NOT NULL,
    answer TEXT,
    responder TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    answered_at INTEGER
);
CREATE UNIQUE INDEX prompts_step ON prompts (step_id);

-- Single-use answer URLs: only the SHA-256 of each URL's token is kept, so the database alone
-- answers nothing.
CREATE TABLE prompt_links (
    token_hash TEXT PRIMARY KEY,
    prompt_id TEXT NOT NULL,
    answer TEXT NOT NULL
);

-- Token buckets of rate limits bound to credentials, shared by every worker.
CREATE TABLE rate_buckets (
    credential TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    refilled_at INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL
);
