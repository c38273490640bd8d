//! The one implementation of the store traits, over sqlx's `Any` driver. Statements are written
//! once, in SQL both databases accept; [`Dialect`] picks the few that differ.

use super::{
    ActionStates, ClaimedStep, Completed, Completion, Error, EventRecord, NewRun, Queue, Result,
    RunCreated, RunFilter, RunRecord, Runs, StateWrite, StepInput, StepRecord, Versions,
};
use crate::run::{Emitted, Millis, RunStatus, StepEnd, StepState};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};
use std::sync::Arc;

/// Which database is behind the pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// An embedded SQLite file: one writer connection, several readers.
    Sqlite,
    /// A Postgres server shared by any number of processes.
    Postgres,
}

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct SqlStore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) dialect: Dialect,
    /// All writes go through here (for SQLite: exactly one connection, so writers never contend).
    pub(super) writer: AnyPool,
    /// Reads.
    pub(super) reader: AnyPool,
    /// Postgres only: the URL the wake-up listener connects to.
    listen_url: Option<String>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("dialect", &self.inner.dialect)
            .finish_non_exhaustive()
    }
}

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://warden.db";

/// Open step states, as the partial index `steps_due` lists them.
const OPEN: &str = "state IN ('pending', 'running', 'waiting')";

impl SqlStore {
    /// Connects to `url` (`sqlite://FILE` or `postgres://…`) and applies pending migrations.
    pub async fn open(url: &str) -> Result<SqlStore> {
        let store = SqlStore::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects to `url` without migrating.
    pub async fn connect(url: &str) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let store = if url.starts_with("sqlite:") && url.contains(":memory:") {
            // Each pooled connection would open its own empty database.
            return Err(Error::UnsupportedUrl(format!(
                "{url} (in-memory SQLite is not supported; use a file)"
            )));
        } else if url.starts_with("sqlite:") {
            let (writer, reader) = super::sqlite::connect(url).await?;
            SqlStore::from_parts(Dialect::Sqlite, writer, reader, None)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = super::postgres::connect(url).await?;
            SqlStore::from_parts(Dialect::Postgres, pool.clone(), pool, Some(url.to_owned()))
        } else {
            return Err(Error::UnsupportedUrl(redact_url(url)));
        };
        Ok(store)
    }

    fn from_parts(
        dialect: Dialect,
        writer: AnyPool,
        reader: AnyPool,
        listen_url: Option<String>,
    ) -> SqlStore {
        SqlStore {
            inner: Arc::new(Inner {
                dialect,
                writer,
                reader,
                listen_url,
            }),
        }
    }

    /// Applies migrations the database lacks; returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        super::migrate::apply(&self.inner.writer, self.inner.dialect).await
    }

    /// The backend.
    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// Postgres: a stream of wake-ups when any process adds due work. SQLite: `None` (one process
    /// owns the file, and it wakes itself).
    pub async fn listen(&self) -> Result<Option<super::postgres::WakeListener>> {
        match &self.inner.listen_url {
            Some(url) => Ok(Some(super::postgres::WakeListener::connect(url).await?)),
            None => Ok(None),
        }
    }

    /// Closes the pools, waiting for connections in use.
    pub async fn close(&self) {
        self.inner.writer.close().await;
        self.inner.reader.close().await;
    }

    pub(super) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.inner.dialect {
            // Take the write lock up front: a deferred transaction that reads then writes can
            // fail instead of waiting.
            Dialect::Sqlite => self.inner.writer.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.inner.writer.begin().await?,
        })
    }

    /// Tells idle workers in other processes that work is due (Postgres; delivered on commit).
    pub(super) async fn notify(&self, conn: &mut AnyConnection) -> Result<()> {
        if self.inner.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(super::postgres::WAKE_CHANNEL)
                .execute(conn)
                .await?;
        }
        Ok(())
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn json_text(value: &Value) -> String {
    value.to_string()
}

fn parse_json<T: serde::de::DeserializeOwned>(text: Option<String>) -> Result<Option<T>> {
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(Error::from)
}

