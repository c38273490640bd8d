//! Executing actions: one module per kind. Each takes its validated options, a template
//! [`Context`] and an [`Env`] holding only what actions may use (the store's capabilities the kind
//! asks for, outbound HTTP, the clock, secrets), and says what happened as an [`Output`] plus the
//! [`Effects`] that must commit with it; the engine decides what to persist. Pure kinds (trigger,
//! most transforms) do no I/O at all.

pub mod http;
pub mod integration;
pub mod prompt;
pub mod send_to_story;
pub mod slack;
pub mod transform;
pub mod trigger;

use crate::clock::Clock;
use crate::http_client::HttpClients;
use crate::run::{Millis, Wait};
use crate::secrets::Secrets;
use crate::store::{ClaimedStep, NewRun, StateWrite};
use crate::story::value::{Dynamic, Template};
use crate::story::Story;
use crate::template::Context;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Attempts for actions without their own policy: only a lost worker makes them run again.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// What executing (or waking) an action produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Events along the default links; none is a success that emits nothing.
    Emit(Vec<Value>),
    /// A trigger whose rules did not match: the event goes along `.no_match`.
    NoMatch(Value),
    /// Nothing to do (a duplicate, an implode item absorbed by its group).
    Skip,
    /// Park until `until` (or an earlier wake-up), remembering `wait`.
    Wait {
        /// When to wake at the latest.
        until: Millis,
        /// What to hand back on wake-up.
        wait: Wait,
    },
}

/// What must commit together with an action's result, or not at all.
#[derive(Debug, Default)]
pub struct Effects {
    /// An action-state compare-and-set.
    pub state_write: Option<StateWrite>,
    /// Runs started (`send_to_story`).
    pub start_runs: Vec<NewRun>,
    /// Waiting steps to wake.
    pub wake_steps: Vec<i64>,
    /// Paths of event data the step's templates found missing (rendered empty).
    pub missing_data: Vec<String>,
}

/// What an action may use beyond its options and template context. `S` is the store: each kind
/// names the capabilities it uses (`S: Prompts`, `S: RateLimits`, …), never the whole engine.
pub struct Env<'a, S> {
    /// The store.
    pub store: &'a S,
    /// Outbound HTTP.
    pub http: &'a HttpClients,
    /// Time.
    pub clock: &'a dyn Clock,
    /// Credentials and resources.
    pub secrets: &'a Secrets,
    /// The stories a `send_to_story` may start.
    pub stories: &'a dyn CurrentStories,
    /// The URL people reach Warden at (prompt links).
    pub public_url: &'a str,
}

/// The loaded stories, by id: their current versions.
pub trait CurrentStories: Send + Sync {
    /// The current version of a story.
    fn current(&self, id: &str) -> Option<Arc<Story>>;
}

/// The key sent as `Idempotency-Key`: the same on every attempt of one step, different for every
/// step, so a receiver can tell a retry from a new call.
pub fn idempotency_key(step: &ClaimedStep) -> String {
    format!("warden-{}-{}", step.run_id, step.id)
}

/// A store failure during an action: worth another attempt.
pub fn store_error(error: crate::store::Error) -> Error {
    Error::Retriable {
        message: format!("the store failed: {error}"),
        retry_after: None,
        details: None,
    }
}

/// Why an action did not produce its events, and so what the runner does next.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Worth another attempt (a timeout, 429, 5xx), after `retry_after` when the vendor said so.
    #[error("{message}")]
    Retriable {
        /// What went wrong, with no secrets.
        message: String,
        /// The wait the other side asked for (`Retry-After`).
        retry_after: Option<Duration>,
        /// The response or context worth keeping on the failure event.
        details: Option<Value>,
    },
    /// Will fail the same way every time with this input (a 400, a template over missing data).
    #[error("{message}")]
    Permanent {
        /// What went wrong, with no secrets.
        message: String,
        /// The response or context worth keeping on the failure event.
        details: Option<Value>,
    },
    /// Needs an operator: a missing credential or resource, a 401/403.
    #[error("{message}")]
    Misconfigured {
        /// What to fix.
        message: String,
    },
}

impl Error {
    /// A permanent failure with no details.
    pub fn permanent(message: impl Into<String>) -> Error {
        Error::Permanent {
            message: message.into(),
            details: None,
        }
    }

    /// The class as a word for logs, metrics and stored errors.
    pub fn class(&self) -> &'static str {
        match self {
            Error::Retriable { .. } => "retriable",
            Error::Permanent { .. } => "permanent",
            Error::Misconfigured { .. } => "misconfigured",
        }
    }

    /// The failure as the JSON carried by a `.failure` event and shown in the API.
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        out.insert("class".into(), self.class().into());
        out.insert("message".into(), self.to_string().into());
        if let Error::Retriable {
            details: Some(d), ..
        }
        | Error::Permanent {
            details: Some(d), ..
        } = self
        {
            out.insert("details".into(), d.clone());
        }
        Value::Object(out)
    }
}

/// Renders one template field; a failure names the field.
pub fn render(field: &str, template: &Template, ctx: &Context) -> Result<Value, Error> {
    let compiled = template.compiled().map_err(|e| Error::Misconfigured {
        message: format!("`{field}` does not compile: {}", e.message()),
    })?;
    compiled
        .render(ctx)
        .map_err(|e| Error::permanent(format!("`{field}`: {}", e.message())))
}

/// Renders a JSON value whose strings are templates.
pub fn render_dynamic(field: &str, value: &Dynamic, ctx: &Context) -> Result<Value, Error> {
    Ok(match value {
        Dynamic::Null => Value::Null,
        Dynamic::Bool(b) => Value::Bool(*b),
        Dynamic::Number(n) => Value::Number(n.clone()),
        Dynamic::Template(t) => render(field, t, ctx)?,
        Dynamic::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| render_dynamic(field, i, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Dynamic::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), render_dynamic(field, v, ctx)?)))
                .collect::<Result<_, Error>>()?,
        ),
    })
}

/// Renders a template into Slack mrkdwn: its own text as written, every interpolated value
/// escaped for Slack unless marked `| safe` ([`crate::template::Compiled::render_slack_mrkdwn`]).
pub fn render_slack_mrkdwn(
    field: &str,
    template: &Template,
    ctx: &Context,
) -> Result<String, Error> {
    let compiled = template.compiled().map_err(|e| Error::Misconfigured {
        message: format!("`{field}` does not compile: {}", e.message()),
    })?;
    compiled
        .render_slack_mrkdwn(ctx)
        .map_err(|e| Error::permanent(format!("`{field}`: {}", e.message())))
}

/// Renders a template into text: strings as they are, other values as JSON.
pub fn render_text(field: &str, template: &Template, ctx: &Context) -> Result<String, Error> {
    Ok(match render(field, template, ctx)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}
