-- Payload search's index, filled after the acknowledgement (src/search.rs, `SearchIndex`), so a
-- webhook pays only for queueing its entry event. Kept in lock-step with
-- ../postgres/0010_search_index.sql.

-- Entry events not yet in the index, queued by the insert itself whoever writes it: a search
-- scans these and asks the index for the rest, so its answer never waits for the indexer.
CREATE TABLE search_pending (
    event_id INTEGER PRIMARY KEY
);
CREATE TRIGGER search_pending_add AFTER INSERT ON events WHEN new.parent_id IS NULL
BEGIN
    INSERT INTO search_pending (event_id) VALUES (new.id);
END;
-- The history already stored is indexed in the background too.
INSERT INTO search_pending (event_id) SELECT id FROM events WHERE parent_id IS NULL;

-- The trigrams of each indexed entry event's JSON text (FTS5, contentless: the text stays in
-- `events`; rowid = the event's id). Only which events hold a trigram is kept (`detail=none`):
-- a search asks for the events holding every trigram of its text, and its `LIKE` over the
-- stored text decides, so the index changes a search's speed, never its answer. Segments are
-- merged by the indexer in small steps after each batch, not during an insert (`automerge` 0),
-- so no write holds SQLite's one writer for long.
CREATE VIRTUAL TABLE run_search USING fts5(
    payload, content = '', contentless_delete = 1, detail = none, tokenize = 'trigram'
);
INSERT INTO run_search (run_search, rank) VALUES ('automerge', 0);
