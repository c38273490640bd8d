//! [`ActionStates`]: per-action state (dedupe memory, throttle slots, implode groups), read
//! freely and written only as a compare-and-set that commits with the step's completion.

use super::connection::SqlStore;
use super::Result;
use crate::run::Millis;
use sqlx::AnyConnection;
use std::future::Future;

/// A compare-and-set of one action's persisted state, applied with the completion or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct StateWrite {
    /// The story.
    pub story_id: String,
    /// The action.
    pub action_id: String,
    /// The key within the action (a dedupe scope, a throttle key, an implode group).
    pub key: String,
    /// The state read before computing; the write fails if it changed meanwhile.
    pub expected: Option<String>,
    /// The state to store.
    pub new: String,
}

/// Per-action state (dedupe memory, throttle slots, implode groups).
pub trait ActionStates {
    /// The state under a key, as stored.
    fn action_state(
        &self,
        story_id: &str,
        action_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>>> + Send;
}

impl ActionStates for SqlStore {
    async fn action_state(
        &self,
        story_id: &str,
        action_id: &str,
        key: &str,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT state FROM action_state WHERE story_id = $1 AND action_id = $2 AND key = $3",
        )
        .bind(story_id)
        .bind(action_id)
        .bind(key)
        .fetch_optional(&self.inner.reader)
        .await?)
    }
}

/// Compare-and-set of one action state inside a completion's transaction; false when another
/// step changed it first (no row was written, so the completion is computed again).
pub(super) async fn write_state(
    conn: &mut AnyConnection,
    w: &StateWrite,
    now: Millis,
) -> Result<bool> {
    let affected = match &w.expected {
        // First write: the key must still be absent.
        None => sqlx::query(
            "INSERT INTO action_state (story_id, action_id, key, state, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (story_id, action_id, key) DO NOTHING",
        )
        .bind(&w.story_id)
        .bind(&w.action_id)
        .bind(&w.key)
        .bind(&w.new)
        .bind(now),
        Some(expected) => sqlx::query(
            "UPDATE action_state SET state = $4, updated_at = $5
             WHERE story_id = $1 AND action_id = $2 AND key = $3 AND state = $6",
        )
        .bind(&w.story_id)
        .bind(&w.action_id)
        .bind(&w.key)
        .bind(&w.new)
        .bind(now)
        .bind(expected),
    }
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(affected == 1)
}
