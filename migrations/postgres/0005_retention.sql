-- Retention (store::Retention): the prune looks for finished runs oldest first and deletes a
-- batch's prompts and prompt links by run and prompt, and rule matches by event time; without
-- these indexes each batch would scan its table while holding the writer.
-- Kept in lock-step with ../sqlite/0005_retention.sql.
CREATE INDEX runs_finished ON runs (finished_at) WHERE status IN ('succeeded', 'failed');
CREATE INDEX prompts_run ON prompts (run_id);
CREATE INDEX prompt_links_prompt ON prompt_links (prompt_id);
CREATE INDEX rule_matches_event_time ON rule_matches (event_time);
