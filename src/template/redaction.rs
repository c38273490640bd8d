//! Credential values scrubbed from render errors.
//!
//! Messages are built from the template source and minijinja's error kind
//! and detail, never from context values; a filter or minijinja may still
//! quote an argument that came from a credential, so every message a
//! [`Context`](super::Context) returns passes through [`Secrets::scrub`].

use crate::secrets::Redactor;
use serde_json::Value as Json;

/// The credential strings of one context. Clones share them.
#[derive(Clone)]
pub(super) struct Secrets(Redactor);

impl Secrets {
    /// Every scalar under `credentials` (the context's `credentials` root).
    pub(super) fn of(credentials: Option<&Json>) -> Secrets {
        let mut scalars = Vec::new();
        if let Some(credentials) = credentials {
            collect_scalars(credentials, &mut scalars);
        }
        Secrets(Redactor::of(scalars.iter().map(String::as_str)))
    }

    /// `message` with every secret replaced by [`crate::secrets::REDACTED`].
    pub(super) fn scrub(&self, mut message: String) -> String {
        self.0.scrub_text(&mut message);
        message
    }
}

/// Every scalar under `credentials`, as text.
fn collect_scalars(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::String(s) => out.push(s.clone()),
        Json::Number(n) => out.push(n.to_string()),
        Json::Array(items) => items.iter().for_each(|v| collect_scalars(v, out)),
        Json::Object(map) => map.values().for_each(|v| collect_scalars(v, out)),
        _ => {}
    }
}
