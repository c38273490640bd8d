//! One claimed step: read its input, execute its action, settle the outcome and commit it.

use super::commit::{commit, Committers};
use crate::actions::{Effects, Error};
use crate::engine::execute::{execute, max_attempts};
use crate::engine::machine::{poisoned, settle, Attempt};
use crate::engine::Engine;
use crate::escape::Escaped;
use crate::run::{RunStatus, StepEnd, StepState};
use crate::store::{ClaimedStep, Completed, Queue, StepInput};
use std::sync::Arc;
use std::time::Instant;

/// Executes one claimed step and commits its result (re-executing on an action-state conflict).
pub(super) async fn process(
    engine: Arc<Engine>,
    commits: Committers,
    step: ClaimedStep,
    mut prefetched: Option<StepInput>,
    poison_limit: u32,
) {
    let started = Instant::now();
    let story = engine
        .stories
        .pinned(&engine.store, &step.story_id, &step.story_version)
        .await;
    let (story, index) = match story.map(|s| (s.action_index(&step.action_id), s)) {
        Ok((Some(index), story)) => (story, index),
        Err(crate::engine::stories::Unavailable::Store(error)) => {
            // The database hiccuped: leave the step leased; it is re-claimed after the lease.
            tracing::warn!(error = %Escaped(&error), step_id = step.id, "Reading the step's story version failed.");
            return;
        }
        Ok((None, _)) | Err(crate::engine::stories::Unavailable::Gone(_)) => {
            // Without its story the step can never run: fail it (and its run) rather than let
            // it be re-claimed forever.
            let message = format!(
                "story `{}` version {} (action `{}`) is not available",
                step.story_id, step.story_version, step.action_id
            );
            tracing::error!(run_id = %step.run_id, step_id = step.id, %message, "Step cannot run.");
            let end = StepEnd::Done {
                state: StepState::Failed,
                error: Some(Error::Misconfigured { message }.to_json()),
                emitted: Vec::new(),
                unhandled_failure: true,
            };
            let _ = commit(&commits, &step, end, Effects::default()).await;
            return;
        }
    };
    let action = &story.actions[index];
    let limit = max_attempts(action);
    // Taken over after its worker died (or stalled) with it too many times: stop running it.
    let poison = poisoned(&story, index, step.lost_leases, poison_limit);
    if poison.is_some() {
        tracing::error!(run_id = %step.run_id, step_id = step.id, action = %step.action_id, lost_leases = step.lost_leases, "Step lost with its worker too many times; failing it as poisoned.");
    }
    for _ in 0..16 {
        let now = engine.clock.now();
        let (end, effects) = if let Some(end) = &poison {
            (end.clone(), Effects::default())
        } else {
            // Read with the claim; read again only when an action-state conflict re-runs it.
            let input = match prefetched.take() {
                Some(input) => input,
                None => match engine.store.step_inputs(std::slice::from_ref(&step)).await {
                    Ok(mut inputs) if !inputs.is_empty() => inputs.remove(0),
                    Ok(_) => return,
                    Err(error) => {
                        tracing::error!(error = %Escaped(&error), step_id = step.id, "Reading the step's input failed.");
                        return;
                    }
                },
            };
            let (result, effects) = execute(&engine, &story, action, &step, input, now).await;
            if let Err(error) = &result {
                log_failure(&step, error);
            }
            let attempt = Attempt {
                number: step.attempt,
                max: limit,
                // A throttled step woke to try again, not to finish a wait.
                waiting: step.wait.as_ref().filter(|w| w.ends_on_wake()),
            };
            let end = settle(
                &story,
                index,
                &attempt,
                result,
                engine.clock.now(),
                fastrand::f64(),
            );
            (end, effects)
        };
        let state = end.state();
        match commit(&commits, &step, end, effects).await {
            Some(Completed::Recorded(finished)) => {
                engine.metrics.step_finished(state, started.elapsed());
                if poison.is_some() {
                    engine.metrics.step_poisoned();
                }
                if state == StepState::Pending {
                    engine.metrics.step_retried();
                }
                match finished {
                    Some(RunStatus::Failed) => {
                        tracing::warn!(run_id = %step.run_id, story = %step.story_id, action = %step.action_id, "Run failed.");
                    }
                    Some(status) => {
                        tracing::info!(run_id = %step.run_id, status = status.as_str(), "Run finished.");
                    }
                    None => {}
                }
                return;
            }
            Some(Completed::Fenced) => {
                engine.metrics.step_fenced();
                tracing::warn!(run_id = %step.run_id, step_id = step.id, "Lease lost before commit (taken over, or its run was cancelled); result discarded.");
                return;
            }
            Some(Completed::StateConflict) => continue,
            None => return,
        }
    }
    tracing::warn!(
        step_id = step.id,
        "Action state kept changing; the step will run again after its lease."
    );
}

fn log_failure(step: &ClaimedStep, error: &Error) {
    match error {
        Error::Retriable { .. } => {
            tracing::warn!(run_id = %step.run_id, step_id = step.id, action = %step.action_id, attempt = step.attempt, error = %Escaped(error), "Step failed; will retry if attempts remain.")
        }
        Error::Permanent { .. } => {
            tracing::warn!(run_id = %step.run_id, step_id = step.id, action = %step.action_id, error = %Escaped(error), "Step failed.")
        }
        Error::Misconfigured { .. } => {
            tracing::error!(run_id = %step.run_id, step_id = step.id, action = %step.action_id, error = %Escaped(error), "Step failed: configuration needs fixing.")
        }
    }
}
