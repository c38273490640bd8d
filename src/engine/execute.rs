//! Runs one claimed step's action: builds its template context, then dispatches to its kind's
//! module in `actions` with the narrow [`Env`] the kinds use. What a kind does lives there; adding
//! a kind touches its module and one arm of each `match` here.

use super::Engine;
use crate::actions::{
    http, idempotency_key, integration, prompt, send_to_story, transform, trigger, Effects, Env,
    Error, Output, DEFAULT_MAX_ATTEMPTS,
};
use crate::clock::rfc3339;
use crate::http_client::canned::within_action;
use crate::run::Millis;
use crate::secrets::Secrets;
use crate::store::{ClaimedStep, SqlStore, StepInput};
use crate::story::kinds::transform::TransformOptions;
use crate::story::kinds::ActionConfig;
use crate::story::{Action, Story};
use crate::template::Context;
use serde_json::json;

/// Attempts allowed for an action.
pub fn max_attempts(action: &Action) -> u32 {
    match &action.config {
        ActionConfig::HttpRequest(o) => http::max_attempts(o),
        ActionConfig::Integration(call) => integration::max_attempts(call),
        _ => DEFAULT_MAX_ATTEMPTS,
    }
}

/// The template context of a step: ancestors' outputs, `run`, `step`, `credentials`, `resources`.
pub fn context(engine: &Engine, story: &Story, step: &ClaimedStep, input: StepInput) -> Context {
    let mut roots = input.outputs;
    roots.insert(
        "run".into(),
        json!({
            "id": step.run_id,
            "story": story.id,
            "story_version": story.version,
            "started_at": rfc3339(input.run_started_at),
        }),
    );
    roots.insert(
        "step".into(),
        json!({
            "id": step.id,
            "action": step.action_id,
            "attempt": step.attempt,
            "idempotency_key": idempotency_key(step),
        }),
    );
    roots.insert("credentials".into(), engine.secrets.credentials_json());
    let defaults = story.integrations().into_values().flat_map(|i| {
        i.spec
            .resources
            .iter()
            .filter_map(|(k, r)| Some((k.value.as_str(), r.default.as_deref()?)))
    });
    roots.insert("resources".into(), engine.secrets.resources_json(defaults));
    let ctx = Context::new(roots);
    if story.strict_data {
        ctx
    } else {
        ctx.tolerating_missing_data()
    }
}

/// Runs the action of `step` once, on its input.
pub async fn execute(
    engine: &Engine,
    story: &Story,
    action: &Action,
    step: &ClaimedStep,
    input: StepInput,
    now: Millis,
) -> (Result<Output, Error>, Effects) {
    let mut effects = Effects::default();
    // Implode orders its items by their explode marks, which only the raw input has.
    let marks = match &action.config {
        ActionConfig::Transform(TransformOptions::Implode(_)) => {
            transform::explode_marks(&input.outputs)
        }
        _ => Vec::new(),
    };
    let ctx = &context(engine, story, step, input);
    let env: &Env<'_, SqlStore> = &engine.action_env();
    // Outbound requests say which action sent them (`warden test` answers per action).
    let result = within_action(&action.id, async {
        match &action.config {
            // A webhook's step is recorded when the request is accepted; nothing runs later.
            ActionConfig::Webhook(_) => Ok(Output::Emit(Vec::new())),
            ActionConfig::HttpRequest(options) => {
                http::send(env.http, env.clock, options, ctx, &idempotency_key(step))
                    .await
                    .map(|event| Output::Emit(vec![event]))
            }
            ActionConfig::Integration(call) => integration::run(env, call, step, ctx).await,
            ActionConfig::Trigger(options) => trigger::evaluate(options, ctx).map(|verdict| {
                if verdict.matched {
                    Output::Emit(vec![verdict.event])
                } else {
                    Output::NoMatch(verdict.event)
                }
            }),
            ActionConfig::Transform(options) => {
                let at = transform::At {
                    story,
                    action,
                    step,
                };
                transform::run(env, at, options, ctx, &marks, now, &mut effects).await
            }
            ActionConfig::Prompt(options) => prompt::run(env, options, step, ctx, now).await,
            ActionConfig::SendToStory(options) => {
                send_to_story::run(env, options, step, ctx, now, &mut effects).await
            }
        }
    })
    .await;
    effects.missing_data = ctx.missing_data();
    scrub(&engine.secrets, result, effects)
}

/// What a step hands to the store and the log, without credential values: a vendor may echo
/// the request (its `Authorization` header) in its answer or in an error.
fn scrub(
    secrets: &Secrets,
    mut result: Result<Output, Error>,
    mut effects: Effects,
) -> (Result<Output, Error>, Effects) {
    match &mut result {
        Ok(Output::Emit(events)) => events.iter_mut().for_each(|e| secrets.scrub(e)),
        Ok(Output::NoMatch(event)) => secrets.scrub(event),
        Ok(Output::Skip | Output::Wait { .. }) => {}
        Err(
            Error::Retriable {
                message, details, ..
            }
            | Error::Permanent { message, details },
        ) => {
            secrets.scrub_text(message);
            details.iter_mut().for_each(|d| secrets.scrub(d));
        }
        Err(Error::Misconfigured { message }) => secrets.scrub_text(message),
    }
    for run in &mut effects.start_runs {
        secrets.scrub(&mut run.payload);
    }
    (result, effects)
}
