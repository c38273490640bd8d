//! [`Prompts`] and [`RateLimits`](super::RateLimits) over SQL. Answering is a compare-and-set on the prompt's state in the same
//! transaction that makes its step due, so two clicks (or a click and a replayed request) record
//! one answer and wake the step once.

use super::sql::{stored_state, Dialect, SqlStore};
use super::{Answered, NewPrompt, PromptRecord, Prompts, Result};
use crate::run::{Millis, PromptState, Wait};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

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

fn record(row: &AnyRow) -> Result<PromptRecord> {
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

impl super::RateLimits for SqlStore {
    async fn take_token(
        &self,
        key: &str,
        limit: Option<crate::ratelimit::Limit>,
        now: Millis,
    ) -> Result<std::result::Result<(), Millis>> {
        let Some(limit) = limit else {
            // No budget of our own: only a vendor's "spent until" can hold the call.
            let blocked: Option<Millis> =
                sqlx::query("SELECT blocked_until FROM rate_buckets WHERE credential = $1")
                    .bind(key)
                    .fetch_optional(&self.inner.reader)
                    .await?
                    .map(|row| row.try_get(0))
                    .transpose()?;
            return Ok(match blocked {
                Some(until) if until > now => Err(until),
                _ => Ok(()),
            });
        };
        let mut tx = self.begin().await?;
        // The row must exist before it can be locked, or concurrent first takers would each
        // start from a full bucket.
        sqlx::query(
            "INSERT INTO rate_buckets (credential, tokens, refilled_at, blocked_until)
             VALUES ($1, $2, $3, 0) ON CONFLICT (credential) DO NOTHING",
        )
        .bind(key)
        .bind(f64::from(limit.requests))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let lock = match self.inner.dialect {
            Dialect::Sqlite => "",
            // Workers taking from one bucket queue here instead of both spending a token.
            Dialect::Postgres => "FOR UPDATE",
        };
        let sql = format!(
            "SELECT tokens, refilled_at, blocked_until FROM rate_buckets WHERE credential = $1 {lock}"
        );
        let row = sqlx::query(&sql).bind(key).fetch_one(&mut *tx).await?;
        let bucket = crate::ratelimit::Bucket {
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
        sqlx::query(
            "INSERT INTO rate_buckets (credential, tokens, refilled_at, blocked_until)
             VALUES ($1, 0, $2, $3)
             ON CONFLICT (credential) DO UPDATE SET tokens = 0, refilled_at = $2,
                 blocked_until = CASE WHEN rate_buckets.blocked_until > $3
                                      THEN rate_buckets.blocked_until ELSE $3 END",
        )
        .bind(key)
        .bind(now)
        .bind(until)
        .execute(&self.inner.writer)
        .await?;
        Ok(())
    }
}

async fn save_bucket(
    conn: &mut AnyConnection,
    key: &str,
    bucket: &crate::ratelimit::Bucket,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO rate_buckets (credential, tokens, refilled_at, blocked_until)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (credential) DO UPDATE SET tokens = excluded.tokens,
             refilled_at = excluded.refilled_at, blocked_until = excluded.blocked_until",
    )
    .bind(key)
    .bind(bucket.tokens)
    .bind(bucket.refilled_at)
    .bind(bucket.blocked_until)
    .execute(conn)
    .await?;
    Ok(())
}