/// Inserts one run with its entry step, event and first steps, unless its dedupe key is live.
async fn insert_run(conn: &mut AnyConnection, run: &NewRun, now: Millis) -> Result<RunCreated> {
    let (dedupe_key, dedupe_expires_at) = match &run.dedupe {
        Some((key, until)) => {
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
            (Some(key.as_str()), Some(*until))
        }
        None => (None, None),
    };
    let open = run.receivers.len() as i64;
    let (status, finished_at) = if open == 0 {
        (RunStatus::Succeeded.as_str(), Some(now))
    } else {
        (RunStatus::Running.as_str(), None)
    };
    let inserted = sqlx::query(
        "INSERT INTO runs (id, story_id, story_version, status, dedupe_key, dedupe_expires_at,
                           parent_step_id, open_steps, failed_steps, created_at, updated_at,
                           finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9, $10)
         ON CONFLICT (story_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
         RETURNING id",
    )
    .bind(&run.id)
    .bind(&run.story_id)
    .bind(&run.story_version)
    .bind(status)
    .bind(dedupe_key)
    .bind(dedupe_expires_at)
    .bind(run.parent_step_id)
    .bind(open)
    .bind(now)
    .bind(finished_at)
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
    let entry_step: i64 = sqlx::query(
        "INSERT INTO steps (run_id, story_id, story_version, run_started_at, action_id,
                            input_event_id, state, attempt, lease_token, due_at, created_at,
                            updated_at, finished_at)
         VALUES ($1, $2, $3, $5, $4, NULL, 'succeeded', 1, 0, $5, $5, $5, $5)
         RETURNING id",
    )
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
    let event_id: i64 = sqlx::query(
        "INSERT INTO events (run_id, parent_id, step_id, action_id, seq, link, payload, created_at)
         VALUES ($1, $2, $3, $4, $8, $5, $6, $7)
         RETURNING id",
    )
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
    for receiver in &event.receivers {
        sqlx::query(
            "INSERT INTO steps (run_id, story_id, story_version, run_started_at, action_id,
                                input_event_id, state, attempt, lease_token, due_at, created_at,
                                updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, 0, $7, $7, $7)",
        )
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

/// Records one completion inside the caller's transaction. Writes nothing unless it returns
/// `Recorded` (the caller rolls back to a savepoint on `StateConflict`).
async fn record_completion(
    conn: &mut AnyConnection,
    c: &Completion,
    now: Millis,
) -> Result<(Completed, bool)> {
    let fenced = match &c.end {
        StepEnd::Done { state, error, .. } => sqlx::query(
            "UPDATE steps SET state = $1, error = $2, wait = NULL, lease_owner = NULL,
                              updated_at = $3, finished_at = $3
             WHERE id = $4 AND lease_token = $5 AND state = 'running'",
        )
        .bind(state.as_str())
        .bind(error.as_ref().map(json_text)),
        StepEnd::Retry { due_at, error } => sqlx::query(
            "UPDATE steps SET state = 'pending', error = $1, wait = NULL, lease_owner = NULL,
                              due_at = $2, updated_at = $3
             WHERE id = $4 AND lease_token = $5 AND state = 'running'",
        )
        .bind(json_text(error))
        .bind(*due_at),
        StepEnd::Wait { due_at, wait } => sqlx::query(
            "UPDATE steps SET state = 'waiting', wait = $1, lease_owner = NULL, due_at = $2,
                              updated_at = $3
             WHERE id = $4 AND lease_token = $5 AND state = 'running'",
        )
        .bind(serde_json::to_string(wait)?)
        .bind(*due_at),
    }
    .bind(now)
    .bind(c.step_id)
    .bind(c.lease_token)
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
        sqlx::query("UPDATE steps SET due_at = $1 WHERE id = $2 AND state = 'waiting'")
            .bind(now)
            .bind(step)
            .execute(&mut *conn)
            .await?;
        added_work = true;
    }
    if !matches!(c.end, StepEnd::Done { .. }) {
        return Ok((Completed::Recorded(None), added_work));
    }
    // Events, receivers' steps and run counters: the same statements as a batch of one.
    let (finished, work) = super::batch::emit(conn, &[c], now).await?;
    let status = finished.get(c.run_id.as_str()).map(|(status, _)| *status);
    Ok((Completed::Recorded(status), added_work || work))
}

