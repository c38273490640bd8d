-- Lost leases counted apart from attempts: a claim of a running step whose lease expired (its
-- worker died) adds to `lost_leases`, not `attempt`, so a crash never spends an action's retry
-- budget; the runner's poison limit bounds `lost_leases` instead.
-- Kept in lock-step with ../postgres/0004_lost_leases.sql.
ALTER TABLE steps ADD COLUMN lost_leases INTEGER NOT NULL DEFAULT 0;
