//! Runs one claimed step's action: builds its template context, does its I/O, and returns what it
//! produced plus anything that must commit with it (action state, child runs, wake-ups).

use super::clock::rfc3339;
use super::machine::{millis, Output};
use super::runner::Engine;
use crate::actions::{http, render, render_dynamic, render_text, transform, trigger, Error};
use crate::ratelimit::Limit;
use crate::store::{
    ActionStates, ClaimedStep, Millis, NewRun, Queue, RateLimits, Runs, StateWrite, StepInput,
};
use crate::story::integration::IntegrationSpec;
use crate::story::kinds::transform::TransformOptions;
use crate::story::kinds::{
    ActionConfig, HttpRequestOptions, IntegrationCall, LinkKind, SendToStoryOptions,
};
use crate::story::{Action, Story};
use crate::template::Context;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Attempts for actions without their own policy: only a lost worker makes them run again.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
const DEFAULT_IMPLODE_TIMEOUT: Duration = Duration::from_secs(3600);
const DEFAULT_CHILD_TIMEOUT: Duration = Duration::from_secs(3600);

/// What executing a step produced, and what commits with it.
#[derive(Debug, Default)]
pub struct Effects {
    /// An action-state compare-and-set.
    pub state_write: Option<StateWrite>,
    /// Runs started (`send_to_story`).
    pub start_runs: Vec<NewRun>,
    /// Waiting steps to wake.
    pub wake_steps: Vec<i64>,
}