/// Moves a waiting step's due time to now, so the runner picks it up.
pub(super) async fn wake_step(conn: &mut AnyConnection, step: i64, now: Millis) -> Result<()> {
    sqlx::query("UPDATE steps SET due_at = $1 WHERE id = $2 AND state = 'waiting'")
        .bind(now)
        .bind(step)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Compare-and-set of one action state; false when another step changed it first.
async fn write_state(conn: &mut AnyConnection, w: &StateWrite, now: Millis) -> Result<bool> {
    let affected = match &w.expected {
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

const RUN_COLUMNS: &str = "id, story_id, story_version, status, dedupe_key, created_at, updated_at,
     finished_at,
     CASE WHEN status = 'running' AND NOT EXISTS (
         SELECT 1 FROM steps s WHERE s.run_id = runs.id AND s.state IN ('pending', 'running'))
     THEN 1 ELSE 0 END AS all_waiting";

fn run_record(row: &AnyRow) -> Result<RunRecord> {
    let stored: String = row.try_get("status")?;
    let all_waiting: i64 = row.try_get("all_waiting")?;
    let status = match RunStatus::parse(&stored) {
        Some(RunStatus::Running) if all_waiting == 1 => RunStatus::Waiting,
        Some(status) => status,
        None => RunStatus::Running,
    };
    Ok(RunRecord {
        id: row.try_get("id")?,
        story_id: row.try_get("story_id")?,
        story_version: row.try_get("story_version")?,
        status,
        dedupe_key: row.try_get("dedupe_key")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

impl Runs for SqlStore {
    async fn create_runs(&self, runs: &[NewRun], now: Millis) -> Result<Vec<RunCreated>> {
        let mut tx = self.begin().await?;
        let mut out = Vec::with_capacity(runs.len());
        let mut added_work = false;
        for run in runs {
            let created = insert_run(&mut tx, run, now).await?;
            added_work |= matches!(created, RunCreated::New(_)) && !run.receivers.is_empty();
            out.push(created);
        }
        if added_work {
            self.notify(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn run(&self, id: &str) -> Result<Option<RunRecord>> {
        sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.inner.reader)
            .await?
            .as_ref()
            .map(run_record)
            .transpose()
    }

    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        // Waiting is derived: a stored `running` run whose open steps all wait.
        let busy = "EXISTS (SELECT 1 FROM steps s WHERE s.run_id = runs.id
                            AND s.state IN ('pending', 'running'))";
        let derived = match filter.status {
            Some(RunStatus::Running) => format!("AND {busy}"),
            Some(RunStatus::Waiting) => format!("AND NOT {busy}"),
            _ => String::new(),
        };
        let stored_status = filter.status.map(|s| match s {
            RunStatus::Waiting => RunStatus::Running,
            other => other,
        });
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs
             WHERE ($1 IS NULL OR story_id = $1) AND ($2 IS NULL OR status = $2)
               AND ($3 IS NULL OR id < $3) {derived}
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(filter.story_id.as_deref())
        .bind(stored_status.map(RunStatus::as_str))
        .bind(filter.before.as_deref())
        .bind(i64::from(filter.limit.clamp(1, 500)))
        .fetch_all(&self.inner.reader)
        .await?;
        rows.iter().map(run_record).collect()
    }

    async fn run_steps(&self, id: &str) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(
            "SELECT id, action_id, state, attempt, input_event_id, error, due_at, created_at,
                    finished_at
             FROM steps WHERE run_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.inner.reader)
        .await?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                Ok(StepRecord {
                    id: row.try_get("id")?,
                    action_id: row.try_get("action_id")?,
                    state: StepState::parse(&state).unwrap_or(StepState::Pending),
                    attempt: row.try_get("attempt")?,
                    input_event_id: row.try_get("input_event_id")?,
                    error: parse_json(row.try_get("error")?)?,
                    due_at: row.try_get("due_at")?,
                    created_at: row.try_get("created_at")?,
                    finished_at: row.try_get("finished_at")?,
                })
            })
            .collect()
    }

    async fn run_events(&self, id: &str) -> Result<Vec<EventRecord>> {
        let rows = sqlx::query(
            "SELECT id, parent_id, step_id, action_id, link, payload, created_at
             FROM events WHERE run_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.inner.reader)
        .await?;
        rows.iter().map(event_record).collect()
    }
}

fn event_record(row: &AnyRow) -> Result<EventRecord> {
    let payload: String = row.try_get("payload")?;
    Ok(EventRecord {
        id: row.try_get("id")?,
        parent_id: row.try_get("parent_id")?,
        step_id: row.try_get("step_id")?,
        action_id: row.try_get("action_id")?,
        link: row.try_get("link")?,
        payload: serde_json::from_str(&payload)?,
        created_at: row.try_get("created_at")?,
    })
}

impl Queue for SqlStore {
    async fn claim(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> Result<Vec<ClaimedStep>> {
        let lock = match self.inner.dialect {
            Dialect::Sqlite => "",
            // Concurrent claimers skip each other's rows instead of queueing behind them.
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE steps SET state = 'running', lease_token = lease_token + 1, lease_owner = $1,
                              due_at = $2, updated_at = $3,
                              attempt = CASE WHEN wait IS NULL THEN attempt + 1 ELSE attempt END
             WHERE id IN (SELECT id FROM steps WHERE {OPEN} AND due_at <= $3
                          ORDER BY due_at LIMIT $4 {lock})
             RETURNING id, run_id, story_id, story_version, run_started_at, action_id,
                       input_event_id, attempt, lease_token, wait"
        );
        // One statement, so no explicit transaction: it is atomic on its own.
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.inner.writer)
            .await?;
        let mut steps = rows
            .iter()
            .map(|row| {
                Ok(ClaimedStep {
                    id: row.try_get("id")?,
                    run_id: row.try_get("run_id")?,
                    story_id: row.try_get("story_id")?,
                    story_version: row.try_get("story_version")?,
                    run_started_at: row.try_get("run_started_at")?,
                    action_id: row.try_get("action_id")?,
                    input_event_id: row.try_get("input_event_id")?,
                    attempt: row.try_get("attempt")?,
                    lease_token: row.try_get("lease_token")?,
                    wait: parse_json(row.try_get("wait")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        steps.sort_by_key(|s| s.id);
        Ok(steps)
    }

    async fn complete(&self, completions: &[Completion], now: Millis) -> Result<Vec<Completed>> {
        let mut tx = self.begin().await?;
        let mut out = vec![Completed::Fenced; completions.len()];
        let (simple, other): (Vec<_>, Vec<_>) = completions
            .iter()
            .enumerate()
            .partition(|(_, c)| super::batch::is_simple(c));
        let simple_completions: Vec<&Completion> = simple.iter().map(|(_, c)| *c).collect();
        let (results, mut added_work) =
            super::batch::record(&mut tx, &simple_completions, now).await?;
        for ((index, _), result) in simple.iter().zip(results) {
            out[*index] = result;
        }
        for (index, c) in other {
            let guarded = c.state_write.is_some();
            if guarded {
                sqlx::query("SAVEPOINT completion")
                    .execute(&mut *tx)
                    .await?;
            }
            let (result, work) = record_completion(&mut tx, c, now).await?;
            if guarded {
                let end = if result == Completed::StateConflict {
                    "ROLLBACK TO SAVEPOINT completion"
                } else {
                    "RELEASE SAVEPOINT completion"
                };
                sqlx::query(end).execute(&mut *tx).await?;
            }
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
        let mut by_event: std::collections::HashMap<i64, serde_json::Map<String, Value>> =
            std::collections::HashMap::new();
        let events: Vec<i64> = steps.iter().filter_map(|s| s.input_event_id).collect();
        for chunk in events.chunks(500) {
            // Walk up every input event's ancestry at once; per origin, nearer events overwrite
            // farther ones.
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "WITH RECURSIVE chain (origin, id, parent_id, action_id, payload, depth) AS (
                     SELECT id, id, parent_id, action_id, payload, 0 FROM events
                     WHERE id IN ({list})
                     UNION ALL
                     SELECT c.origin, e.id, e.parent_id, e.action_id, e.payload, c.depth + 1
                     FROM events e JOIN chain c ON e.id = c.parent_id
                 )
                 SELECT origin, action_id, payload FROM chain ORDER BY origin, depth DESC"
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
        Ok(steps
            .iter()
            .map(|step| StepInput {
                run_started_at: step.run_started_at,
                outputs: step
                    .input_event_id
                    .and_then(|id| by_event.get(&id).cloned())
                    .unwrap_or_default(),
            })
            .collect())
    }

    async fn last_event(&self, run_id: &str) -> Result<Option<EventRecord>> {
        sqlx::query(
            "SELECT id, parent_id, step_id, action_id, link, payload, created_at
             FROM events WHERE run_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(run_id)
        .fetch_optional(&self.inner.reader)
        .await?
        .as_ref()
        .map(event_record)
        .transpose()
    }
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

impl ActionStates for SqlStore {
    async fn action_state(
        &self,
        story_id: &str,
        action_id: &str,
        key: &str,
    ) -> Result<Option<String>> {
        Ok(sqlx::query(
            "SELECT state FROM action_state WHERE story_id = $1 AND action_id = $2 AND key = $3",
        )
        .bind(story_id)
        .bind(action_id)
        .bind(key)
        .fetch_optional(&self.inner.reader)
        .await?
        .map(|row| row.try_get(0))
        .transpose()?)
    }
}

/// Reads a stored state name.
pub(super) fn stored_state<T>(text: String, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(&text).ok_or(Error::UnknownState(text))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn database_passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/warden"),
            "postgres://app:***@db:5432/warden"
        );
        assert_eq!(redact_url("sqlite://warden.db"), "sqlite://warden.db");
    }
}
