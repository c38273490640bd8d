//! The common completion — a step finished and emitted events, nothing else — recorded for a
//! whole batch with a fixed number of statements instead of several per step: fence every step
//! at once, insert every event at once, create every receiver's step at once, update every run's
//! counters at once. Each completion stays all-or-nothing because the batch is one transaction.

use super::{complete::wake_step, Completed, Completion};
use crate::run::{Emitted, Millis, RunStatus, StepEnd};
use crate::store::runs::{EVENT_INSERT, STEP_INSERT};
use crate::store::sql::{add, ROWS_PER_STATEMENT};
use crate::store::{Dialect, Result};
use sqlx::any::AnyArguments;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, HashSet};

/// Whether a completion can go through the batch path.
pub(super) fn is_simple(c: &Completion) -> bool {
    matches!(c.end, StepEnd::Done { .. })
        && c.state_write.is_none()
        && c.start_runs.is_empty()
        && c.wake_steps.is_empty()
}

/// Records `batch` (all [`is_simple`]); returns one result per completion, in order, and whether
/// new work became due.
pub(super) async fn record(
    conn: &mut AnyConnection,
    dialect: Dialect,
    batch: &[&Completion],
    now: Millis,
) -> Result<(Vec<Completed>, bool)> {
    let recorded = fence(conn, dialect, batch, now).await?;
    let live: Vec<&Completion> = batch
        .iter()
        .copied()
        .filter(|c| recorded.contains(&(c.step_id, c.lease_token)))
        .collect();
    let (finished, added_work) = emit(conn, dialect, &live, now).await?;
    let results = batch
        .iter()
        .map(|c| {
            if !recorded.contains(&(c.step_id, c.lease_token)) {
                Completed::Fenced
            } else {
                Completed::Recorded(
                    finished
                        .get(c.run_id.as_str())
                        .and_then(|(status, closer)| (*closer == c.step_id).then_some(*status)),
                )
            }
        })
        .collect();
    Ok((results, added_work))
}

/// Records what finished steps (already fenced) emit: their events, their receivers' steps and
/// their runs' counters. Returns the runs closed (status, closing step) and whether new work is
/// due.
pub(super) async fn emit(
    conn: &mut AnyConnection,
    dialect: Dialect,
    live: &[&Completion],
    now: Millis,
) -> Result<(BTreeMap<String, (RunStatus, i64)>, bool)> {
    insert_events(conn, dialect, live, now).await?;
    let new_steps = insert_receiver_steps(conn, dialect, live, now).await?;
    let finished = update_runs(conn, dialect, live, now).await?;
    let added_work = new_steps > 0 || !finished.is_empty();
    Ok((finished, added_work))
}

/// Ends every step whose lease is still held; returns `(id, token)` of each.
async fn fence(
    conn: &mut AnyConnection,
    dialect: Dialect,
    batch: &[&Completion],
    now: Millis,
) -> Result<HashSet<(i64, i64)>> {
    let mut recorded = HashSet::new();
    // A step appears once per statement: of two completions of one step (a stale lease and the
    // current one), only the newest token can still hold the lease.
    let mut newest: BTreeMap<i64, &Completion> = BTreeMap::new();
    for c in batch {
        let entry = newest.entry(c.step_id).or_insert(c);
        if c.lease_token > entry.lease_token {
            *entry = c;
        }
    }
    let unique: Vec<&Completion> = newest.into_values().collect();
    for chunk in unique.chunks(ROWS_PER_STATEMENT) {
        // Missing data is rare: a chunk without any keeps the narrower statement.
        let with_missing = chunk.iter().any(|c| !c.missing_data.is_empty());
        let mut args = AnyArguments::default();
        for c in chunk {
            let StepEnd::Done { state, error, .. } = &c.end else {
                continue;
            };
            add(&mut args, c.step_id)?;
            add(&mut args, c.lease_token)?;
            add(&mut args, state.as_str())?;
            add(&mut args, error.as_ref().map(|e| e.to_string()))?;
            if with_missing {
                add(&mut args, c.missing_data_json())?;
            }
        }
        let (columns, missing, width) = if with_missing {
            (
                "id, token, state, error, missing_data",
                ", missing_data = COALESCE(v.missing_data, steps.missing_data)",
                5,
            )
        } else {
            ("id, token, state, error", "", 4)
        };
        add(&mut args, now)?;
        let now_param = chunk.len() * width + 1;
        let sql = format!(
            "WITH v ({columns}) AS (VALUES {})
             UPDATE steps SET state = v.state, error = v.error, wait = NULL, lease_owner = NULL,
                              updated_at = ${now_param}, finished_at = ${now_param}{missing}
             FROM v
             WHERE steps.id = v.id AND steps.lease_token = v.token AND steps.state = 'running'
             RETURNING steps.id, steps.lease_token",
            dialect.rows(chunk.len(), width, 1)
        );
        for row in sqlx::query_with(&sql, args).fetch_all(&mut *conn).await? {
            recorded.insert((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?));
        }
    }
    Ok(recorded)
}