/// Attempts allowed for an action.
pub fn max_attempts(action: &Action) -> u32 {
    match &action.config {
        ActionConfig::HttpRequest(o) => http::max_attempts(o),
        ActionConfig::Integration(call) => (call.template.spec.requests())
            .map(|request| http::max_attempts(request.options))
            .max()
            .unwrap_or(DEFAULT_MAX_ATTEMPTS),
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
    Context::new(roots)
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
    let explode_marks = match &action.config {
        ActionConfig::Transform(TransformOptions::Implode(_)) => explode_marks(&input.outputs),
        _ => Vec::new(),
    };
    let ctx = &context(engine, story, step, input);
    let result = match &action.config {
        // A webhook's step is recorded when the request is accepted; nothing runs later.
        ActionConfig::Webhook(_) => Ok(Output::Emit(Vec::new())),
        ActionConfig::HttpRequest(options) => {
            http::send(&engine.http, options, ctx, &idempotency_key(step))
                .await
                .map(|event| Output::Emit(vec![event]))
        }
        ActionConfig::Integration(call) => integration(engine, call, step, ctx).await,
        ActionConfig::Trigger(options) => trigger::evaluate(options, ctx).map(|verdict| {
            if verdict.matched {
                Output::Emit(vec![verdict.event])
            } else {
                Output::NoMatch(verdict.event)
            }
        }),
        ActionConfig::Transform(options) => {
            let call = (engine, story, action, step);
            run_transform(call, options, ctx, &explode_marks, now, &mut effects).await
        }
        ActionConfig::Prompt(options) => {
            super::prompt::run(engine, options, step, ctx, &idempotency_key(step), now).await
        }
        ActionConfig::SendToStory(options) => {
            send_to_story(engine, options, step, ctx, now, &mut effects).await
        }
    };
    (result, effects)
}

/// The key sent as `Idempotency-Key`: the same on every attempt of one step, different for every
/// step, so a receiver can tell a retry from a new call.
pub fn idempotency_key(step: &ClaimedStep) -> String {
    format!("warden-{}-{}", step.run_id, step.id)
}

async fn integration(
    engine: &Engine,
    call: &IntegrationCall,
    step: &ClaimedStep,
    ctx: &Context,
) -> Result<Output, Error> {
    let mut inputs = Map::new();
    for (name, spec) in call.template.spec.inputs.iter() {
        let given = call.with.iter().find(|(k, _)| k.value == name.value);
        let value = match (given, &spec.default) {
            (Some((_, value)), _) => render_dynamic("with", value, ctx)?,
            (None, Some(default)) => render_dynamic("inputs", default, ctx)?,
            (None, None) => Value::Null,
        };
        inputs.insert(name.value.clone(), value);
    }
    let mut ctx = ctx.with("inputs", &Value::Object(inputs));
    let spec = &call.template.spec;
    let step_key = idempotency_key(step);
    let mut last = None;
    for request in spec.requests() {
        if let Some(when) = request.when {
            let field = format!("step `{}`: when", request.name.unwrap_or_default());
            if !truthy(&render(&field, when, &ctx)?) {
                continue;
            }
        }
        // Each request of a sequence is a different call, so each gets its own key.
        let key = match request.name {
            Some(name) => format!("{step_key}-{name}"),
            None => step_key.clone(),
        };
        let event = match send_within_budget(engine, spec, request.options, &ctx, &key).await {
            Ok(Sent::Response(event)) => event,
            Ok(Sent::Throttled(wait)) => return Ok(wait),
            Err(error) => return Err(name_step(error, request.name)),
        };
        if let Some(name) = request.name {
            ctx = ctx.with(name, &event);
        }
        last = Some(event);
    }
    let event = match &spec.output {
        Some(output) => render_dynamic("output", output, &ctx)?,
        None => last.unwrap_or_else(|| json!({})),
    };
    Ok(Output::Emit(vec![event]))
}

/// What sending one request of a template came to.
enum Sent {
    Response(Value),
    /// The credential's budget is spent: the step waits, without spending an attempt.
    Throttled(Output),
}

/// Sends one request after taking a token from its credential's budget, and records a response
/// that says the budget is spent.
async fn send_within_budget(
    engine: &Engine,
    spec: &IntegrationSpec,
    options: &HttpRequestOptions,
    ctx: &Context,
    idempotency_key: &str,
) -> Result<Sent, Error> {
    let budget = spec
        .rate_limit
        .as_ref()
        .map(|r| r.credential.value.as_str())
        .or_else(|| {
            spec.credentials
                .iter()
                .next()
                .map(|(name, _)| name.value.as_str())
        });
    if let Some(key) = budget {
        let limit = spec.rate_limit.as_ref().map(|limit| Limit {
            requests: limit.requests.value,
            per: millis(limit.per.value),
        });
        let now = engine.clock.now();
        if let Err(until) = engine
            .store
            .take_token(key, limit, now)
            .await
            .map_err(store_error)?
        {
            let wait = json!({"kind": THROTTLED, "credential": key});
            return Ok(Sent::Throttled(Output::Wait { until, wait }));
        }
    }
    let result = http::send(&engine.http, options, ctx, idempotency_key).await;
    if let Some(key) = budget {
        let response = match &result {
            Ok(event) => Some(event),
            Err(Error::Retriable { details, .. } | Error::Permanent { details, .. }) => {
                details.as_ref()
            }
            Err(Error::Misconfigured { .. }) => None,
        };
        if let Some(until) = response.and_then(spent_until) {
            let now = engine.clock.now();
            engine
                .store
                .block_until(key, until, now)
                .await
                .map_err(store_error)?;
        }
    }
    result.map(Sent::Response)
}

/// Prefixes an error with the template step it came from.
fn name_step(mut error: Error, step: Option<&str>) -> Error {
    if let Some(step) = step {
        let (Error::Retriable { message, .. }
        | Error::Permanent { message, .. }
        | Error::Misconfigured { message }) = &mut error;
        *message = format!("step `{step}`: {message}");
    }
    error
}

/// Jinja's truthiness: false, null, 0, "" and empty lists and objects are false.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(fields) => !fields.is_empty(),
    }
}

/// The `wait.kind` of a step throttled by its credential's rate limit.
pub const THROTTLED: &str = "throttled";

/// When a response says the credential's budget is spent (Okta's `X-Rate-Limit-Remaining: 0`,
/// or a 429 with `X-Rate-Limit-Reset`): until its `X-Rate-Limit-Reset` (epoch seconds).
fn spent_until(response: &Value) -> Option<Millis> {
    let header = |name: &str| response["headers"][name].as_str().map(str::trim);
    let reset: i64 = header("x-rate-limit-reset")?.parse().ok()?;
    let spent = header("x-rate-limit-remaining") == Some("0") || response["status"] == 429;
    spent.then(|| reset.saturating_mul(1000))
}

