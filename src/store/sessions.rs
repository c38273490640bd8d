//! [`Sessions`]: the console sessions that were signed out. A session is a signed cookie that
//! names a random id and its expiry; nothing is stored while it lives. Signing out records the id
//! until the session would have expired, and every request's cookie check asks whether its id
//! was recorded, so a copy of the cookie stops working everywhere: in every process sharing the
//! database, and after a restart.

use super::connection::SqlStore;
use super::Result;
use crate::run::Millis;
use std::future::Future;

/// Signed-out console sessions.
pub trait Sessions {
    /// Records that session `id`, valid until `expires_at`, was signed out, and forgets the
    /// sessions recorded earlier that have expired by `now` (their cookies are refused anyway).
    fn sign_out_session(
        &self,
        id: &str,
        expires_at: Millis,
        now: Millis,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Whether session `id` was signed out (one lookup by primary key).
    fn session_signed_out(&self, id: &str) -> impl Future<Output = Result<bool>> + Send;
}

impl Sessions for SqlStore {
    async fn sign_out_session(&self, id: &str, expires_at: Millis, now: Millis) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM signed_out_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO signed_out_sessions (id, expires_at) VALUES ($1, $2)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_signed_out(&self, id: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM signed_out_sessions WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.inner.reader)
                .await?
                .is_some(),
        )
    }
}
