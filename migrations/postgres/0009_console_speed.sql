-- The console at 100,000 runs and 1,000,000 steps (`warden bench console`). Kept in lock-step with
-- ../sqlite/0009_console_speed.sql.

-- Runs in a time range (the runs list's since/until; runs by story and status over 24 h): the
-- ids and what is counted come from the index, so a day of runs is not read row by row.
DROP INDEX runs_created;
CREATE INDEX runs_created ON runs (created_at, id, story_id, status);
-- No new index follows a step's state: the runner changes it two or three times a step, and
-- three such indexes (story counts by state, open steps, busy runs) together cost the runner's
-- drain about a sixth of its speed (`warden bench runner`, SQLite). The story page, the health
-- page and the runs lists' waiting check meet their times with `steps_story_created`,
-- `steps_due` and `steps_run` as they are (`warden bench console`).
