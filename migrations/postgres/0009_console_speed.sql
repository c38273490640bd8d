-- The console at 100,000 runs and 1,000,000 steps (`warden bench console`). Kept in lock-step with
-- ../sqlite/0009_console_speed.sql.

-- A trigram index (pg_trgm) on the lowered JSON text of entry events: it answers
-- `RunFilter::q`'s `LOWER(payload) LIKE '%text%'` without reading every entry event. pg_trgm
-- ships with Postgres (contrib) and is a trusted extension, so the database owner can create
-- it; where it cannot be, the migration says so in a notice and the search scans entry events
-- as before.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX events_entry_trgm ON events USING gin (LOWER(payload) gin_trgm_ops)
        WHERE parent_id IS NULL;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'Payload search without a trigram index (pg_trgm: %).', SQLERRM;
END
$$;

-- Runs in a time range (the runs list's since/until; runs by story and status over 24 h): the
-- ids and what is counted come from the index, so a day of runs is not read row by row.
DROP INDEX runs_created;
CREATE INDEX runs_created ON runs (created_at, id, story_id, status);
-- A story's steps counted by action and state over 24 h (the story page), from the index alone.
DROP INDEX steps_story_created;
CREATE INDEX steps_story_created ON steps (story_id, created_at, action_id, state);
-- The queue's depth by state (the health page), from the index alone: open steps only.
CREATE INDEX steps_open ON steps (state) WHERE state IN ('pending', 'running', 'waiting');
-- Whether a run has a step that is not waiting (`runs::busy!`, which tells waiting runs from
-- running ones on every runs list): one probe into the pending and running steps, instead of
-- reading each of the run's steps or hashing every open step.
CREATE INDEX steps_busy ON steps (run_id) WHERE state IN ('pending', 'running');
