-- Steps due at a time they were given: waiting ones (delays, throttles, prompts, child runs,
-- each woken by moving its due time) and retries (pending after an attempt). The runner claims
-- these before the rest, so under a backlog a timer still fires near its time instead of behind
-- every older due step (src/store/queue/steps.rs). Kept in lock-step with
-- ../sqlite/0012_timed_steps.sql.
CREATE INDEX steps_timed ON steps (due_at)
    WHERE state = 'waiting' OR (state = 'pending' AND attempt > 0);