/// Every emitted event, in one statement per chunk.
async fn insert_events(
    conn: &mut AnyConnection,
    dialect: Dialect,
    live: &[&Completion],
    now: Millis,
) -> Result<()> {
    let rows: Vec<(&Completion, usize, &Emitted)> = live
        .iter()
        .flat_map(|c| match &c.end {
            StepEnd::Done { emitted, .. } => emitted
                .iter()
                .enumerate()
                .map(move |(seq, e)| (*c, seq, e))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut args = AnyArguments::default();
        for (c, seq, event) in chunk {
            add(&mut args, c.run_id.as_str())?;
            add(&mut args, c.input_event_id)?;
            add(&mut args, c.step_id)?;
            add(&mut args, c.action_id.as_str())?;
            add(&mut args, *seq as i64)?;
            add(&mut args, event.link)?;
            add(&mut args, event.payload.to_string())?;
            add(&mut args, now)?;
        }
        let sql = format!("{EVENT_INSERT} VALUES {}", dialect.rows(chunk.len(), 8, 1));
        sqlx::query_with(&sql, args).execute(&mut *conn).await?;
    }
    Ok(())
}

/// One pending step per (event, receiver), joined on the events just inserted by step and
/// sequence number: a step emits once, when it finishes, so `(step_id, seq)` names one event.
async fn insert_receiver_steps(
    conn: &mut AnyConnection,
    dialect: Dialect,
    live: &[&Completion],
    now: Millis,
) -> Result<u64> {
    let mut rows = Vec::new();
    for c in live {
        let StepEnd::Done { emitted, .. } = &c.end else {
            continue;
        };
        for (seq, event) in emitted.iter().enumerate() {
            for receiver in &event.receivers {
                rows.push((*c, seq, receiver.as_str()));
            }
        }
    }
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut args = AnyArguments::default();
        for (c, seq, receiver) in chunk {
            add(&mut args, c.step_id)?;
            add(&mut args, *seq as i64)?;
            add(&mut args, *receiver)?;
            add(&mut args, c.story_id.as_str())?;
            add(&mut args, c.story_version.as_str())?;
            add(&mut args, c.run_started_at)?;
        }
        add(&mut args, now)?;
        let now_param = chunk.len() * 6 + 1;
        let sql = format!(
            "WITH r (step_id, seq, receiver, story_id, story_version, started_at) AS (VALUES {})
             {STEP_INSERT})
             SELECT e.run_id, r.story_id, r.story_version, r.started_at, r.receiver, e.id,
                    'pending', 0, 0, ${now_param}, ${now_param}, ${now_param}
             FROM r JOIN events e ON e.step_id = r.step_id AND e.seq = r.seq
             ORDER BY e.id",
            dialect.rows(chunk.len(), 6, 1)
        );
        sqlx::query_with(&sql, args).execute(&mut *conn).await?;
    }
    Ok(rows.len() as u64)
}

/// Applies each run's net change in open and failed steps; returns the runs this batch closed,
/// with their status and the step that closed them.
async fn update_runs(
    conn: &mut AnyConnection,
    dialect: Dialect,
    live: &[&Completion],
    now: Millis,
) -> Result<BTreeMap<String, (RunStatus, i64)>> {
    // run → (open delta, failed delta, last step of the run in this batch)
    let mut deltas: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    for c in live {
        let StepEnd::Done {
            emitted,
            unhandled_failure,
            ..
        } = &c.end
        else {
            continue;
        };
        let new: i64 = emitted.iter().map(|e| e.receivers.len() as i64).sum();
        let entry = deltas.entry(c.run_id.as_str()).or_insert((0, 0, c.step_id));
        entry.0 += new - 1;
        entry.1 += i64::from(*unhandled_failure);
        entry.2 = c.step_id;
    }
    let deltas: Vec<_> = deltas.into_iter().collect();
    let mut finished = BTreeMap::new();
    for chunk in deltas.chunks(ROWS_PER_STATEMENT) {
        let mut args = AnyArguments::default();
        for (run, (open, failed, _)) in chunk {
            add(&mut args, *run)?;
            add(&mut args, *open)?;
            add(&mut args, *failed)?;
        }
        add(&mut args, now)?;
        let now_param = chunk.len() * 3 + 1;
        // The last open step closes the run in the same statement.
        let sql = format!(
            "WITH d (id, open_delta, failed_delta) AS (VALUES {})
             UPDATE runs SET open_steps = runs.open_steps + d.open_delta,
                             failed_steps = runs.failed_steps + d.failed_delta,
                             updated_at = ${now_param},
                             status = CASE WHEN runs.open_steps + d.open_delta > 0 THEN runs.status
                                           WHEN runs.failed_steps + d.failed_delta > 0 THEN 'failed'
                                           ELSE 'succeeded' END,
                             finished_at = CASE WHEN runs.open_steps + d.open_delta > 0
                                                THEN runs.finished_at ELSE ${now_param} END
             FROM d WHERE runs.id = d.id
             RETURNING runs.id, runs.open_steps, runs.status, runs.parent_step_id",
            dialect.rows(chunk.len(), 3, 1)
        );
        for row in sqlx::query_with(&sql, args).fetch_all(&mut *conn).await? {
            let open: i64 = row.try_get(1)?;
            if open > 0 {
                continue;
            }
            let id: String = row.try_get(0)?;
            let status: String = row.try_get(2)?;
            let parent: Option<i64> = row.try_get(3)?;
            if let Some(parent) = parent {
                wake_step(conn, parent, now).await?;
            }
            let closer = chunk
                .iter()
                .find(|(run, _)| *run == id)
                .map_or(0, |(_, (_, _, step))| *step);
            finished.insert(
                id,
                (
                    RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
                    closer,
                ),
            );
        }
    }
    Ok(finished)
}
