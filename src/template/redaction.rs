//! Credential values scrubbed from render errors.
//!
//! Messages are built from the template source and minijinja's error kind
//! and detail, never from context values; a filter or minijinja may still
//! quote an argument that came from a credential, so every message a
//! [`Context`](super::Context) returns passes through [`Secrets::scrub`].

use std::sync::Arc;

use serde_json::Value as Json;

/// Text put in an error message in place of a credential value.
pub(super) const REDACTED: &str = "[redacted]";

/// The credential strings of one context, longest first so that a secret
/// containing another is replaced whole. Clones share them.
#[derive(Clone)]
pub(super) struct Secrets(Arc<[String]>);

impl Secrets {
    /// Every scalar under `credentials` (the context's `credentials` root).
    pub(super) fn of(credentials: Option<&Json>) -> Secrets {
        let mut secrets = Vec::new();
        if let Some(credentials) = credentials {
            collect_secrets(credentials, &mut secrets);
        }
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Secrets(Arc::from(secrets))
    }

    /// `message` with every secret replaced by [`REDACTED`].
    pub(super) fn scrub(&self, mut message: String) -> String {
        for secret in self.0.iter() {
            if message.contains(secret.as_str()) {
                message = message.replace(secret.as_str(), REDACTED);
            }
        }
        message
    }
}

/// Gathers every scalar under `credentials`, in the forms an error message
/// could carry it: raw, JSON-escaped and Rust-debug-escaped.
fn collect_secrets(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::String(s) if !s.is_empty() => {
            out.push(s.clone());
            let json = Json::String(s.clone()).to_string();
            out.push(json[1..json.len() - 1].to_owned());
            out.push(s.escape_debug().to_string());
        }
        Json::Number(n) => out.push(n.to_string()),
        Json::Array(items) => items.iter().for_each(|v| collect_secrets(v, out)),
        Json::Object(map) => map.values().for_each(|v| collect_secrets(v, out)),
        _ => {}
    }
}
