//! Persistence for the durable runner: small capability traits, their records, and one SQL
//! implementation ([`SqlStore`]) that speaks to SQLite (embedded default) and Postgres.
//!
//! Both backends share every statement (`$n` placeholders work in both) and differ only where the
//! databases do: claiming (`FOR UPDATE SKIP LOCKED` on Postgres), wake-ups (`LISTEN/NOTIFY`) and
//! connection setup. See `sqlite.rs` and `postgres.rs`.

mod batch;
mod detections;
mod migrate;
pub mod postgres;
mod prompts;
mod sql;
pub mod sqlite;

pub use sql::{redact_url, Dialect, SqlStore, DEFAULT_DATABASE_URL};

pub use crate::detect::alerting::{FirstMatch, Window, WindowPolicy};

use crate::run::{DeliveryState, Millis, PromptState, RunStatus, StepEnd, StepState, Wait};
use serde_json::Value;
use std::future::Future;

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored JSON value does not parse (the database was edited by hand, or is corrupt).
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    /// The database URL is not one Warden can use.
    #[error("unsupported database URL `{0}`: use sqlite://FILE or postgres://…")]
    UnsupportedUrl(String),
    /// A stored state name this build does not know (a newer Warden wrote it, or a hand edit).
    #[error("stored state `{0}` is unknown")]
    UnknownState(String),
    /// The database holds migrations this build does not know (a newer Warden wrote it).
    #[error("the database was migrated by a newer Warden (migration {0} is unknown)")]
    UnknownMigration(i64),
}

impl Error {
    /// A conflict the database resolved by aborting this transaction (a Postgres deadlock or
    /// serialization failure, SQLite busy): the same work may simply be tried again.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Database(sqlx::Error::Database(e)) => {
                matches!(
                    e.code().as_deref(),
                    Some("40P01" | "40001" | "5" | "6" | "517")
                )
            }
            Error::Database(sqlx::Error::PoolTimedOut) => true,
            _ => false,
        }
    }
}

/// Results of store calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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

/// A step leased to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedStep {
    /// Step id.
    pub id: i64,
    /// Its run.
    pub run_id: String,
    /// Its run's story.
    pub story_id: String,
    /// The story version its run pinned.
    pub story_version: String,
    /// When its run started.
    pub run_started_at: Millis,
    /// The action it runs.
    pub action_id: String,
    /// The event it runs on.
    pub input_event_id: Option<i64>,
    /// Executions so far, this one included (a wake-up from waiting does not count).
    pub attempt: i64,
    /// The fencing token: a completion is recorded only while this is still the step's token.
    pub lease_token: i64,
    /// Why it was waiting, when this claim is a wake-up rather than an execution.
    pub wait: Option<Wait>,
}

/// What a step's action sees: its run and the outputs of its ancestors.
#[derive(Debug, Clone, PartialEq)]
pub struct StepInput {
    /// When the run started.
    pub run_started_at: Millis,
    /// Ancestor outputs keyed by action id, oldest first.
    pub outputs: serde_json::Map<String, Value>,
}

/// A compare-and-set of one action's persisted state, applied with the completion or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct StateWrite {
    /// The story.
    pub story_id: String,
    /// The action.
    pub action_id: String,
    /// The key within the action (a dedupe scope, a throttle key, an implode group).
    pub key: String,
    /// The state read before computing; the write fails if it changed meanwhile.
    pub expected: Option<String>,
    /// The state to store.
    pub new: String,
}

/// A leased step's result, recorded in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The step.
    pub step_id: i64,
    /// The lease it holds.
    pub lease_token: i64,
    /// Its run.
    pub run_id: String,
    /// Its run's story (copied onto the steps it creates).
    pub story_id: String,
    /// Its run's pinned version (copied onto the steps it creates).
    pub story_version: String,
    /// When its run started (copied onto the steps it creates).
    pub run_started_at: Millis,
    /// Its action.
    pub action_id: String,
    /// The event it ran on (parent of what it emits).
    pub input_event_id: Option<i64>,
    /// How it ends.
    pub end: StepEnd,
    /// An action-state update that must commit with it.
    pub state_write: Option<StateWrite>,
    /// Runs it starts (`send_to_story`).
    pub start_runs: Vec<NewRun>,
    /// Waiting steps to wake now (an implode group that filled).
    pub wake_steps: Vec<i64>,
}

