//! The per-completion path, for what the batch path does not take: retries, waits, action-state
//! writes, child runs and wake-ups. Each completion is its own all-or-nothing unit inside the
//! caller's transaction.

use super::{batch, Completed, Completion};
use crate::run::{Millis, StepEnd};
use crate::store::action_state::write_state;
use crate::store::runs::{insert_run, RunCreated};
use crate::store::sql::json_text;
use crate::store::{Dialect, Result};
use sqlx::AnyConnection;

/// An `UPDATE` of a step that holds its lease: `$4` is the step, `$5` the token it was claimed
/// with, `$6` the missing data it found (NULL keeps what is recorded). A step whose lease was
/// taken over matches nothing (the fencing check).
macro_rules! fenced {
    ($set:literal) => {
        concat!(
            "UPDATE steps SET ",
            $set,
            ", missing_data = COALESCE($6, missing_data)",
            " WHERE id = $4 AND lease_token = $5 AND state = 'running'"
        )
    };
}

/// Records one completion, inside a savepoint when it writes action state, so a state conflict
/// undoes only this completion; returns its result and whether it made work due.
pub(super) async fn record_isolated(
    conn: &mut AnyConnection,
    dialect: Dialect,
    c: &Completion,
    now: Millis,
) -> Result<(Completed, bool)> {
    let guarded = c.state_write.is_some();
    if guarded {
        sqlx::query("SAVEPOINT completion")
            .execute(&mut *conn)
            .await?;
    }
    let (result, work) = record(conn, dialect, c, now).await?;
    if guarded {
        let end = if result == Completed::StateConflict {
            "ROLLBACK TO SAVEPOINT completion"
        } else {
            "RELEASE SAVEPOINT completion"
        };
        sqlx::query(end).execute(&mut *conn).await?;
    }
    Ok((result, work))
}

/// Records one completion inside the caller's transaction. Writes nothing unless it returns
/// `Recorded` (the caller rolls back to a savepoint on `StateConflict`).
async fn record(
    conn: &mut AnyConnection,
    dialect: Dialect,
    c: &Completion,
    now: Millis,
) -> Result<(Completed, bool)> {
    let fenced = match &c.end {
        StepEnd::Done { state, error, .. } => sqlx::query(fenced!(
            "state = $1, error = $2, wait = NULL, lease_owner = NULL,
             updated_at = $3, finished_at = $3"
        ))
        .bind(state.as_str())
        .bind(error.as_ref().map(json_text)),
        StepEnd::Retry { due_at, error } => sqlx::query(fenced!(
            "state = 'pending', error = $1, wait = NULL, lease_owner = NULL,
             due_at = $2, updated_at = $3"
        ))
        .bind(json_text(error))
        .bind(*due_at),
        StepEnd::Wait { due_at, wait } => sqlx::query(fenced!(
            "state = 'waiting', wait = $1, lease_owner = NULL, due_at = $2, updated_at = $3"
        ))
        .bind(serde_json::to_string(wait)?)
        .bind(*due_at),
    }
    .bind(now)
    .bind(c.step_id)
    .bind(c.lease_token)
    .bind(c.missing_data_json())
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 0;
    if fenced {
        return Ok((Completed::Fenced, false));
    }
    if let Some(write) = &c.state_write {
        if !write_state(conn, write, now).await? {
            return Ok((Completed::StateConflict, false));
        }
    }
    let mut added_work = false;
    for run in &c.start_runs {
        if let RunCreated::New(_) = insert_run(conn, run, now).await? {
            added_work = true;
            // A run with nothing to do finished as it was created: wake whoever waits for it.
            if let (true, Some(parent)) = (run.receivers.is_empty(), run.parent_step_id) {
                wake_step(conn, parent, now).await?;
            }
        }
    }
    for step in &c.wake_steps {
        wake_step(conn, *step, now).await?;
        added_work = true;
    }
    if !matches!(c.end, StepEnd::Done { .. }) {
        return Ok((Completed::Recorded(None), added_work));
    }
    // Events, receivers' steps and run counters: the same statements as a batch of one.
    let (finished, work) = batch::emit(conn, dialect, &[c], now).await?;
    let status = finished.get(c.run_id.as_str()).map(|(status, _)| *status);
    Ok((Completed::Recorded(status), added_work || work))
}

/// Moves a waiting step's due time to now, so the runner picks it up.
pub(in crate::store) async fn wake_step(
    conn: &mut AnyConnection,
    step: i64,
    now: Millis,
) -> Result<()> {
    sqlx::query("UPDATE steps SET due_at = $1 WHERE id = $2 AND state = 'waiting'")
        .bind(now)
        .bind(step)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
