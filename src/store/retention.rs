//! [`Retention`]: pruning finished runs (with their steps, events, prompts and prompt links) and
//! old rule matches, a bounded batch per short transaction so the runner, which shares SQLite's
//! one writer, waits at most one batch.

use super::connection::SqlStore;
use super::sql::{add, in_list, OPEN, ROWS_PER_STATEMENT};
use super::Result;
use crate::run::Millis;
use sqlx::any::AnyArguments;
use sqlx::Row;
use std::future::Future;

/// Deleting what is past its retention, one bounded batch per call.
pub trait Retention {
    /// Deletes up to `limit` runs that finished (succeeded, failed or cancelled) before `cutoff`,
    /// with every row that belongs only to them (steps, events, prompts, prompt links, history,
    /// their entry events' place in payload search's queue and index), in one transaction;
    /// returns how many runs went. Kept whatever their age: a run whose dedupe key is still
    /// inside its window at `now` (the key lives on the run's row), and a child run whose parent
    /// step is still open (pending, running or waiting: it reads the child's status and last
    /// event when woken). Alerts, deliveries, windows and action state are never touched.
    fn prune_runs(
        &self,
        cutoff: Millis,
        now: Millis,
        limit: usize,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// Deletes up to `limit` rule matches whose event time is before `cutoff`; returns how many.
    fn prune_matches(
        &self,
        cutoff: Millis,
        limit: usize,
    ) -> impl Future<Output = Result<u64>> + Send;
}

impl Retention for SqlStore {
    async fn prune_runs(&self, cutoff: Millis, now: Millis, limit: usize) -> Result<u64> {
        // Each id is bound once per statement below: stay within the bind limits.
        let limit = limit.min(ROWS_PER_STATEMENT);
        let mut tx = self.begin().await?;
        // Oldest first, over the partial index on finished runs (migrations 0005, 0007).
        let ids: Vec<String> = sqlx::query(&format!(
            "SELECT r.id FROM runs r
             WHERE r.status IN ('succeeded', 'failed', 'cancelled') AND r.finished_at < $1
               AND (r.dedupe_expires_at IS NULL OR r.dedupe_expires_at <= $2)
               AND NOT EXISTS (SELECT 1 FROM steps p WHERE p.id = r.parent_step_id AND p.{OPEN})
             ORDER BY r.finished_at
             LIMIT $3"
        ))
        .bind(cutoff)
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(0);
        }
        let list = in_list(1, ids.len());
        for statement in [
            format!(
                "DELETE FROM prompt_links WHERE prompt_id IN
                 (SELECT id FROM prompts WHERE run_id IN ({list}))"
            ),
            format!("DELETE FROM prompts WHERE run_id IN ({list})"),
            format!("DELETE FROM run_history WHERE run_id IN ({list})"),
            // The entry events leave payload search's queue and index with them.
            format!(
                "DELETE FROM search_pending WHERE event_id IN
                 (SELECT id FROM events WHERE run_id IN ({list}) AND parent_id IS NULL)"
            ),
            format!(
                "DELETE FROM run_search WHERE {} IN
                 (SELECT id FROM events WHERE run_id IN ({list}) AND parent_id IS NULL)",
                self.inner.dialect.search_index_key()
            ),
            format!("DELETE FROM events WHERE run_id IN ({list})"),
            format!("DELETE FROM steps WHERE run_id IN ({list})"),
            format!("DELETE FROM runs WHERE id IN ({list})"),
        ] {
            let mut args = AnyArguments::default();
            for id in &ids {
                add(&mut args, id.as_str())?;
            }
            sqlx::query_with(&statement, args).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    async fn prune_matches(&self, cutoff: Millis, limit: usize) -> Result<u64> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM rule_matches WHERE id IN
             (SELECT id FROM rule_matches WHERE event_time < $1 ORDER BY event_time LIMIT $2)",
        )
        .bind(cutoff)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }
}
