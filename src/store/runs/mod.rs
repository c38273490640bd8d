//! [`Runs`]: creating runs (with their entry event and first steps) and reading them back with
//! their steps and events.

mod insert;
mod search;

use insert::insert_run_at_once;
pub(super) use insert::{insert_run, EVENT_INSERT, STEP_INSERT};
pub use search::SEARCH_WINDOW;

use super::connection::SqlStore;
use super::sql::{add, in_list, parse_json};
use super::Result;
use crate::run::{Millis, RunStatus, StepState, Wait};
use search::{Bind, Conditions};
use serde_json::Value;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::Row;
use std::future::Future;

/// A run to create, with its entry event and the steps that event starts.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// The run's id (a UUIDv7, so ids sort by time).
    pub id: String,
    /// The story it runs.
    pub story_id: String,
    /// The story version it pins.
    pub story_version: String,
    /// The entry action (a webhook) whose event starts the run.
    pub entry_action: String,
    /// The entry action's event.
    pub payload: Value,
    /// Actions that receive the entry event: one pending step each.
    pub receivers: Vec<String>,
    /// A key identifying the delivery, and until when it is remembered; a second run with the
    /// same story and live key is not created.
    pub dedupe: Option<(String, Millis)>,
    /// The waiting `send_to_story` step to wake when this run finishes.
    pub parent_step_id: Option<i64>,
}

/// The answer to creating a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunCreated {
    /// A new run with this id.
    New(String),
    /// The dedupe key matched this earlier run; nothing was created.
    Duplicate(String),
}

impl RunCreated {
    /// The run's id, new or earlier.
    pub fn run_id(&self) -> &str {
        match self {
            RunCreated::New(id) | RunCreated::Duplicate(id) => id,
        }
    }
}

/// A run as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Id.
    pub id: String,
    /// Story.
    pub story_id: String,
    /// Pinned version.
    pub story_version: String,
    /// Status.
    pub status: RunStatus,
    /// The delivery's dedupe key, when it had one.
    pub dedupe_key: Option<String>,
    /// Created.
    pub created_at: Millis,
    /// Last changed.
    pub updated_at: Millis,
    /// Finished, when it has.
    pub finished_at: Option<Millis>,
    /// The run this one re-runs (same entry event), when it is a re-run.
    pub rerun_of: Option<String>,
}

/// A step as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// Id.
    pub id: i64,
    /// Action.
    pub action_id: String,
    /// State.
    pub state: StepState,
    /// Executions of its action started so far (takeovers after a lost lease do not count).
    pub attempt: i64,
    /// Times its lease expired while it ran and another claim took it over.
    pub lost_leases: i64,
    /// The event it ran on.
    pub input_event_id: Option<i64>,
    /// Its last failure.
    pub error: Option<Value>,
    /// Pending: when it runs; running: lease expiry; waiting: when it wakes.
    pub due_at: Millis,
    /// Waiting: what for.
    pub wait: Option<Wait>,
    /// Created.
    pub created_at: Millis,
    /// Finished, when it has.
    pub finished_at: Option<Millis>,
    /// Paths of event data its templates found missing and rendered empty.
    pub missing_data: Vec<String>,
    /// The failed step this one retries, when it is a retry.
    pub retry_of: Option<i64>,
}

/// An event as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Id.
    pub id: i64,
    /// The event it derives from.
    pub parent_id: Option<i64>,
    /// The step that emitted it (none for a webhook's entry event before its step existed).
    pub step_id: Option<i64>,
    /// The action that emitted it.
    pub action_id: String,
    /// `default`, `no_match` or `failure`.
    pub link: String,
    /// The event.
    pub payload: Value,
    /// Created.
    pub created_at: Millis,
}

/// Which runs to list, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    /// Only this story.
    pub story_id: Option<String>,
    /// Only this status.
    pub status: Option<RunStatus>,
    /// Only runs older than this id (paging).
    pub before: Option<String>,
    /// Only runs whose entry event's JSON text contains this text (case-insensitive for ASCII).
    pub q: Option<String>,
    /// Only runs created at or after this time.
    pub since: Option<Millis>,
    /// Only runs created before this time.
    pub until: Option<Millis>,
    /// At most this many (capped at 500).
    pub limit: u32,
}

/// Creating and reading runs.
pub trait Runs {
    /// Creates runs with their entry events and first steps, each atomically; a live dedupe key
    /// returns the earlier run instead.
    fn create_runs(
        &self,
        runs: &[NewRun],
        now: Millis,
    ) -> impl Future<Output = Result<Vec<RunCreated>>> + Send;
    /// One run.
    fn run(&self, id: &str) -> impl Future<Output = Result<Option<RunRecord>>> + Send;
    /// Runs, newest first.
    fn list_runs(&self, filter: &RunFilter) -> impl Future<Output = Result<Vec<RunRecord>>> + Send;
    /// A run's steps in creation order.
    fn run_steps(&self, id: &str) -> impl Future<Output = Result<Vec<StepRecord>>> + Send;
    /// A run's events in creation order.
    fn run_events(&self, id: &str) -> impl Future<Output = Result<Vec<EventRecord>>> + Send;
}

/// Whether a run has a step that is not waiting: `running` is stored, `waiting` is derived (a
/// stored `running` run whose open steps all wait). A macro so [`RUN_COLUMNS`] can include it.
macro_rules! busy {
    () => {
        "EXISTS (SELECT 1 FROM steps s WHERE s.run_id = runs.id
                 AND s.state IN ('pending', 'running'))"
    };
}

