//! [`Prompts`]: questions a waiting step asks people (on Slack or through single-use URLs).
//! Answering is a compare-and-set on the prompt's state in the same transaction that makes its
//! step due, so two clicks (or a click and a replayed request) record one answer and wake the step
//! once.

use super::connection::SqlStore;
use super::sql::stored_state;
use super::Result;
use crate::run::{Millis, PromptState, Wait};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::future::Future;

/// A prompt to open for a waiting step.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPrompt {
    /// A random, unguessable id.
    pub id: String,
    /// The step that waits.
    pub step_id: i64,
    /// Its run.
    pub run_id: String,
    /// Its story.
    pub story_id: String,
    /// Its action.
    pub action_id: String,
    /// The answers offered: `[{value, label}]`.
    pub choices: Value,
    /// Slack user ids allowed to answer; empty: anyone.
    pub responders: Vec<String>,
    /// Single-use answer URLs: the SHA-256 (hex) of each URL's token, and the answer it records.
    pub links: Vec<(String, String)>,
    /// When the step stops waiting.
    pub expires_at: Millis,
}

/// A stored prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptRecord {
    /// Its id.
    pub id: String,
    /// The waiting step.
    pub step_id: i64,
    /// Its run.
    pub run_id: String,
    /// Its story.
    pub story_id: String,
    /// Its action.
    pub action_id: String,
    /// The answers offered: `[{value, label}]`.
    pub choices: Value,
    /// Slack user ids allowed to answer; empty: anyone.
    pub responders: Vec<String>,
    /// The Slack message asking, once posted: channel and ts.
    pub slack_message: Option<(String, String)>,
    /// Where it is.
    pub state: PromptState,
    /// The answer, once answered.
    pub answer: Option<String>,
    /// Who answered (a Slack user id, or `prompt_url`).
    pub responder: Option<String>,
    /// When the step stops waiting.
    pub expires_at: Millis,
}

/// What answering a prompt did.
#[derive(Debug, Clone, PartialEq)]
pub enum Answered {
    /// Recorded; the waiting step is due now.
    Recorded(PromptRecord),
    /// Already answered or expired: nothing changed.
    Closed(PromptRecord),
    /// No such prompt.
    Unknown,
}