/// Runs a transform. `marks` are the upstream explode events' `(guid, index)`, which implode
/// needs and only the raw input has.
async fn run_transform(
    (engine, story, action, step): (&Engine, &Story, &Action, &ClaimedStep),
    options: &TransformOptions,
    ctx: &Context,
    marks: &[(String, u64)],
    now: Millis,
    effects: &mut Effects,
) -> Result<Output, Error> {
    match options {
        TransformOptions::Message(o) => transform::message(o, ctx).map(|e| Output::Emit(vec![e])),
        TransformOptions::Extract(o) => {
            transform::extract(o, ctx).map(|e| Output::Emit(e.into_iter().collect()))
        }
        TransformOptions::Explode(o) => {
            let guid = format!("{}-{}", step.run_id, step.id);
            transform::explode(o, ctx, &guid).map(Output::Emit)
        }
        TransformOptions::Delay(o) => {
            if step.wait.is_some() {
                return Ok(Output::Emit(vec![json!({"released_at": rfc3339(now)})]));
            }
            let now_ts = jiff::Timestamp::from_millisecond(now)
                .map_err(|e| Error::permanent(e.to_string()))?;
            let until = transform::delay_until(o, ctx, now_ts)?.as_millisecond();
            if until <= now {
                Ok(Output::Emit(vec![json!({"released_at": rfc3339(now)})]))
            } else {
                Ok(Output::Wait {
                    until,
                    wait: json!({"kind": "delay"}),
                })
            }
        }
        TransformOptions::Deduplicate(o) => {
            let key = render("path", &o.path, ctx)?;
            let old = load_state(engine, story, action, "").await?;
            let (new, is_new) = transform::deduplicate(o, parse_state(&old), &key, now);
            effects.state_write = Some(state_write(story, action, "", old, &new));
            Ok(if is_new {
                Output::Emit(vec![json!({"key": key})])
            } else {
                Output::Skip
            })
        }
        TransformOptions::Throttle(o) => {
            if step.wait.is_some() {
                return Ok(Output::Emit(vec![json!({"released_at": rfc3339(now)})]));
            }
            let key = match &o.key {
                Some(t) => render_text("key", t, ctx)?,
                None => String::new(),
            };
            let old = load_state(engine, story, action, &key).await?;
            let (new, release_at) = transform::throttle_slot(o, parse_state(&old), now);
            effects.state_write = Some(state_write(story, action, &key, old, &new));
            Ok(if release_at <= now {
                Output::Emit(vec![json!({"released_at": rfc3339(now)})])
            } else {
                Output::Wait {
                    until: release_at,
                    wait: json!({"kind": "throttle"}),
                }
            })
        }
        TransformOptions::Implode(o) => {
            implode(engine, story, action, step, o, ctx, marks, now, effects).await
        }
    }
}

/// Implode keeps one group per `guid` as `{owner, group}`: the first item's step owns the group
/// and waits for the timeout; the item that completes the group emits it and wakes the owner,
/// which then finds nothing left to flush.
#[allow(clippy::too_many_arguments)]
async fn implode(
    engine: &Engine,
    story: &Story,
    action: &Action,
    step: &ClaimedStep,
    o: &crate::story::kinds::transform::ImplodeOptions,
    ctx: &Context,
    marks: &[(String, u64)],
    now: Millis,
    effects: &mut Effects,
) -> Result<Output, Error> {
    if let Some(wait) = &step.wait {
        let guid = wait["guid"].as_str().unwrap_or_default().to_owned();
        let old = load_state(engine, story, action, &guid).await?;
        let mut stored = parse_state(&old).unwrap_or_else(|| json!({}));
        let (group, event) = transform::implode_flush(stored.get("group").cloned());
        stored["group"] = group;
        effects.state_write = Some(state_write(story, action, &guid, old, &stored));
        return Ok(event.map_or(Output::Skip, |e| Output::Emit(vec![e])));
    }
    let guid = render_text("guid_path", &o.guid_path, ctx)?;
    let size = render("size_path", &o.size_path, ctx)?;
    let size = size
        .as_u64()
        .or_else(|| size.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| Error::permanent(format!("`size_path` gave {size}, not a count")))?;
    let item = render("item_path", &o.item_path, ctx)?;
    let old = load_state(engine, story, action, &guid).await?;
    let mut stored = parse_state(&old).unwrap_or_else(|| json!({}));
    let owner = stored.get("owner").and_then(Value::as_i64);
    // The explode's own `index` for this group orders the items and is stable on redelivery.
    let index = marks
        .iter()
        .find(|(g, _)| *g == guid)
        .map(|(_, i)| *i)
        .ok_or_else(|| {
            Error::permanent(format!(
                "no upstream explode event has guid `{guid}`: point `guid_path` at an explode's `guid`"
            ))
        })?;
    let (group, event) = transform::implode_add(stored.get("group").cloned(), index, item, size);
    stored["group"] = group;
    if owner.is_none() {
        stored["owner"] = json!(step.id);
    }
    effects.state_write = Some(state_write(story, action, &guid, old, &stored));
    match (event, owner) {
        (Some(event), Some(owner)) => {
            effects.wake_steps.push(owner);
            Ok(Output::Emit(vec![event]))
        }
        (Some(event), None) => Ok(Output::Emit(vec![event])),
        (None, Some(_)) => Ok(Output::Skip),
        (None, None) => Ok(Output::Wait {
            until: now.saturating_add(millis(
                o.timeout.map_or(DEFAULT_IMPLODE_TIMEOUT, |t| t.value),
            )),
            wait: json!({"kind": "implode", "guid": guid}),
        }),
    }
}

