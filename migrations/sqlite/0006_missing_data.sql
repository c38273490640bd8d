-- The paths of event data a step's templates found missing and rendered empty (a JSON array of
-- dotted paths), so an author sees why a field came out blank; NULL when nothing was missing.
-- Kept in lock-step with ../postgres/0006_missing_data.sql.
ALTER TABLE steps ADD COLUMN missing_data TEXT;