/// Prompts waiting for people.
pub trait Prompts {
    /// Opens the prompt of a waiting step, or returns the one a previous attempt opened (adding
    /// this attempt's answer links).
    fn open_prompt(
        &self,
        prompt: &NewPrompt,
        now: Millis,
    ) -> impl Future<Output = Result<PromptRecord>> + Send;
    /// Records where the Slack message asking is.
    fn set_prompt_message(
        &self,
        id: &str,
        channel: &str,
        ts: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// One prompt.
    fn prompt(&self, id: &str) -> impl Future<Output = Result<Option<PromptRecord>>> + Send;
    /// The prompt a step opened, if it opened one.
    fn step_prompt(
        &self,
        step_id: i64,
    ) -> impl Future<Output = Result<Option<PromptRecord>>> + Send;
    /// The prompt and answer of a single-use URL, by its token's SHA-256 (hex).
    fn prompt_link(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<(PromptRecord, String)>>> + Send;
    /// Records the first answer of an open, unexpired prompt and makes its step due, in one
    /// transaction; a later answer changes nothing.
    fn answer_prompt(
        &self,
        id: &str,
        answer: &str,
        responder: &str,
        now: Millis,
    ) -> impl Future<Output = Result<Answered>> + Send;
    /// Closes the open prompt of a step whose wait ran out; returns the prompt as it ends
    /// (answered, if an answer won the race).
    fn expire_prompt(
        &self,
        step_id: i64,
        now: Millis,
    ) -> impl Future<Output = Result<Option<PromptRecord>>> + Send;
}

/// A prompt's columns, selected by `$where`.
macro_rules! select_prompt {
    ($where:literal) => {
        concat!(
            "SELECT id, step_id, run_id, story_id, action_id, choices, responders, slack_channel, ",
            "slack_ts, state, answer, responder, expires_at FROM prompts WHERE ",
            $where
        )
    };
}
const BY_ID: &str = select_prompt!("id = $1");
const BY_STEP: &str = select_prompt!("step_id = $1");

impl Prompts for SqlStore {
    async fn open_prompt(&self, prompt: &NewPrompt, now: Millis) -> Result<PromptRecord> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO prompts (id, step_id, run_id, story_id, action_id, choices, responders,
                                  state, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9)
             ON CONFLICT (step_id) DO NOTHING",
        )
        .bind(&prompt.id)
        .bind(prompt.step_id)
        .bind(&prompt.run_id)
        .bind(&prompt.story_id)
        .bind(&prompt.action_id)
        .bind(prompt.choices.to_string())
        .bind(serde_json::to_string(&prompt.responders)?)
        .bind(now)
        .bind(prompt.expires_at)
        .execute(&mut *tx)
        .await?;
        let record = select_one(&mut tx, Key::Step(prompt.step_id))
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        for (token_hash, answer) in &prompt.links {
            sqlx::query(
                "INSERT INTO prompt_links (token_hash, prompt_id, answer) VALUES ($1, $2, $3)
                 ON CONFLICT (token_hash) DO NOTHING",
            )
            .bind(token_hash)
            .bind(&record.id)
            .bind(answer)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(record)
    }

    async fn set_prompt_message(&self, id: &str, channel: &str, ts: &str) -> Result<()> {
        sqlx::query("UPDATE prompts SET slack_channel = $1, slack_ts = $2 WHERE id = $3")
            .bind(channel)
            .bind(ts)
            .bind(id)
            .execute(&self.inner.writer)
            .await?;
        Ok(())
    }

    async fn prompt(&self, id: &str) -> Result<Option<PromptRecord>> {
        let mut conn = self.inner.reader.acquire().await?;
        select_one(&mut conn, Key::Id(id)).await
    }

    async fn step_prompt(&self, step_id: i64) -> Result<Option<PromptRecord>> {
        let mut conn = self.inner.reader.acquire().await?;
        select_one(&mut conn, Key::Step(step_id)).await
    }

    async fn prompt_link(&self, token_hash: &str) -> Result<Option<(PromptRecord, String)>> {
        let Some(row) =
            sqlx::query("SELECT prompt_id, answer FROM prompt_links WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&self.inner.reader)
                .await?
        else {
            return Ok(None);
        };
        let (id, answer): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        Ok(self.prompt(&id).await?.map(|p| (p, answer)))
    }

    async fn answer_prompt(
        &self,
        id: &str,
        answer: &str,
        responder: &str,
        now: Millis,
    ) -> Result<Answered> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE prompts SET state = 'answered', answer = $1, responder = $2, answered_at = $3
             WHERE id = $4 AND state = 'open' AND expires_at > $3",
        )
        .bind(answer)
        .bind(responder)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let Some(prompt) = select_one(&mut tx, Key::Id(id)).await? else {
            return Ok(Answered::Unknown);
        };
        if updated == 0 {
            return Ok(Answered::Closed(prompt));
        }
        let wait = Wait::Prompt {
            prompt_id: id.to_owned(),
            answer: Some(answer.to_owned()),
            responder: Some(responder.to_owned()),
        };
        sqlx::query("UPDATE steps SET wait = $1, due_at = $2 WHERE id = $3 AND state = 'waiting'")
            .bind(serde_json::to_string(&wait)?)
            .bind(now)
            .bind(prompt.step_id)
            .execute(&mut *tx)
            .await?;
        self.notify(&mut tx).await?;
        tx.commit().await?;
        Ok(Answered::Recorded(prompt))
    }

    async fn expire_prompt(&self, step_id: i64, now: Millis) -> Result<Option<PromptRecord>> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE prompts SET state = 'expired', answered_at = $1
             WHERE step_id = $2 AND state = 'open'",
        )
        .bind(now)
        .bind(step_id)
        .execute(&mut *tx)
        .await?;
        let prompt = select_one(&mut tx, Key::Step(step_id)).await?;
        tx.commit().await?;
        Ok(prompt)
    }
}

/// How a prompt is found: both are unique.
enum Key<'a> {
    Id(&'a str),
    Step(i64),
}

async fn select_one(conn: &mut AnyConnection, key: Key<'_>) -> Result<Option<PromptRecord>> {
    let query = match key {
        Key::Id(id) => sqlx::query(BY_ID).bind(id.to_owned()),
        Key::Step(step) => sqlx::query(BY_STEP).bind(step),
    };
    query
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(record)
        .transpose()
}

pub(super) fn record(row: &AnyRow) -> Result<PromptRecord> {
    let channel: Option<String> = row.try_get("slack_channel")?;
    let ts: Option<String> = row.try_get("slack_ts")?;
    Ok(PromptRecord {
        id: row.try_get("id")?,
        step_id: row.try_get("step_id")?,
        run_id: row.try_get("run_id")?,
        story_id: row.try_get("story_id")?,
        action_id: row.try_get("action_id")?,
        choices: serde_json::from_str(&row.try_get::<String, _>("choices")?)?,
        responders: serde_json::from_str(&row.try_get::<String, _>("responders")?)?,
        slack_message: channel.zip(ts),
        state: stored_state(row.try_get("state")?, PromptState::parse)?,
        answer: row.try_get("answer")?,
        responder: row.try_get("responder")?,
        expires_at: row.try_get("expires_at")?,
    })
}
