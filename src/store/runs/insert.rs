//! Writing a run with its entry step, entry event and first steps: inside the caller's
//! transaction, for [`Runs::create_runs`](super::Runs::create_runs) and for completions that
//! start child runs (`send_to_story`); or, where the database can, as one statement of its own
//! for a webhook's run (`insert_run_at_once`).

use super::{NewRun, RunCreated};
use crate::run::{Emitted, Millis, RunStatus};
use crate::store::sql::json_text;
use crate::store::Result;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row};

/// The columns a new step is inserted with (an entry step adds `finished_at`: it is born done).
pub(in crate::store) const STEP_INSERT: &str =
    "INSERT INTO steps (run_id, story_id, story_version, run_started_at, action_id, input_event_id,
                        state, attempt, lease_token, due_at, created_at, updated_at";

/// The columns a new event is inserted with.
pub(in crate::store) const EVENT_INSERT: &str =
    "INSERT INTO events (run_id, parent_id, step_id, action_id, seq, link, payload, created_at)";

/// Inserts a run's row unless its dedupe key is taken, returning its id; `$1`–`$10` are bound by
/// [`run_insert`].
const RUN_INSERT: &str =
    "INSERT INTO runs (id, story_id, story_version, status, dedupe_key, dedupe_expires_at,
                       parent_step_id, open_steps, failed_steps, created_at, updated_at, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9, $10)
     ON CONFLICT (story_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
     RETURNING id";

/// `sql`, a statement that starts with [`RUN_INSERT`]'s parameters, with them bound for `run`: a
/// run without receivers is born finished.
fn run_insert<'q>(sql: &'q str, run: &'q NewRun, now: Millis) -> Query<'q, Any, AnyArguments<'q>> {
    let open = run.receivers.len() as i64;
    let (status, finished_at) = if open == 0 {
        (RunStatus::Succeeded.as_str(), Some(now))
    } else {
        (RunStatus::Running.as_str(), None)
    };
    sqlx::query(sql)
        .bind(&run.id)
        .bind(&run.story_id)
        .bind(&run.story_version)
        .bind(status)
        .bind(run.dedupe.as_ref().map(|(key, _)| key.as_str()))
        .bind(run.dedupe.as_ref().map(|(_, until)| *until))
        .bind(run.parent_step_id)
        .bind(open)
        .bind(now)
        .bind(finished_at)
}

/// Inserts one run with its entry step, event and first steps, unless its dedupe key is live.
pub(in crate::store) async fn insert_run(
    conn: &mut AnyConnection,
    run: &NewRun,
    now: Millis,
) -> Result<RunCreated> {
    let dedupe_key = run.dedupe.as_ref().map(|(key, _)| key.as_str());
    if let Some(key) = dedupe_key {
        // An expired key no longer blocks: release it so the unique index admits the new run.
        sqlx::query(
            "UPDATE runs SET dedupe_key = NULL
             WHERE story_id = $1 AND dedupe_key = $2 AND dedupe_expires_at <= $3",
        )
        .bind(&run.story_id)
        .bind(key)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    let inserted = run_insert(RUN_INSERT, run, now)
        .fetch_optional(&mut *conn)
        .await?;
    if inserted.is_none() {
        let earlier: String =
            sqlx::query("SELECT id FROM runs WHERE story_id = $1 AND dedupe_key = $2")
                .bind(&run.story_id)
                .bind(dedupe_key)
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?;
        return Ok(RunCreated::Duplicate(earlier));
    }
    let entry_step: i64 = sqlx::query(&format!(
        "{STEP_INSERT}, finished_at)
         VALUES ($1, $2, $3, $5, $4, NULL, 'succeeded', 1, 0, $5, $5, $5, $5)
         RETURNING id"
    ))
    .bind(&run.id)
    .bind(&run.story_id)
    .bind(&run.story_version)
    .bind(&run.entry_action)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    let event = Emitted {
        link: "default",
        payload: run.payload.clone(),
        receivers: run.receivers.clone(),
    };
    let run_ref = RunRef {
        id: &run.id,
        story_id: &run.story_id,
        story_version: &run.story_version,
        started_at: now,
    };
    insert_event(
        conn,
        &run_ref,
        entry_step,
        &run.entry_action,
        None,
        (0, &event),
        now,
    )
    .await?;
    Ok(RunCreated::New(run.id.clone()))
}

/// Postgres: a new run with its entry step, entry event and first steps, and the runner's
/// wake-up, as one statement outside any explicit transaction, so a webhook's acknowledgement
/// waits on one round trip instead of eight (each of which, on a busy machine, waits for the
/// database's process to be scheduled). `None` when the run's dedupe key is taken, live or
/// expired: nothing was written, and the caller takes [`insert_run`]'s path.
pub(super) async fn insert_run_at_once(
    conn: &mut AnyConnection,
    run: &NewRun,
    now: Millis,
) -> Result<Option<RunCreated>> {
    // Data-modifying CTEs run once each, whether the final SELECT reads them or not; each reads
    // the rows the one before it returned, so nothing is written past a dedupe conflict.
    let sql = format!(
        "WITH run AS ({RUN_INSERT}), entry AS (
             {STEP_INSERT}, finished_at)
             SELECT id, $2, $3, $9, $11, NULL, 'succeeded', 1, 0, $9, $9, $9, $9 FROM run
             RETURNING id
         ), event AS (
             {EVENT_INSERT}
             SELECT $1, NULL, entry.id, $11, 0, 'default', $12, $9 FROM entry
             RETURNING id
         ), first_steps AS (
             {STEP_INSERT})
             SELECT $1, $2, $3, $9, receiver, event.id, 'pending', 0, 0, $9, $9, $9
             FROM event, json_array_elements_text($13::json) WITH ORDINALITY AS r (receiver, n)
             ORDER BY n
         )
         SELECT id, (SELECT count(*) FROM (SELECT pg_notify($14, '') FROM event WHERE $8 > 0) w)
         FROM run"
    );
    let created = run_insert(&sql, run, now)
        .bind(&run.entry_action)
        .bind(json_text(&run.payload))
        .bind(serde_json::to_string(&run.receivers)?)
        .bind(crate::store::postgres::WAKE_CHANNEL)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(created.map(|_| RunCreated::New(run.id.clone())))
}

/// What an event's receivers need to know about the run they belong to (copied onto each new
/// step, so claiming and running a step never reads the run row).
struct RunRef<'a> {
    id: &'a str,
    story_id: &'a str,
    story_version: &'a str,
    started_at: Millis,
}

/// Inserts an event and one pending step per receiver; returns the event's id.
async fn insert_event(
    conn: &mut AnyConnection,
    run: &RunRef<'_>,
    step_id: i64,
    action_id: &str,
    parent_id: Option<i64>,
    (seq, event): (usize, &Emitted),
    now: Millis,
) -> Result<i64> {
    let event_id: i64 = sqlx::query(&format!(
        "{EVENT_INSERT} VALUES ($1, $2, $3, $4, $8, $5, $6, $7) RETURNING id"
    ))
    .bind(run.id)
    .bind(parent_id)
    .bind(step_id)
    .bind(action_id)
    .bind(event.link)
    .bind(json_text(&event.payload))
    .bind(now)
    .bind(seq as i64)
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    let new_step =
        format!("{STEP_INSERT}) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, 0, $7, $7, $7)");
    for receiver in &event.receivers {
        sqlx::query(&new_step)
            .bind(run.id)
            .bind(run.story_id)
            .bind(run.story_version)
            .bind(run.started_at)
            .bind(receiver)
            .bind(event_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(event_id)
}