/// A [`RunRecord`]'s columns, with whether the run only waits.
pub(super) const RUN_COLUMNS: &str = concat!(
    "id, story_id, story_version, status, dedupe_key, created_at, updated_at, finished_at,
     rerun_of, CASE WHEN status = 'running' AND NOT ",
    busy!(),
    " THEN 1 ELSE 0 END AS all_waiting"
);

/// A [`StepRecord`]'s columns.
pub(super) const STEP_COLUMNS: &str =
    "id, action_id, state, attempt, lost_leases, input_event_id, error, due_at, wait, created_at,
     finished_at, missing_data, retry_of";

/// An [`EventRecord`]'s columns.
pub(super) const EVENT_COLUMNS: &str =
    "id, parent_id, step_id, action_id, link, payload, created_at";

impl Runs for SqlStore {
    async fn create_runs(&self, runs: &[NewRun], now: Millis) -> Result<Vec<RunCreated>> {
        if let ([run], true) = (runs, self.inner.dialect.writes_runs_at_once()) {
            // A webhook's run: one statement, unless its dedupe key is taken.
            let mut conn = self.inner.writer.acquire().await?;
            if let Some(created) = insert_run_at_once(&mut conn, run, now).await? {
                return Ok(vec![created]);
            }
        }
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
        let stored_status = filter.status.map(|s| match s {
            RunStatus::Waiting => RunStatus::Running,
            other => other,
        });
        // Only the filters given are in the statement, so each backend can pick the index that
        // serves them (`runs_story`, `runs_status`, `runs_created`) instead of scanning by id.
        let mut conditions = Conditions::default();
        if let Some(story) = &filter.story_id {
            conditions.push("story_id = {}", vec![Bind::Text(story.clone())]);
        }
        if let Some(status) = stored_status {
            conditions.push("status = {}", vec![Bind::Text(status.as_str().to_owned())]);
        }
        if let Some(before) = &filter.before {
            conditions.push("id < {}", vec![Bind::Text(before.clone())]);
        }
        if let Some(since) = filter.since {
            conditions.push("created_at >= {}", vec![Bind::Int(since)]);
        }
        if let Some(until) = filter.until {
            conditions.push("created_at < {}", vec![Bind::Int(until)]);
        }
        match filter.status {
            Some(RunStatus::Running) => conditions.push(busy!(), Vec::new()),
            Some(RunStatus::Waiting) => conditions.push(concat!("NOT ", busy!()), Vec::new()),
            _ => {}
        }
        let limit = i64::from(filter.limit.clamp(1, 500));
        let rows = match filter.q.as_deref().filter(|q| !q.is_empty()) {
            // The page's ids first, then their rows: the columns, and the per-run `EXISTS` that
            // tells waiting from running, are read for the page only, not for every run of a
            // time range before it is sorted (`runs_created` holds the ids).
            None => {
                let limit = conditions.placeholder(Bind::Int(limit));
                sqlx::query_with(
                    &format!(
                        "SELECT {RUN_COLUMNS} FROM runs WHERE id IN
                           (SELECT id FROM runs {} ORDER BY id DESC LIMIT {limit})
                         ORDER BY id DESC",
                        conditions.where_clause()
                    ),
                    conditions.args()?,
                )
                .fetch_all(&self.inner.reader)
                .await?
            }
            Some(q) => {
                let ids = self.search_run_ids(&conditions, q, limit).await?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut args = AnyArguments::default();
                for id in &ids {
                    add(&mut args, id.as_str())?;
                }
                sqlx::query_with(
                    &format!(
                        "SELECT {RUN_COLUMNS} FROM runs WHERE id IN ({}) ORDER BY id DESC",
                        in_list(1, ids.len())
                    ),
                    args,
                )
                .fetch_all(&self.inner.reader)
                .await?
            }
        };
        rows.iter().map(run_record).collect()
    }

    async fn run_steps(&self, id: &str) -> Result<Vec<StepRecord>> {
        sqlx::query(&format!(
            "SELECT {STEP_COLUMNS} FROM steps WHERE run_id = $1 ORDER BY id"
        ))
        .bind(id)
        .fetch_all(&self.inner.reader)
        .await?
        .iter()
        .map(step_record)
        .collect()
    }

    async fn run_events(&self, id: &str) -> Result<Vec<EventRecord>> {
        sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE run_id = $1 ORDER BY id"
        ))
        .bind(id)
        .fetch_all(&self.inner.reader)
        .await?
        .iter()
        .map(event_record)
        .collect()
    }
}

/// A [`RUN_COLUMNS`] row.
pub(super) fn run_record(row: &AnyRow) -> Result<RunRecord> {
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
        rerun_of: row.try_get("rerun_of")?,
    })
}

/// A [`STEP_COLUMNS`] row.
pub(super) fn step_record(row: &AnyRow) -> Result<StepRecord> {
    let state: String = row.try_get("state")?;
    Ok(StepRecord {
        id: row.try_get("id")?,
        action_id: row.try_get("action_id")?,
        state: StepState::parse(&state).unwrap_or(StepState::Pending),
        attempt: row.try_get("attempt")?,
        lost_leases: row.try_get("lost_leases")?,
        input_event_id: row.try_get("input_event_id")?,
        error: parse_json(row.try_get("error")?)?,
        due_at: row.try_get("due_at")?,
        wait: parse_json(row.try_get("wait")?)?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
        missing_data: parse_json(row.try_get("missing_data")?)?.unwrap_or_default(),
        retry_of: row.try_get("retry_of")?,
    })
}

/// An [`EVENT_COLUMNS`] row.
pub(super) fn event_record(row: &AnyRow) -> Result<EventRecord> {
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
