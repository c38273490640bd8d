//! An integration template's call (`uses: virustotal/ip_lookup`): its inputs rendered, then its one
//! `request` or its named `steps` sent in order (each may be skipped by `when`), each after taking
//! a token from its credential's rate budget, and its `output` built from the responses.

use super::{http, idempotency_key, render, render_dynamic, store_error, Env, Error, Output};
use crate::http_client::canned::within_step;
use crate::ratelimit::{self, Limit};
use crate::run::{millis, Wait};
use crate::store::{ClaimedStep, RateLimits};
use crate::story::integration::IntegrationSpec;
use crate::story::kinds::{HttpRequestOptions, IntegrationCall};
use crate::template::Context;
use serde_json::{json, Map, Value};

/// Attempts allowed for a call: the most any of its requests allows.
pub fn max_attempts(call: &IntegrationCall) -> u32 {
    (call.template.spec.requests())
        .map(|request| http::max_attempts(request.options))
        .max()
        .unwrap_or(super::DEFAULT_MAX_ATTEMPTS)
}

/// Runs the call once: every request of the template in order, or a wait when a credential's
/// budget is spent (which costs no attempt).
pub async fn run<S: RateLimits + Sync>(
    env: &Env<'_, S>,
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
        let sent = send_within_budget(env, spec, request.options, &ctx, &key);
        let sent = match request.name {
            Some(name) => within_step(name, sent).await,
            None => sent.await,
        };
        let event = match sent {
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
async fn send_within_budget<S: RateLimits + Sync>(
    env: &Env<'_, S>,
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
        let now = env.clock.now();
        if let Err(until) = env
            .store
            .take_token(key, limit, now)
            .await
            .map_err(store_error)?
        {
            let wait = Wait::RateLimited {
                credential: key.to_owned(),
            };
            return Ok(Sent::Throttled(Output::Wait { until, wait }));
        }
    }
    let result = http::send(env.http, env.clock, options, ctx, idempotency_key).await;
    if let Some(key) = budget {
        let response = match &result {
            Ok(event) => Some(event),
            Err(Error::Retriable { details, .. } | Error::Permanent { details, .. }) => {
                details.as_ref()
            }
            Err(Error::Misconfigured { .. }) => None,
        };
        if let Some(until) = response.and_then(ratelimit::spent_until) {
            let now = env.clock.now();
            env.store
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
