//! A run started at a story's webhook: by an HTTP request, or in-process by the detection stage.
//! Both build it here, so both apply the webhook's dedupe key the same way.

use crate::run::{millis, new_run_id, Millis};
use crate::store::NewRun;
use crate::story::kinds::{ActionConfig, LinkKind, WebhookOptions};
use crate::story::Story;
use crate::template::Context;
use serde_json::{Map, Value};
use std::time::Duration;

const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(7 * 86_400);

/// The run `payload` (`{body, headers, query, method}`) starts at the webhook action `index` of
/// `story`. `fallback_dedupe` is used when the webhook sets no `dedupe_key` of its own.
pub fn webhook_run(
    story: &Story,
    index: usize,
    payload: Value,
    fallback_dedupe: Option<String>,
    now: Millis,
) -> NewRun {
    let action = &story.actions[index];
    let options = match &action.config {
        ActionConfig::Webhook(options) => Some(options),
        _ => None,
    };
    let dedupe = options
        .and_then(|o| dedupe_key(o, &action.id, &payload))
        .or(fallback_dedupe)
        .map(|key| {
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

fn dedupe_key(options: &WebhookOptions, action_id: &str, payload: &Value) -> Option<String> {
    let template = options.dedupe_key.as_ref()?;
    let mut roots = Map::new();
    roots.insert(action_id.to_owned(), payload.clone());
    let key = crate::actions::render_text("dedupe_key", template, &Context::new(roots));
    match key {
        Ok(key) if !key.is_empty() => Some(key),
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(%error, "Dedupe key not computed; accepting the delivery without it.");
            None
        }
    }
}
