//! Prompts: the waiting ones (question, who was asked, when they time out) and the answered or
//! expired ones (the answer, who gave it and when).

use crate::console::view::{when, PageError, Session};
use crate::console::Console;
use crate::run::{AnsweredVia, PromptState};
use crate::store::{PromptFilter, PromptRecord, Prompts};
use crate::story::ActionConfig;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;

/// Prompts per section.
const PAGE: u32 = 100;

/// The prompt's question: its Slack text as the story writes it (the rendered text went to
/// Slack and is not stored), else the action's name or description, else its id.
fn question(console: &Console, prompt: &PromptRecord) -> String {
    let story = console.app().engine.stories.current(&prompt.story_id);
    let action = story.as_ref().and_then(|s| s.action(&prompt.action_id));
    let slack_text = action.and_then(|a| match &a.config {
        ActionConfig::Prompt(options) => options.slack.as_ref().map(|s| s.text.source.clone()),
        _ => None,
    });
    slack_text
        .or_else(|| action.and_then(|a| a.name.clone().or_else(|| a.description.clone())))
        .unwrap_or_else(|| prompt.action_id.clone())
}

fn view(console: &Console, prompt: &PromptRecord) -> minijinja::Value {
    let p = prompt;
    let choices: Vec<String> = match &p.choices {
        serde_json::Value::Array(items) => items
            .iter()
            .map(|c| match c {
                serde_json::Value::String(s) => s.clone(),
                other => other
                    .get("label")
                    .or_else(|| other.get("value"))
                    .and_then(|v| v.as_str())
                    .map_or_else(|| other.to_string(), str::to_owned),
            })
            .collect(),
        serde_json::Value::Object(map) => map.keys().cloned().collect(),
        _ => Vec::new(),
    };
    minijinja::context! {
        id => &p.id,
        run => &p.run_id,
        story => &p.story_id,
        action => &p.action_id,
        question => question(console, p),
        asked => &p.responders,
        slack => p.slack_message.is_some(),
        choices => choices,
        state => p.state.as_str(),
        answer => p.answer.as_deref().map(|value| answer_label(&p.choices, value)),
        answer_value => p.answer.as_deref(),
        responder => p.responder.as_deref(),
        opened => when(p.created_at),
        expires => when(p.expires_at),
        answered => p.answered_at.map(when),
        via => p.answered_via.map(AnsweredVia::as_str),
        options => answer_options(&p.choices),
    }
}

/// The buttons that answer a waiting prompt: each choice's `value` and `label` (choices are
/// stored as `{value, label}` objects; the value is what `engine::operate::answer_prompt` takes).
fn answer_options(choices: &serde_json::Value) -> Vec<minijinja::Value> {
    choices
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let value = c["value"].as_str()?;
            let label = c["label"].as_str().unwrap_or(value);
            Some(minijinja::context! { value => value, label => label })
        })
        .collect()
}

/// An answer as the person saw it: the label of the button whose value it is (choices are
/// `{value, label}` objects), else the value itself (a choice without a label, or one the
/// story no longer offers).
fn answer_label(choices: &serde_json::Value, value: &str) -> String {
    choices
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["value"].as_str() == Some(value))
        .and_then(|c| c["label"].as_str())
        .unwrap_or(value)
        .to_owned()
}

/// `GET /prompts`.
pub(in crate::console) async fn list(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    let store = &console.app().engine.store;
    let open = store
        .list_prompts(&PromptFilter {
            state: Some(PromptState::Open),
            before: None,
            limit: PAGE,
        })
        .await
        .map_err(PageError::store)?;
    let all = store
        .list_prompts(&PromptFilter {
            state: None,
            before: None,
            limit: PAGE,
        })
        .await
        .map_err(PageError::store)?;
    let closed: Vec<_> = all
        .iter()
        .filter(|p| p.state != PromptState::Open)
        .map(|r| view(&console, r))
        .collect();
    console.render(
        "prompts.html",
        "Prompts",
        "prompts",
        &session,
        minijinja::context! {
            waiting => open.iter().map(|r| view(&console, r)).collect::<Vec<_>>(),
            closed => closed,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::answer_label;
    use serde_json::json;

    #[test]
    fn an_answer_shows_its_buttons_label_or_else_its_value() {
        let choices = json!([{"value": "yes", "label": "Yes, it was me"}, {"value": "no"}]);
        assert_eq!(answer_label(&choices, "yes"), "Yes, it was me");
        assert_eq!(answer_label(&choices, "no"), "no");
        assert_eq!(answer_label(&choices, "gone"), "gone");
        assert_eq!(answer_label(&json!(null), "yes"), "yes");
    }
}
