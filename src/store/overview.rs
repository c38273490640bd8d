//! [`Overview`]: the console's read side. Counts and cross-references the console pages show
//! (runs by status per story, steps by state per action, a run's parent, children and alert, an
//! alert's matched events, the pollers' checkpoints); nothing here writes.
//! Indexes for these reads are in migration 0008.

use super::connection::SqlStore;
use super::Result;
use crate::run::Millis;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::future::Future;

/// How many rows of one kind a status (or state) has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// What is counted: a story id or an action id.
    pub key: String,
    /// The stored status or state name (`running`, `succeeded`, …).
    pub state: String,
    /// How many.
    pub count: i64,
}

/// The console's reads.
pub trait Overview {
    /// Runs created since `since`, counted by story and stored status.
    fn run_counts(&self, since: Millis) -> impl Future<Output = Result<Vec<Count>>> + Send;
    /// The newest run of each of `story_ids` that has one: `(story_id, run_id, status,
    /// created_at)`.
    fn last_runs(
        &self,
        story_ids: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String, String, Millis)>>> + Send;
    /// A story's steps created since `since`, counted by action and state.
    fn step_counts(
        &self,
        story_id: &str,
        since: Millis,
    ) -> impl Future<Output = Result<Vec<Count>>> + Send;
    /// The run whose step started `run_id` (`send_to_story`), if any.
    fn parent_run(&self, run_id: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Runs started by `run_id`'s steps, oldest first: `(run_id, story_id, status)`.
    fn child_runs(
        &self,
        run_id: &str,
    ) -> impl Future<Output = Result<Vec<(String, String, String)>>> + Send;
    /// The alert whose delivery started `run_id`, if any.
    fn run_alert(&self, run_id: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Up to `limit` events an alert matched, oldest first.
    fn alert_matches(
        &self,
        alert_id: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Value>>> + Send;
    /// Steps that failed since `since`.
    fn failed_steps_since(&self, since: Millis) -> impl Future<Output = Result<i64>> + Send;
    /// Every source checkpoint with when it last moved: `(source, updated_at)`.
    fn checkpoints(&self) -> impl Future<Output = Result<Vec<(String, Millis)>>> + Send;
}

impl Overview for SqlStore {
    async fn run_counts(&self, since: Millis) -> Result<Vec<Count>> {
        // The ordered subquery keeps SQLite on `runs_created` (a range of recent runs) instead of
        // scanning every run through `runs_story` to save the grouping sort.
        let rows = sqlx::query(
            "SELECT story_id, status, COUNT(*) AS n
             FROM (SELECT story_id, status FROM runs WHERE created_at >= $1 ORDER BY created_at)
                  AS recent
             GROUP BY story_id, status",
        )
        .bind(since)
        .fetch_all(&self.inner.reader)
        .await?;
        counts(&rows, "story_id", "status")
    }

    async fn last_runs(
        &self,
        story_ids: &[String],
    ) -> Result<Vec<(String, String, String, Millis)>> {
        // One index probe per story (`runs_story`), never a scan of the runs.
        let mut last = Vec::with_capacity(story_ids.len());
        for story in story_ids {
            let row = sqlx::query(
                "SELECT id, status, created_at FROM runs WHERE story_id = $1
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(story)
            .fetch_optional(&self.inner.reader)
            .await?;
            if let Some(row) = row {
                last.push((
                    story.clone(),
                    row.try_get("id")?,
                    row.try_get("status")?,
                    row.try_get("created_at")?,
                ));
            }
        }
        Ok(last)
    }

    async fn step_counts(&self, story_id: &str, since: Millis) -> Result<Vec<Count>> {
        let rows = sqlx::query(
            "SELECT action_id, state, COUNT(*) AS n FROM steps
             WHERE story_id = $1 AND created_at >= $2 GROUP BY action_id, state",
        )
        .bind(story_id)
        .bind(since)
        .fetch_all(&self.inner.reader)
        .await?;
        counts(&rows, "action_id", "state")
    }

    async fn parent_run(&self, run_id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT s.run_id FROM runs r JOIN steps s ON s.id = r.parent_step_id WHERE r.id = $1",
        )
        .bind(run_id)
        .fetch_optional(&self.inner.reader)
        .await?)
    }

    async fn child_runs(&self, run_id: &str) -> Result<Vec<(String, String, String)>> {
        sqlx::query(
            "SELECT r.id, r.story_id, r.status FROM steps s JOIN runs r ON r.parent_step_id = s.id
             WHERE s.run_id = $1 ORDER BY r.id",
        )
        .bind(run_id)
        .fetch_all(&self.inner.reader)
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect()
    }

    async fn run_alert(&self, run_id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT alert_id FROM alert_deliveries WHERE run_id = $1 ORDER BY id LIMIT 1",
        )
        .bind(run_id)
        .fetch_optional(&self.inner.reader)
        .await?)
    }

    async fn alert_matches(&self, alert_id: &str, limit: u32) -> Result<Vec<Value>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT event FROM rule_matches WHERE alert_id = $1 ORDER BY id LIMIT $2",
        )
        .bind(alert_id)
        .bind(i64::from(limit.clamp(1, 500)))
        .fetch_all(&self.inner.reader)
        .await?;
        rows.iter()
            .map(|text| Ok(serde_json::from_str(text)?))
            .collect()
    }

    async fn failed_steps_since(&self, since: Millis) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM steps WHERE state = 'failed' AND finished_at >= $1",
        )
        .bind(since)
        .fetch_one(&self.inner.reader)
        .await?)
    }

    async fn checkpoints(&self) -> Result<Vec<(String, Millis)>> {
        sqlx::query("SELECT source, updated_at FROM source_checkpoints ORDER BY source")
            .fetch_all(&self.inner.reader)
            .await?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }
}

/// `Count`s from rows of (`key`, `state`, `n`).
fn counts(rows: &[AnyRow], key: &str, state: &str) -> Result<Vec<Count>> {
    rows.iter()
        .map(|row| {
            Ok(Count {
                key: row.try_get(key)?,
                state: row.try_get(state)?,
                count: row.try_get("n")?,
            })
        })
        .collect()
}
