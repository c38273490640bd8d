//! A run started at a story's webhook: by an HTTP request, or in-process by the detection stage.
//! Both build it here, so both apply the webhook's dedupe key the same way.
//!
//! Stored dedupe keys are namespaced by where the run came from (`webhook:` for HTTP, `alert:`
//! for detection deliveries), so an HTTP caller who can guess an alert's id cannot post it first
//! and have the alert's delivery land in its run. The rendered key keeps its JSON type (the key
//! is the JSON text of the value), so `1` and `"1"` are different deliveries. Runs started by
//! `send_to_story` carry no dedupe key: the parent names the child's id before it exists.

use crate::run::{millis, new_run_id, Millis};
use crate::secrets::Secrets;
use crate::store::NewRun;
use crate::story::kinds::{ActionConfig, LinkKind, WebhookOptions};
use crate::story::Story;
use crate::template::Context;
use serde_json::{Map, Value};
use std::time::Duration;

const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(7 * 86_400);

/// Where a webhook run comes from: it names the namespace of its dedupe key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// An HTTP request to `POST /webhook/...`: outside data, its own namespace.
    Http,
    /// A detection delivery of the alert `alert_id`; the alert id is the key when the webhook
    /// has none of its own.
    Alert {
        /// The alert's `alertId`.
        alert_id: &'a str,
    },
}

impl Source<'_> {
    fn namespace(self) -> &'static str {
        match self {
            Source::Http => "webhook",
            Source::Alert { .. } => "alert",
        }
    }

    fn fallback(self) -> Option<Value> {
        match self {
            Source::Http => None,
            Source::Alert { alert_id } => Some(Value::String(alert_id.to_owned())),
        }
    }
}

/// The run `payload` (`{body, headers, query, method}`) starts at the webhook action `index` of
/// `story`, coming from `source`. Credential values in it (a URL secret repeated in the query,
/// a token in the body) are scrubbed before anything is stored or keyed.
pub fn webhook_run(
    story: &Story,
    index: usize,
    mut payload: Value,
    source: Source<'_>,
    secrets: &Secrets,
    now: Millis,
) -> NewRun {
    secrets.scrub(&mut payload);
    let action = &story.actions[index];
    let options = match &action.config {
        ActionConfig::Webhook(options) => Some(options),
        _ => None,
    };
    let dedupe = options
        .and_then(|o| dedupe_value(o, &action.id, &payload))
        .or_else(|| source.fallback())
        .map(|value| {
            let key = namespaced_key(source, &value);
            let window = options
                .and_then(|o| o.dedupe_window)
                .map_or(DEFAULT_DEDUPE_WINDOW, |w| w.value);
            (key, now.saturating_add(millis(window)))
        });
    NewRun {
        id: new_run_id(),
        story_id: story.id.clone(),
        story_version: story.version.clone(),
        entry_action: action.id.clone(),
        payload,
        receivers: story.receiver_ids(index, LinkKind::Default),
        dedupe,
        parent_step_id: None,
    }
}

/// The stored key: the source's namespace, then the JSON text of the rendered value.
fn namespaced_key(source: Source<'_>, value: &Value) -> String {
    format!("{}:{value}", source.namespace())
}

/// The webhook's rendered `dedupe_key`; none when it has none, or it renders empty or null.
fn dedupe_value(options: &WebhookOptions, action_id: &str, payload: &Value) -> Option<Value> {
    let template = options.dedupe_key.as_ref()?;
    let mut roots = Map::new();
    roots.insert(action_id.to_owned(), payload.clone());
    let key = crate::actions::render("dedupe_key", template, &Context::new(roots));
    match key {
        Ok(Value::Null) => None,
        Ok(Value::String(text)) if text.is_empty() => None,
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(error = %crate::escape::Escaped(&error), "Dedupe key not computed; accepting the delivery without it.");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{namespaced_key, Source};
    use serde_json::json;

    #[test]
    fn keys_keep_their_json_type() {
        assert_eq!(namespaced_key(Source::Http, &json!(1)), "webhook:1");
        assert_eq!(namespaced_key(Source::Http, &json!("1")), "webhook:\"1\"");
    }

    #[test]
    fn an_http_key_never_equals_an_alert_key() {
        let alert = Source::Alert { alert_id: "abc" };
        assert_eq!(namespaced_key(alert, &json!("abc")), "alert:\"abc\"");
        assert_ne!(
            namespaced_key(Source::Http, &json!("abc")),
            namespaced_key(alert, &json!("abc"))
        );
        // An HTTP caller cannot spell the alert namespace inside its own.
        assert_ne!(
            namespaced_key(Source::Http, &json!("alert:\"abc\"")),
            namespaced_key(alert, &json!("abc"))
        );
    }
}
