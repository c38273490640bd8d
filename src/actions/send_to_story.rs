//! The `send_to_story` action: start a run of another story at its webhook, and with `wait`,
//! wait for that run to finish and emit its last event.

use super::{render_dynamic, store_error, Effects, Env, Error, Output};
use crate::run::{millis, new_run_id, Millis, Wait};
use crate::store::{ClaimedStep, NewRun, Queue, Runs};
use crate::story::kinds::{LinkKind, SendToStoryOptions};
use crate::template::Context;
use serde_json::{json, Value};
use std::time::Duration;

const DEFAULT_CHILD_TIMEOUT: Duration = Duration::from_secs(3600);

/// The event the child story's webhook action receives: a webhook event's shape (`body`,
/// `headers`, `query`, `method`) plus `source`, the step that started it.
pub fn child_entry_event(body: Value, run_id: &str, step_id: i64) -> Value {
    json!({
        "body": body,
        "headers": {},
        "query": {},
        "method": "POST",
        "source": {"run_id": run_id, "step_id": step_id},
    })
}

/// The event of a `send_to_story` without `wait`: the child run's id.
pub fn started_event(run_id: &str) -> Value {
    json!({ "run_id": run_id })
}

/// The event of a `send_to_story` with `wait` once the child finished: its id, its status and
/// the last event it emitted (`result`, null when it emitted none).
pub fn finished_event(run_id: &str, status: &str, result: Value) -> Value {
    json!({ "run_id": run_id, "status": status, "result": result })
}

/// Starts the child run (first execution), or reports how it ended (woken).
pub async fn run<S: Runs + Queue + Sync>(
    env: &Env<'_, S>,
    options: &SendToStoryOptions,
    step: &ClaimedStep,
    ctx: &Context,
    now: Millis,
    effects: &mut Effects,
) -> Result<Output, Error> {
    if let Some(Wait::Story { run_id, until }) = &step.wait {
        return child_outcome(env, options, run_id, *until, now).await;
    }
    let target = env
        .stories
        .current(&options.story.value)
        .ok_or_else(|| Error::Misconfigured {
            message: format!("story `{}` is not loaded", options.story.value),
        })?;
    let (entry, _) = target
        .entry_points()
        .next()
        .ok_or_else(|| Error::Misconfigured {
            message: format!("story `{}` has no webhook to start it", target.id),
        })?;
    let body = match &options.payload {
        Some(payload) => render_dynamic("payload", payload, ctx)?,
        None => json!({}),
    };
    let run_id = new_run_id();
    effects.start_runs.push(NewRun {
        id: run_id.clone(),
        story_id: target.id.clone(),
        story_version: target.version.clone(),
        entry_action: target.actions[entry].id.clone(),
        payload: child_entry_event(body, &step.run_id, step.id),
        receivers: target.receiver_ids(entry, LinkKind::Default),
        dedupe: None,
        parent_step_id: options.wait.then_some(step.id),
    });
    if !options.wait {
        return Ok(Output::Emit(vec![started_event(&run_id)]));
    }
    let until = now.saturating_add(millis(
        options.timeout.map_or(DEFAULT_CHILD_TIMEOUT, |t| t.value),
    ));
    Ok(Output::Wait {
        until,
        wait: Wait::Story { run_id, until },
    })
}

/// The child's status and last event once it finished; a failure once `until` passed.
async fn child_outcome<S: Runs + Queue + Sync>(
    env: &Env<'_, S>,
    options: &SendToStoryOptions,
    child: &str,
    until: Millis,
    now: Millis,
) -> Result<Output, Error> {
    let run = env.store.run(child).await.map_err(store_error)?;
    match run {
        Some(run) if run.status.is_finished() => {
            let last = env.store.last_event(child).await.map_err(store_error)?;
            Ok(Output::Emit(vec![finished_event(
                child,
                run.status.as_str(),
                last.map_or(Value::Null, |e| e.payload),
            )]))
        }
        _ if now >= until => Err(Error::permanent(format!(
            "run {child} of story `{}` did not finish in time",
            options.story.value
        ))),
        _ => Ok(Output::Wait {
            until,
            wait: Wait::Story {
                run_id: child.to_owned(),
                until,
            },
        }),
    }
}