impl Completion {
    /// The step's result under the lease it was claimed with, with no other effects.
    pub fn new(step: &ClaimedStep, end: StepEnd) -> Completion {
        Completion {
            step_id: step.id,
            lease_token: step.lease_token,
            run_id: step.run_id.clone(),
            story_id: step.story_id.clone(),
            story_version: step.story_version.clone(),
            run_started_at: step.run_started_at,
            action_id: step.action_id.clone(),
            input_event_id: step.input_event_id,
            end,
            state_write: None,
            start_runs: Vec::new(),
            wake_steps: Vec::new(),
        }
    }
}

/// What happened to one completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completed {
    /// Recorded. `Some` when it was the run's last open step.
    Recorded(Option<RunStatus>),
    /// The lease was lost (expired and re-claimed): nothing was recorded.
    Fenced,
    /// The action state changed since it was read: nothing was recorded; compute again.
    StateConflict,
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
    /// Executions so far.
    pub attempt: i64,
    /// The event it ran on.
    pub input_event_id: Option<i64>,
    /// Its last failure.
    pub error: Option<Value>,
    /// Pending: when it runs; running: lease expiry; waiting: when it wakes.
    pub due_at: Millis,
    /// Created.
    pub created_at: Millis,
    /// Finished, when it has.
    pub finished_at: Option<Millis>,
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

/// The step queue: leasing, completing, waking.
pub trait Queue {
    /// Leases up to `limit` due steps (pending, waiting past their time, or running with an expired
    /// lease) to `owner` until `lease_until`.
    fn claim(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ClaimedStep>>> + Send;
    /// Records completions, each in its own all-or-nothing unit, in as few transactions as possible.
    fn complete(
        &self,
        completions: &[Completion],
        now: Millis,
    ) -> impl Future<Output = Result<Vec<Completed>>> + Send;
    /// Extends leases still held; returns the ids whose lease was lost.
    fn extend_leases(
        &self,
        leases: &[(i64, i64)],
        until: Millis,
    ) -> impl Future<Output = Result<Vec<i64>>> + Send;
    /// The earliest due time of any open step.
    fn next_due(&self) -> impl Future<Output = Result<Option<Millis>>> + Send;
    /// Open steps by state.
    fn queue_depth(&self) -> impl Future<Output = Result<Vec<(StepState, i64)>>> + Send;
    /// What claimed steps see, in their order: each run's start and each step's ancestors'
    /// outputs (one query for the whole batch).
    fn step_inputs(
        &self,
        steps: &[ClaimedStep],
    ) -> impl Future<Output = Result<Vec<StepInput>>> + Send;
    /// A finished run's last event (what `send_to_story` with `wait` emits).
    fn last_event(&self, run_id: &str) -> impl Future<Output = Result<Option<EventRecord>>> + Send;
}

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

/// Per-action state (dedupe memory, throttle slots, implode groups).
pub trait ActionStates {
    /// The state under a key, as stored.
    fn action_state(
        &self,
        story_id: &str,
        action_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>>> + Send;
}

/// A rule match to record: the event (normalised, with its `p_rule_*` fields) and what its
/// window needs. The store fills in `p_alert_id`.
#[derive(Debug, Clone)]
pub struct NewMatch {
    /// `p_rule_id`.
    pub rule_id: String,
    /// The rule's dedup period and threshold.
    pub policy: WindowPolicy,
    /// The dedup string.
    pub dedup: String,
    /// `p_log_type`.
    pub log_type: String,
    /// `p_event_time`, anchoring windows.
    pub event_time: Millis,
    /// The generated fields, kept if this match opens a window.
    pub first: FirstMatch,
    /// The normalised event.
    pub event: Value,
}

/// An alert to create: built by the caller when a window reaches its threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// The alert id (Panther's `alertId`).
    pub id: String,
    /// `RULE` or `SCHEDULED_RULE`.
    pub alert_type: String,
    /// The severity.
    pub severity: String,
    /// The title, as sent.
    pub title: String,
    /// The log type of the window's first match.
    pub log_type: String,
    /// Panther's webhook body, as delivered.
    pub notification: Value,
    /// Destination ids to deliver to, each exactly once.
    pub destinations: Vec<String>,
}

/// What recording a batch of matches did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedMatches {
    /// Matches stored.
    pub matches: usize,
    /// Alerts created, in order.
    pub alerts: Vec<String>,
    /// Deliveries queued.
    pub deliveries: usize,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AlertRecord {
    /// The alert id.
    pub id: String,
    /// `RuleID`.
    pub rule_id: String,
    /// `RULE` or `SCHEDULED_RULE`.
    pub alert_type: String,
    /// The severity.
    pub severity: String,
    /// The title.
    pub title: String,
    /// The dedup string.
    pub dedup: String,
    /// Matches merged into the alert's window so far.
    pub event_count: i64,
    /// Panther's webhook body.
    pub notification: Value,
    /// Creation (milliseconds).
    pub created_at: Millis,
    /// Last merge (milliseconds).
    pub updated_at: Millis,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Only this rule.
    pub rule_id: Option<String>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Only alerts created before this time (paging).
    pub before: Option<Millis>,
    /// At most this many (capped at 500).
    pub limit: u32,
}

/// One delivery of an alert to one destination.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeliveryRecord {
    /// Row id.
    pub id: i64,
    /// The alert.
    pub alert_id: String,
    /// The destination id.
    pub destination: String,
    /// Where it is.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: i64,
    /// When it is next due (pending) or was last tried.
    pub due_at: Millis,
    /// The run a story destination started.
    pub run_id: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
}

