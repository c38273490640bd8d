//! [`SearchIndex`]: moving queued entry events into payload search's index (migration 0010), a
//! small batch per short transaction. A trigger queues every entry event as it is inserted
//! (`search_pending`); searches read the index and the queue together (`runs::search`), so how
//! far behind the indexer is changes a search's speed, never its answer.

use super::connection::SqlStore;
use super::sql::{add, in_list, ROWS_PER_STATEMENT};
use super::Result;
use sqlx::any::AnyArguments;
use sqlx::Row;
use std::future::Future;

/// Filling the search index.
pub trait SearchIndex {
    /// Adds up to `limit` queued entry events to the search index, oldest first, and takes them
    /// off the queue, in one transaction (on SQLite, one small merge step of the index follows in
    /// a transaction of its own); returns how many were taken. Several processes may index at
    /// once on Postgres: each takes events the others have not locked.
    fn index_queued_entries(&self, limit: usize) -> impl Future<Output = Result<usize>> + Send;
    /// How many entry events wait for the indexer, the newest one's id, and how many of them are
    /// newer than `since` (the newest id seen at an earlier look; none counts none).
    fn search_queue(&self, since: Option<i64>) -> impl Future<Output = Result<SearchQueue>> + Send;
    /// Brings the database's statistics on the queue up to date (Postgres), after the indexer
    /// drained a backlog: planned from stale ones, a search would expect thousands of queued
    /// events and plan for them.
    fn analyze_queue(&self) -> impl Future<Output = Result<()>> + Send;
}

impl SearchIndex for SqlStore {
    async fn index_queued_entries(&self, limit: usize) -> Result<usize> {
        let dialect = self.inner.dialect;
        // Asked of a reader first, so an empty queue costs SQLite's writer nothing.
        let queued = sqlx::query("SELECT event_id FROM search_pending LIMIT 1")
            .fetch_optional(&self.inner.reader)
            .await?;
        if queued.is_none() {
            return Ok(0);
        }
        let limit = limit.clamp(1, ROWS_PER_STATEMENT);
        let mut tx = self.begin().await?;
        let ids: Vec<i64> = sqlx::query(&format!(
            "SELECT event_id FROM search_pending ORDER BY event_id LIMIT $1 {}",
            dialect.skip_locked()
        ))
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(0);
        }
        let list = in_list(1, ids.len());
        for statement in [
            dialect.search_index_insert().replace("{ids}", &list),
            format!("DELETE FROM search_pending WHERE event_id IN ({list})"),
        ] {
            let mut args = AnyArguments::default();
            for id in &ids {
                add(&mut args, *id)?;
            }
            sqlx::query_with(&statement, args).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        if let Some(upkeep) = dialect.search_index_upkeep() {
            sqlx::query(upkeep).execute(&self.inner.writer).await?;
        }
        Ok(ids.len())
    }

    async fn analyze_queue(&self) -> Result<()> {
        if let Some(analyze) = self.inner.dialect.analyze("search_pending") {
            sqlx::query(&analyze).execute(&self.inner.writer).await?;
        }
        Ok(())
    }

    async fn search_queue(&self, since: Option<i64>) -> Result<SearchQueue> {
        let row = sqlx::query(
            "SELECT COUNT(*), MAX(event_id),
                    COALESCE(SUM(CASE WHEN event_id > $1 THEN 1 ELSE 0 END), 0)
             FROM search_pending",
        )
        .bind(since.unwrap_or(i64::MAX))
        .fetch_one(&self.inner.reader)
        .await?;
        let count =
            |column: usize| -> Result<u64> { Ok(row.try_get::<i64, _>(column)?.max(0) as u64) };
        Ok(SearchQueue {
            queued: count(0)?,
            newest: row.try_get(1)?,
            arrived: count(2)?,
        })
    }
}

/// What waits for the indexer: see [`SearchIndex::search_queue`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchQueue {
    /// Entry events queued.
    pub queued: u64,
    /// The newest one's id.
    pub newest: Option<i64>,
    /// How many are newer than the id asked about (none when none was given).
    pub arrived: u64,
}
