-- The console at 100,000 runs and 1,000,000 steps (`warden bench console`). Kept in lock-step with
-- ../postgres/0009_console_speed.sql.

-- A trigram index of every entry event's JSON text (FTS5, contentless: the text stays in
-- `events` only). `RunFilter::q` asks it for the events that may contain the text, then checks
-- those with the same `LIKE` as before, so results are unchanged; text shorter than three
-- characters has no trigram and is searched by scanning, as before.
CREATE VIRTUAL TABLE events_entry_search USING fts5(
    payload, content = '', contentless_delete = 1, tokenize = 'trigram'
);
INSERT INTO events_entry_search (rowid, payload)
    SELECT id, payload FROM events WHERE parent_id IS NULL;
CREATE TRIGGER events_entry_search_add AFTER INSERT ON events WHEN new.parent_id IS NULL
BEGIN
    INSERT INTO events_entry_search (rowid, payload) VALUES (new.id, new.payload);
END;
CREATE TRIGGER events_entry_search_remove AFTER DELETE ON events WHEN old.parent_id IS NULL
BEGIN
    DELETE FROM events_entry_search WHERE rowid = old.id;
END;

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