/// A delivery leased to this process, with the body to send.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// The delivery.
    pub delivery: DeliveryRecord,
    /// Panther's webhook body.
    pub notification: Value,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// Accepted (2xx, or a run created).
    Delivered {
        /// The run a story destination started.
        run_id: Option<String>,
    },
    /// Try again at `due_at`.
    Retry {
        /// When.
        due_at: Millis,
        /// Why this attempt failed.
        error: String,
    },
    /// Given up.
    Failed {
        /// Why.
        error: String,
    },
}

/// The detection stage's records: dedup windows, matches, alerts and their deliveries, source
/// checkpoints and scheduled-query runs.
pub trait Detections {
    /// Records `matches` in one transaction: merges each into its window (Panther's semantics,
    /// see `detect::alerting`), stores it with its `p_alert_id`, creates the alert of every window
    /// that reaches its threshold (`alert_for` builds it from the match and the window) with one
    /// pending delivery per destination, and stores `checkpoint` (source, position) with them.
    fn record_matches(
        &self,
        matches: Vec<NewMatch>,
        checkpoint: Option<(&str, &str)>,
        now: Millis,
        alert_for: &(dyn Fn(&NewMatch, &Window) -> NewAlert + Send + Sync),
    ) -> impl Future<Output = Result<RecordedMatches>> + Send;
    /// A source's stored position.
    fn checkpoint(&self, source: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Alerts, newest first.
    fn list_alerts(
        &self,
        filter: &AlertFilter,
    ) -> impl Future<Output = Result<Vec<AlertRecord>>> + Send;
    /// One alert and its deliveries.
    fn alert(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<(AlertRecord, Vec<DeliveryRecord>)>>> + Send;
    /// Stored matches of `rule_ids` with an event time at or after `since`, oldest first.
    fn matches_since(
        &self,
        rule_ids: &[String],
        since: Millis,
    ) -> impl Future<Output = Result<Vec<Value>>> + Send;
    /// Leases up to `limit` due deliveries until `lease_until`.
    fn claim_deliveries(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<DueDelivery>>> + Send;
    /// Records how an attempt ended.
    fn finish_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
        now: Millis,
    ) -> impl Future<Output = Result<()>> + Send;
    /// When a scheduled query last ran (its scheduled time).
    fn query_last_run(&self, name: &str) -> impl Future<Output = Result<Option<Millis>>> + Send;
    /// Records a scheduled query's run, unless another process recorded a later one first;
    /// returns whether this call recorded it (and so owns the run).
    fn claim_query_run(
        &self,
        name: &str,
        previous: Option<Millis>,
        scheduled_at: Millis,
    ) -> impl Future<Output = Result<bool>> + Send;
}

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

/// Rate limits bound to credentials: token buckets shared by every worker.
pub trait RateLimits {
    /// Takes a token from `key`'s bucket (with no `limit`, only checks whether the vendor said
    /// the budget is spent): `Ok` to go ahead, or the time to try again.
    fn take_token(
        &self,
        key: &str,
        limit: Option<crate::ratelimit::Limit>,
        now: Millis,
    ) -> impl Future<Output = Result<std::result::Result<(), Millis>>> + Send;
    /// The vendor said `key`'s budget is spent until `until`.
    fn block_until(
        &self,
        key: &str,
        until: Millis,
        now: Millis,
    ) -> impl Future<Output = Result<()>> + Send;
}
