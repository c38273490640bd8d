//! [`Operations`]: what people do to runs, each in one transaction with its line in the run's
//! history: retrying a failed step, cancelling a run (and the child runs it started), starting
//! a re-run, and reading the history back.
//!
//! Cancelling fences out a step that is executing: its lease token is bumped and its state is no
//! longer `running`, so the runner's completion matches nothing (`Completed::Fenced`) and starts
//! no successors, exactly as for a lease lost to another worker. It locks the run's row first:
//! a completion committing meanwhile either waits for it (and is then fenced), or committed
//! first (and its new steps are seen and cancelled), or holds a step the cancel needs while
//! waiting for the run's row, a deadlock Postgres resolves by aborting one of the two; both
//! sides retry such a transient conflict (`Error::is_transient`).

use super::connection::SqlStore;
use super::prompts::{record as prompt_record, PromptRecord, BY_ID};
use super::runs::{
    insert_run, run_record, step_record, EventRecord, NewRun, RunCreated, RunRecord, StepRecord,
    EVENT_COLUMNS, RUN_COLUMNS, STEP_COLUMNS, STEP_INSERT,
};
use super::sql::{json_text, OPEN};
use super::Result;
use crate::run::{Millis, RunStatus, StepState};
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};
use std::future::Future;

/// One line of a run's history: who did what, when.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRecord {
    /// When.
    pub at: Millis,
    /// Who (an API user, `dev`, a Slack user).
    pub actor: String,
    /// What: `retry_step`, `cancel`, `rerun`, `rerun_of`, `answer_prompt`.
    pub action: String,
    /// The action's particulars (a JSON object).
    pub details: Value,
}

/// What retrying a step did.
#[derive(Debug, Clone, PartialEq)]
pub enum Retried {
    /// A new pending step runs the failed step's action again on the same input event.
    New(Box<StepRecord>),
    /// No such run, or no such step in it.
    NotFound,
    /// The step is not failed (its state).
    NotFailed(StepState),
    /// The run was cancelled.
    RunCancelled,
    /// The step was retried before, by this step.
    AlreadyRetried(i64),
}

/// What cancelling a run did.
#[derive(Debug, Clone, PartialEq)]
pub enum Cancelled {
    /// Cancelled, with the steps and prompts it closed and the child runs cancelled with it.
    Done(Cancellation),
    /// No such run.
    NotFound,
    /// The run had already ended (its status).
    Finished(RunStatus),
}

/// What a cancellation closed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cancellation {
    /// Steps cancelled (pending, waiting and executing ones), in this run and its children.
    pub steps: u64,
    /// Prompts closed (to take their questions off Slack).
    pub prompts: Vec<PromptRecord>,
    /// Child runs (`send_to_story`) cancelled with it.
    pub child_runs: Vec<String>,
}

/// Operating on runs.
pub trait Operations {
    /// Retries failed step `step` of run `run_id` as a new pending step (the failed one stays as
    /// it was); the run goes back to running.
    fn retry_step(
        &self,
        run_id: &str,
        step: i64,
        actor: &str,
        now: Millis,
    ) -> impl Future<Output = Result<Retried>> + Send;
    /// Cancels a run that has not ended, and the running child runs it started.
    fn cancel_run(
        &self,
        run_id: &str,
        actor: &str,
        now: Millis,
    ) -> impl Future<Output = Result<Cancelled>> + Send;
    /// Creates `run`, a re-run of `of` (`version`: `pinned` or `current`), with a history line
    /// on both runs.
    fn start_rerun(
        &self,
        run: &NewRun,
        of: &str,
        version: &str,
        actor: &str,
        now: Millis,
    ) -> impl Future<Output = Result<RunRecord>> + Send;
    /// The event that started a run (its entry webhook's).
    fn entry_event(&self, run_id: &str)
        -> impl Future<Output = Result<Option<EventRecord>>> + Send;
    /// A run's history, oldest first.
    fn run_history(&self, run_id: &str) -> impl Future<Output = Result<Vec<HistoryRecord>>> + Send;
}

