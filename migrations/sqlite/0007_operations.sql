-- Operating on runs (engine::operate): retrying a failed step, cancelling, re-running, answering
-- a prompt through the API, and the history of each.
-- Times are milliseconds since the Unix epoch. Kept in lock-step with ../postgres/0007_operations.sql.

-- A retry is a new step beside the failed one (kept as history); the unique index makes a step
-- retried at most once, even by two requests racing.
ALTER TABLE steps ADD COLUMN retry_of INTEGER;
CREATE UNIQUE INDEX steps_retry_of ON steps (retry_of) WHERE retry_of IS NOT NULL;

-- The run a re-run repeats (same entry event, a new run).
ALTER TABLE runs ADD COLUMN rerun_of TEXT;

-- How a prompt was answered: slack, link, api or console (who and when are `responder` and
-- `answered_at`). Listing prompts reads them by state, newest first.
ALTER TABLE prompts ADD COLUMN answered_via TEXT;
CREATE INDEX prompts_state ON prompts (state, created_at);

-- What people did to a run, and who: `details` is a JSON object.
CREATE TABLE run_history (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX run_history_run ON run_history (run_id, id);

-- Cancelled runs are finished too: retention prunes them like the others.
DROP INDEX runs_finished;
CREATE INDEX runs_finished ON runs (finished_at) WHERE status IN ('succeeded', 'failed', 'cancelled');
