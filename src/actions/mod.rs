//! Executing actions: one file per kind. Each takes the validated options and a template
//! [`Context`] and says what happened; the engine decides what to persist. Pure kinds (trigger,
//! most transforms) do no I/O at all.

pub mod http;
pub mod slack;
pub mod transform;
pub mod trigger;

use crate::story::value::{Dynamic, Template};
use crate::template::Context;
use serde_json::Value;
use std::time::Duration;

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

/// Renders a template into text: strings as they are, other values as JSON.
pub fn render_text(field: &str, template: &Template, ctx: &Context) -> Result<String, Error> {
    Ok(match render(field, template, ctx)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}