/// Adds a line to a run's history inside the caller's transaction.
pub(super) async fn record_history(
    conn: &mut AnyConnection,
    run_id: &str,
    at: Millis,
    actor: &str,
    action: &str,
    details: &Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO run_history (run_id, at, actor, action, details) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(run_id)
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(json_text(details))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Operations for SqlStore {
    async fn retry_step(
        &self,
        run_id: &str,
        step: i64,
        actor: &str,
        now: Millis,
    ) -> Result<Retried> {
        let mut tx = self.begin().await?;
        let Some(row) = sqlx::query(
            "SELECT s.state, s.action_id, r.status FROM steps s JOIN runs r ON r.id = s.run_id
             WHERE s.id = $1 AND s.run_id = $2",
        )
        .bind(step)
        .bind(run_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Retried::NotFound);
        };
        let state: String = row.try_get(0)?;
        let action: String = row.try_get(1)?;
        let status: String = row.try_get(2)?;
        if status == RunStatus::Cancelled.as_str() {
            return Ok(Retried::RunCancelled);
        }
        if state != StepState::Failed.as_str() {
            let state = StepState::parse(&state).unwrap_or(StepState::Pending);
            return Ok(Retried::NotFailed(state));
        }
        // The unique index on `retry_of` settles two retries racing: the second inserts nothing.
        let inserted = sqlx::query(&format!(
            "{STEP_INSERT}, retry_of)
             SELECT run_id, story_id, story_version, run_started_at, action_id, input_event_id,
                    'pending', 0, 0, $1, $1, $1, id
             FROM steps WHERE id = $2
             ON CONFLICT (retry_of) WHERE retry_of IS NOT NULL DO NOTHING
             RETURNING id"
        ))
        .bind(now)
        .bind(step)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(inserted) = inserted else {
            drop(tx);
            let earlier: i64 = sqlx::query("SELECT id FROM steps WHERE retry_of = $1")
                .bind(step)
                .fetch_one(&self.inner.reader)
                .await?
                .try_get(0)?;
            return Ok(Retried::AlreadyRetried(earlier));
        };
        let new_id: i64 = inserted.try_get(0)?;
        // A failure with no `.failure` link emitted nothing and was counted against the run;
        // the retry takes it back. The status check locks the run row, so a cancel that commits
        // first is seen here (and one that comes after sees the new step).
        let reopened = sqlx::query(
            "UPDATE runs SET open_steps = open_steps + 1,
                             failed_steps = failed_steps - CASE WHEN NOT EXISTS (
                                 SELECT 1 FROM events e WHERE e.step_id = $1 AND e.link = 'failure'
                             ) AND failed_steps > 0 THEN 1 ELSE 0 END,
                             status = 'running', finished_at = NULL, updated_at = $2
             WHERE id = $3 AND status <> 'cancelled'",
        )
        .bind(step)
        .bind(now)
        .bind(run_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if reopened == 0 {
            tx.rollback().await?;
            return Ok(Retried::RunCancelled);
        }
        let details = json!({"step_id": step, "action": action, "new_step_id": new_id});
        record_history(&mut tx, run_id, now, actor, "retry_step", &details).await?;
        let record = sqlx::query(&format!("SELECT {STEP_COLUMNS} FROM steps WHERE id = $1"))
            .bind(new_id)
            .fetch_one(&mut *tx)
            .await?;
        let record = step_record(&record)?;
        self.notify(&mut tx).await?;
        tx.commit().await?;
        Ok(Retried::New(Box::new(record)))
    }

    async fn cancel_run(&self, run_id: &str, actor: &str, now: Millis) -> Result<Cancelled> {
        let mut tx = self.begin().await?;
        if !close_run(&mut tx, run_id, now).await? {
            let status = sqlx::query("SELECT status FROM runs WHERE id = $1")
                .bind(run_id)
                .fetch_optional(&mut *tx)
                .await?;
            return Ok(match status {
                None => Cancelled::NotFound,
                Some(row) => Cancelled::Finished(
                    RunStatus::parse(&row.try_get::<String, _>(0)?).unwrap_or(RunStatus::Failed),
                ),
            });
        }
        let mut done = Cancellation::default();
        let mut runs = vec![run_id.to_owned()];
        while let Some(run) = runs.pop() {
            let (steps, prompts) = close_open_steps(&mut tx, &run, now).await?;
            done.steps += steps;
            done.prompts.extend(prompts);
            // Child runs still running (`send_to_story`) go with their parent.
            let children = sqlx::query(
                "SELECT c.id FROM runs c JOIN steps p ON p.id = c.parent_step_id
                 WHERE p.run_id = $1 AND c.status = 'running'",
            )
            .bind(&run)
            .fetch_all(&mut *tx)
            .await?;
            for child in children {
                let child: String = child.try_get(0)?;
                if close_run(&mut tx, &child, now).await? {
                    let details = json!({"parent_run_id": run});
                    record_history(&mut tx, &child, now, actor, "cancel", &details).await?;
                    done.child_runs.push(child.clone());
                    runs.push(child);
                }
            }
        }
        let details = json!({
            "steps_cancelled": done.steps,
            "prompts_closed": done.prompts.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            "child_runs": done.child_runs,
        });
        record_history(&mut tx, run_id, now, actor, "cancel", &details).await?;
        // A `send_to_story` step waiting for this run may have been woken.
        self.notify(&mut tx).await?;
        tx.commit().await?;
        Ok(Cancelled::Done(done))
    }

    async fn start_rerun(
        &self,
        run: &NewRun,
        of: &str,
        version: &str,
        actor: &str,
        now: Millis,
    ) -> Result<RunRecord> {
        let mut tx = self.begin().await?;
        let created = insert_run(&mut tx, run, now).await?;
        let RunCreated::New(id) = created else {
            // A re-run carries no dedupe key, so it is always new.
            return Err(sqlx::Error::RowNotFound.into());
        };
        sqlx::query("UPDATE runs SET rerun_of = $1 WHERE id = $2")
            .bind(of)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        let details = json!({
            "run_id": id,
            "version": version,
            "story_version": run.story_version,
        });
        record_history(&mut tx, of, now, actor, "rerun", &details).await?;
        let details = json!({"run_id": of, "version": version});
        record_history(&mut tx, &id, now, actor, "rerun_of", &details).await?;
        let record = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
        let record = run_record(&record)?;
        if !run.receivers.is_empty() {
            self.notify(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(record)
    }

    async fn entry_event(&self, run_id: &str) -> Result<Option<EventRecord>> {
        sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE run_id = $1 AND parent_id IS NULL
             ORDER BY id LIMIT 1"
        ))
        .bind(run_id)
        .fetch_optional(&self.inner.reader)
        .await?
        .as_ref()
        .map(super::runs::event_record)
        .transpose()
    }

    async fn run_history(&self, run_id: &str) -> Result<Vec<HistoryRecord>> {
        sqlx::query(
            "SELECT at, actor, action, details FROM run_history WHERE run_id = $1 ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(&self.inner.reader)
        .await?
        .iter()
        .map(|row| {
            Ok(HistoryRecord {
                at: row.try_get(0)?,
                actor: row.try_get(1)?,
                action: row.try_get(2)?,
                details: serde_json::from_str(&row.try_get::<String, _>(3)?)?,
            })
        })
        .collect()
    }
}

/// Marks a run that has not ended cancelled; whether it did. A `send_to_story` step waiting for
/// it wakes to read its status (and emits `cancelled`), as when a child run finishes.
async fn close_run(conn: &mut AnyConnection, run_id: &str, now: Millis) -> Result<bool> {
    let closed = sqlx::query(
        "UPDATE runs SET status = 'cancelled', open_steps = 0, updated_at = $1, finished_at = $1
         WHERE id = $2 AND status = 'running'
         RETURNING parent_step_id",
    )
    .bind(now)
    .bind(run_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(closed) = closed else {
        return Ok(false);
    };
    if let Some(parent) = closed.try_get::<Option<i64>, _>(0)? {
        super::queue::wake_step(conn, parent, now).await?;
    }
    Ok(true)
}

/// Closes a run's open prompts and cancels its open steps. Bumping the lease token fences out a
/// step that is executing now: its completion will match nothing. Prompts before steps: the
/// order answering a prompt takes its locks in, so the two never deadlock on Postgres.
async fn close_open_steps(
    conn: &mut AnyConnection,
    run_id: &str,
    now: Millis,
) -> Result<(u64, Vec<PromptRecord>)> {
    let ids = sqlx::query(
        "UPDATE prompts SET state = 'cancelled', answered_at = $1
         WHERE run_id = $2 AND state = 'open' RETURNING id",
    )
    .bind(now)
    .bind(run_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut prompts = Vec::with_capacity(ids.len());
    for id in ids {
        let id: String = id.try_get(0)?;
        if let Some(row) = sqlx::query(BY_ID)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
        {
            prompts.push(prompt_record(&row)?);
        }
    }
    let steps = sqlx::query(&format!(
        "UPDATE steps SET state = 'cancelled', lease_token = lease_token + 1, lease_owner = NULL,
                          updated_at = $1, finished_at = $1
         WHERE run_id = $2 AND {OPEN}"
    ))
    .bind(now)
    .bind(run_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((steps, prompts))
}
