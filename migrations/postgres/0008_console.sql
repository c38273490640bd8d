-- The console's reads (src/store/overview.rs, RunFilter's q/since/until). Kept in lock-step with
-- ../sqlite/0008_console.sql.

-- Runs of one story, newest first (the runs list filtered by story; each story's last run).
CREATE INDEX runs_story ON runs (story_id, id);
-- Runs by stored status, newest first (failed runs from the front page).
CREATE INDEX runs_status ON runs (status, id);
-- Child runs of a run's steps (send_to_story).
CREATE INDEX runs_parent ON runs (parent_step_id) WHERE parent_step_id IS NOT NULL;
-- A run's entry event, the one payload search reads.
CREATE INDEX events_entry ON events (run_id) WHERE parent_id IS NULL;
-- Per-action step counts of one story over a time window.
CREATE INDEX steps_story_created ON steps (story_id, created_at);
-- Failures in the last hour (health page).
CREATE INDEX steps_failed ON steps (finished_at) WHERE state = 'failed';
-- The alert that started a run.
CREATE INDEX alert_deliveries_run ON alert_deliveries (run_id) WHERE run_id IS NOT NULL;
-- Prompts newest first.
CREATE INDEX prompts_created ON prompts (created_at);