/// `(guid, index)` of every upstream explode event.
fn explode_marks(outputs: &Map<String, Value>) -> Vec<(String, u64)> {
    outputs
        .values()
        .filter_map(|v| {
            Some((
                v.get("guid")?.as_str()?.to_owned(),
                v.get("index")?.as_u64()?,
            ))
        })
        .collect()
}

async fn load_state(
    engine: &Engine,
    story: &Story,
    action: &Action,
    key: &str,
) -> Result<Option<String>, Error> {
    engine
        .store
        .action_state(&story.id, &action.id, key)
        .await
        .map_err(store_error)
}

fn parse_state(text: &Option<String>) -> Option<Value> {
    text.as_deref().and_then(|t| serde_json::from_str(t).ok())
}

fn state_write(
    story: &Story,
    action: &Action,
    key: &str,
    expected: Option<String>,
    new: &Value,
) -> StateWrite {
    StateWrite {
        story_id: story.id.clone(),
        action_id: action.id.clone(),
        key: key.to_owned(),
        expected,
        new: new.to_string(),
    }
}

/// A store failure during an action: worth another attempt.
pub(super) fn store_error(error: crate::store::Error) -> Error {
    Error::Retriable {
        message: format!("the store failed: {error}"),
        retry_after: None,
        details: None,
    }
}

async fn send_to_story(
    engine: &Engine,
    options: &SendToStoryOptions,
    step: &ClaimedStep,
    ctx: &Context,
    now: Millis,
    effects: &mut Effects,
) -> Result<Output, Error> {
    if let Some(wait) = &step.wait {
        let child = wait["run_id"].as_str().unwrap_or_default();
        let until = wait["until"].as_i64().unwrap_or(now);
        let run = engine.store.run(child).await.map_err(store_error)?;
        return match run {
            Some(run) if run.status.is_finished() => {
                let last = engine.store.last_event(child).await.map_err(store_error)?;
                Ok(Output::Emit(vec![json!({
                    "run_id": child,
                    "status": run.status.as_str(),
                    "result": last.map_or(Value::Null, |e| e.payload),
                })]))
            }
            _ if now >= until => Err(Error::permanent(format!(
                "run {child} of story `{}` did not finish in time",
                options.story.value
            ))),
            _ => Ok(Output::Wait {
                until,
                wait: wait.clone(),
            }),
        };
    }
    let target = engine
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
    let run_id = super::runner::new_run_id();
    effects.start_runs.push(NewRun {
        id: run_id.clone(),
        story_id: target.id.clone(),
        story_version: target.version.clone(),
        entry_action: target.actions[entry].id.clone(),
        payload: json!({
            "body": body,
            "headers": {},
            "query": {},
            "method": "POST",
            "source": {"run_id": step.run_id, "step_id": step.id},
        }),
        receivers: target.receiver_ids(entry, LinkKind::Default),
        dedupe: None,
        parent_step_id: options.wait.then_some(step.id),
    });
    if !options.wait {
        return Ok(Output::Emit(vec![json!({"run_id": run_id})]));
    }
    let until = now.saturating_add(millis(
        options.timeout.map_or(DEFAULT_CHILD_TIMEOUT, |t| t.value),
    ));
    Ok(Output::Wait {
        until,
        wait: json!({"kind": "story", "run_id": run_id, "until": until}),
    })
}
