-- Payload search's index, filled after the acknowledgement (src/search.rs, `SearchIndex`), so a
-- webhook pays only for queueing its entry event. Kept in lock-step with
-- ../sqlite/0010_search_index.sql.

-- Entry events not yet in the index, queued by the insert itself whoever writes it: a search
-- scans these and asks the index for the rest, so its answer never waits for the indexer. (A
-- queue rather than "ids above the last indexed": Postgres transactions commit out of id order.)
CREATE TABLE search_pending (
    event_id BIGINT PRIMARY KEY
);
CREATE FUNCTION search_pending_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_pending (event_id) VALUES (NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER search_pending_add AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.parent_id IS NULL) EXECUTE FUNCTION search_pending_add();
-- The history already stored is indexed in the background too.
INSERT INTO search_pending (event_id) SELECT id FROM events WHERE parent_id IS NULL;

-- Each indexed entry event's JSON text, lowered as a search lowers it (`LOWER(payload)`), so a
-- search compares it without lowering every payload again, with a trigram index (pg_trgm) that
-- answers its `LIKE '%text%'`. pg_trgm ships with Postgres (contrib, in Debian's server package)
-- and is a trusted extension, so the database owner can create it; where it cannot be, the
-- migration says so in a notice and searches scan this table, still without lowering anything.
CREATE TABLE run_search (
    event_id BIGINT PRIMARY KEY,
    run_id TEXT NOT NULL,
    text TEXT NOT NULL
);
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX run_search_trgm ON run_search USING gin (text gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'Payload search without a trigram index (pg_trgm: %).', SQLERRM;
END
$$;
