//! [`Versions`]: the story sources runs pinned, so a run finishes on the version it started with.

use super::connection::SqlStore;
use super::sql::json_text;
use super::Result;
use crate::run::Millis;
use serde_json::Value;
use sqlx::Row;
use std::future::Future;

/// Story versions, so a run finishes on the version it started with.
pub trait Versions {
    /// Keeps a version's source and the integration templates it used (idempotent).
    fn save_version(
        &self,
        story_id: &str,
        version: &str,
        source: &str,
        templates: &Value,
        now: Millis,
    ) -> impl Future<Output = Result<()>> + Send;
    /// A kept version: its source and templates.
    fn load_version(
        &self,
        story_id: &str,
        version: &str,
    ) -> impl Future<Output = Result<Option<(String, Value)>>> + Send;
}

impl Versions for SqlStore {
    async fn save_version(
        &self,
        story_id: &str,
        version: &str,
        source: &str,
        templates: &Value,
        now: Millis,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO story_versions (story_id, version, source, templates, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (story_id, version) DO NOTHING",
        )
        .bind(story_id)
        .bind(version)
        .bind(source)
        .bind(json_text(templates))
        .bind(now)
        .execute(&self.inner.writer)
        .await?;
        Ok(())
    }

    async fn load_version(&self, story_id: &str, version: &str) -> Result<Option<(String, Value)>> {
        let row = sqlx::query(
            "SELECT source, templates FROM story_versions WHERE story_id = $1 AND version = $2",
        )
        .bind(story_id)
        .bind(version)
        .fetch_optional(&self.inner.reader)
        .await?;
        match row {
            Some(row) => {
                let templates: String = row.try_get(1)?;
                Ok(Some((row.try_get(0)?, serde_json::from_str(&templates)?)))
            }
            None => Ok(None),
        }
    }
}
