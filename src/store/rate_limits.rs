//! [`RateLimits`]: token buckets bound to credentials, in the database so every worker shares
//! one budget. The arithmetic is `ratelimit::take` (pure); this is its SQL edge.

use super::connection::SqlStore;
use super::Result;
use crate::ratelimit::{Bucket, Limit};
use crate::run::Millis;
use sqlx::{AnyConnection, Row};
use std::future::Future;

/// Rate limits bound to credentials: token buckets shared by every worker.
pub trait RateLimits {
    /// Takes a token from `key`'s bucket (with no `limit`, only checks whether the vendor said
    /// the budget is spent): `Ok` to go ahead, or the time to try again.
    fn take_token(
        &self,
        key: &str,
        limit: Option<Limit>,
        now: Millis,
    ) -> impl Future<Output = Result<std::result::Result<(), Millis>>> + Send;
    /// The vendor said `key`'s budget is spent until `until`.
    fn block_until(
        &self,
        key: &str,
        until: Millis,
        now: Millis,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The start of every bucket insert; each binds the columns in this order.
const INSERT_BUCKET: &str =
    "INSERT INTO rate_buckets (credential, tokens, refilled_at, blocked_until)";

impl RateLimits for SqlStore {
    async fn take_token(
        &self,
        key: &str,
        limit: Option<Limit>,
        now: Millis,
    ) -> Result<std::result::Result<(), Millis>> {
        let Some(limit) = limit else {
            // No budget of our own: only a vendor's "spent until" can hold the call.
            let blocked: Option<Millis> =
                sqlx::query_scalar("SELECT blocked_until FROM rate_buckets WHERE credential = $1")
                    .bind(key)
                    .fetch_optional(&self.inner.reader)
                    .await?;
            return Ok(match blocked {
                Some(until) if until > now => Err(until),
                _ => Ok(()),
            });
        };
        let mut tx = self.begin().await?;
        // The row must exist before it can be locked, or concurrent first takers would each
        // start from a full bucket.
        sqlx::query(&format!(
            "{INSERT_BUCKET} VALUES ($1, $2, $3, 0) ON CONFLICT (credential) DO NOTHING"
        ))
        .bind(key)
        .bind(f64::from(limit.requests))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // Workers taking from one bucket queue here instead of both spending a token.
        let for_update = self.inner.dialect.for_update();
        let sql = format!(
            "SELECT tokens, refilled_at, blocked_until FROM rate_buckets
             WHERE credential = $1 {for_update}"
        );
        let row = sqlx::query(&sql).bind(key).fetch_one(&mut *tx).await?;
        let bucket = Bucket {
            tokens: row.try_get("tokens")?,
            refilled_at: row.try_get("refilled_at")?,
            blocked_until: row.try_get("blocked_until")?,
        };
        let (bucket, taken) = crate::ratelimit::take(Some(bucket), limit, now);
        save_bucket(&mut tx, key, &bucket).await?;
        tx.commit().await?;
        Ok(taken)
    }

    async fn block_until(&self, key: &str, until: Millis, now: Millis) -> Result<()> {
        // A later block wins over an earlier one, whichever is recorded first.
        sqlx::query(&format!(
            "{INSERT_BUCKET} VALUES ($1, 0, $2, $3)
             ON CONFLICT (credential) DO UPDATE SET tokens = 0, refilled_at = $2,
                 blocked_until = CASE WHEN rate_buckets.blocked_until > $3
                                      THEN rate_buckets.blocked_until ELSE $3 END"
        ))
        .bind(key)
        .bind(now)
        .bind(until)
        .execute(&self.inner.writer)
        .await?;
        Ok(())
    }
}

/// Stores a bucket as `ratelimit::take` left it.
async fn save_bucket(conn: &mut AnyConnection, key: &str, bucket: &Bucket) -> Result<()> {
    sqlx::query(&format!(
        "{INSERT_BUCKET} VALUES ($1, $2, $3, $4)
         ON CONFLICT (credential) DO UPDATE SET tokens = excluded.tokens,
             refilled_at = excluded.refilled_at, blocked_until = excluded.blocked_until"
    ))
    .bind(key)
    .bind(bucket.tokens)
    .bind(bucket.refilled_at)
    .bind(bucket.blocked_until)
    .execute(conn)
    .await?;
    Ok(())
}
