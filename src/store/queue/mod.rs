//! [`Queue`]: the step queue. Steps are leased (claimed with a fencing token), completed in
//! group-committed transactions, and woken when what they wait for happens.
//!
//! `steps.rs` holds the statements over the `steps` table, `complete.rs` the per-completion path
//! (retries, waits, state writes, child runs) and `batch.rs` the fast path for the common
//! completion.

mod batch;
mod complete;
mod steps;
mod workers;

pub(super) use complete::wake_step;
pub use workers::WorkerLock;

use super::runs::EventRecord;
use super::{NewRun, Result, StateWrite};
use crate::run::{Millis, RunStatus, StepEnd, StepState, Wait};
use serde_json::Value;
use std::future::Future;

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
    /// Executions of its action started so far, this one included: claims of the step while
    /// pending (a wake-up from waiting and a takeover after a lost lease do not count).
    pub attempt: i64,
    /// How many times its lease expired while it ran (its worker died or stalled) and another
    /// claim took it over, this claim included; bounded by the runner's poison limit.
    pub lost_leases: i64,
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
    /// Paths of event data its templates found missing (kept on the step; none keeps what an
    /// earlier execution recorded).
    pub missing_data: Vec<String>,
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
            missing_data: Vec::new(),
        }
    }

    /// [`Completion::missing_data`] as stored: a JSON array, or NULL when there is none.
    pub(super) fn missing_data_json(&self) -> Option<String> {
        (!self.missing_data.is_empty())
            .then(|| serde_json::to_string(&self.missing_data).expect("strings serialize"))
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
