-- Console sessions that were signed out, until they would have expired (src/store/sessions.rs).
-- A live session is a signed cookie stored nowhere; a copy of it kept after sign-out must stop
-- working in every process, and after a restart. Kept in lock-step with
-- ../postgres/0011_signed_out_sessions.sql.
CREATE TABLE signed_out_sessions (
    id TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
-- Sessions past their expiry are forgotten at each sign-out: the cookie check refuses them anyway.
CREATE INDEX signed_out_sessions_expiry ON signed_out_sessions (expires_at);
