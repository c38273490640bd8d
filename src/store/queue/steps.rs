//! [`Queue`] over the `steps` table: claiming due steps, renewing leases, the queue's depth, what a
//! claimed step reads, and the commit of a batch of completions.

use super::{batch, complete, ClaimedStep, Completed, Completion, Queue, StepInput};
use crate::run::{Millis, StepState};
use crate::store::connection::SqlStore;
use crate::store::runs::{event_record, EventRecord, EVENT_COLUMNS};
use crate::store::sql::{parse_json, Claim, OPEN, ROWS_PER_STATEMENT};
use crate::store::Result;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

/// Steps due at a time they were given rather than when they were created: waiting ones and
/// retries. The `steps_timed` partial index is built on this same condition.
const TIMED: &str = "state = 'waiting' OR (state = 'pending' AND attempt > 0)";

/// A [`ClaimedStep`]'s columns.
const CLAIMED_COLUMNS: &str = "id, run_id, story_id, story_version, run_started_at, action_id,
                               input_event_id, attempt, lost_leases, lease_token, wait";

impl Queue for SqlStore {
    async fn claim(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> Result<Vec<ClaimedStep>> {
        // Steps given a time (timers, retries, woken waits; the `steps_timed` index) first, so
        // under a backlog they start near their time instead of behind every older due step.
        let timed = format!("({TIMED}) AND due_at <= $3");
        let any_due = format!("{OPEN} AND due_at <= $3");
        let mut steps = Vec::new();
        for due in [&timed, &any_due] {
            let left = i64::from(limit) - steps.len() as i64;
            if left <= 0 {
                break;
            }
            let sql = Claim {
                table: "steps",
                // Only a pending step's claim starts another execution of its action: a wake-up
                // from waiting is not another attempt, and taking over a running step whose
                // lease expired (its worker died) counts a lost lease, not an attempt, so a crash
                // never spends the action's retry budget. The CASEs read the row as it was
                // before this claim.
                set: "state = 'running', lease_token = lease_token + 1, lease_owner = $1,
                      due_at = $2, updated_at = $3,
                      attempt = CASE WHEN state = 'pending' AND wait IS NULL
                                     THEN attempt + 1 ELSE attempt END,
                      lost_leases = CASE WHEN state = 'running'
                                         THEN lost_leases + 1 ELSE lost_leases END",
                due,
                limit: "$4",
                returning: CLAIMED_COLUMNS,
            }
            .sql(self.inner.dialect);
            let rows = sqlx::query(&sql)
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .bind(left)
                .fetch_all(&self.inner.writer)
                .await?;
            for row in &rows {
                steps.push(claimed_step(row)?);
            }
        }
        steps.sort_by_key(|s| s.id);
        Ok(steps)
    }

    async fn complete(&self, completions: &[Completion], now: Millis) -> Result<Vec<Completed>> {
        let mut tx = self.begin().await?;
        let mut out = vec![Completed::Fenced; completions.len()];
        let (simple, other): (Vec<_>, Vec<_>) = completions
            .iter()
            .enumerate()
            .partition(|(_, c)| batch::is_simple(c));
        let simple_completions: Vec<&Completion> = simple.iter().map(|(_, c)| *c).collect();
        let (results, mut added_work) =
            batch::record(&mut tx, self.inner.dialect, &simple_completions, now).await?;
        for ((index, _), result) in simple.iter().zip(results) {
            out[*index] = result;
        }
        for (index, c) in other {
            let (result, work) =
                complete::record_isolated(&mut tx, self.inner.dialect, c, now).await?;
            added_work |= work;
            out[index] = result;
        }
        if added_work {
            self.notify(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn extend_leases(&self, leases: &[(i64, i64)], until: Millis) -> Result<Vec<i64>> {
        // One autocommit statement per lease: a renewal never holds one row while waiting for
        // another, so it cannot deadlock with a commit batch touching the same steps.
        let mut lost = Vec::new();
        for (id, token) in leases {
            let affected = sqlx::query(
                "UPDATE steps SET due_at = $1
                 WHERE id = $2 AND lease_token = $3 AND state = 'running'",
            )
            .bind(until)
            .bind(id)
            .bind(token)
            .execute(&self.inner.writer)
            .await?
            .rows_affected();
            if affected == 0 {
                lost.push(*id);
            }
        }
        Ok(lost)
    }

    async fn next_due(&self) -> Result<Option<Millis>> {
        let row = sqlx::query(&format!("SELECT MIN(due_at) FROM steps WHERE {OPEN}"))
            .fetch_one(&self.inner.reader)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    async fn queue_depth(&self) -> Result<Vec<(StepState, i64)>> {
        let rows = sqlx::query(&format!(
            "SELECT state, COUNT(*) FROM steps WHERE {OPEN} GROUP BY state"
        ))
        .fetch_all(&self.inner.reader)
        .await?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get(0)?;
                let count: i64 = row.try_get(1)?;
                Ok((
                    StepState::parse(&state).unwrap_or(StepState::Pending),
                    count,
                ))
            })
            .collect()
    }

    async fn step_inputs(&self, steps: &[ClaimedStep]) -> Result<Vec<StepInput>> {
        let mut by_event: HashMap<i64, serde_json::Map<String, Value>> = HashMap::new();
        // Steps of a fan-out share their input event: walk each ancestry once.
        let mut events: Vec<i64> = steps.iter().filter_map(|s| s.input_event_id).collect();
        events.sort_unstable();
        events.dedup();
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            // Walk up every input event's ancestry at once; per origin, nearer events overwrite
            // farther ones.
            let list = self.inner.dialect.params(chunk.len(), 1);
            let sql = format!(
                "WITH RECURSIVE chain (origin, id, parent_id, action_id, payload, depth) AS (
                     SELECT id, id, parent_id, action_id, payload, 0 FROM events
                     WHERE id IN ({list})
                     UNION ALL
                     SELECT c.origin, e.id, e.parent_id, e.action_id, e.payload, c.depth + 1
                     FROM {parent}
                 )
                 SELECT origin, action_id, payload FROM chain ORDER BY origin, depth DESC",
                parent = self.inner.dialect.parent_join("chain")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.inner.reader).await? {
                let origin: i64 = row.try_get(0)?;
                let action: String = row.try_get(1)?;
                let payload: String = row.try_get(2)?;
                by_event
                    .entry(origin)
                    .or_default()
                    .insert(action, serde_json::from_str(&payload)?);
            }
        }
        // The last step reading an event takes its outputs; only the others copy them.
        let mut readers: HashMap<i64, usize> = HashMap::new();
        for id in steps.iter().filter_map(|s| s.input_event_id) {
            *readers.entry(id).or_default() += 1;
        }
        Ok(steps
            .iter()
            .map(|step| {
                let outputs = step.input_event_id.and_then(|id| {
                    let left = readers.get_mut(&id)?;
                    *left -= 1;
                    if *left == 0 {
                        by_event.remove(&id)
                    } else {
                        by_event.get(&id).cloned()
                    }
                });
                StepInput {
                    run_started_at: step.run_started_at,
                    outputs: outputs.unwrap_or_default(),
                }
            })
            .collect())
    }

    async fn last_event(&self, run_id: &str) -> Result<Option<EventRecord>> {
        sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE run_id = $1 ORDER BY id DESC LIMIT 1"
        ))
        .bind(run_id)
        .fetch_optional(&self.inner.reader)
        .await?
        .as_ref()
        .map(event_record)
        .transpose()
    }
}

/// A [`CLAIMED_COLUMNS`] row.
fn claimed_step(row: &AnyRow) -> Result<ClaimedStep> {
    Ok(ClaimedStep {
        id: row.try_get("id")?,
        run_id: row.try_get("run_id")?,
        story_id: row.try_get("story_id")?,
        story_version: row.try_get("story_version")?,
        run_started_at: row.try_get("run_started_at")?,
        action_id: row.try_get("action_id")?,
        input_event_id: row.try_get("input_event_id")?,
        attempt: row.try_get("attempt")?,
        lost_leases: row.try_get("lost_leases")?,
        lease_token: row.try_get("lease_token")?,
        wait: parse_json(row.try_get("wait")?)?,
    })
}
