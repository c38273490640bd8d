//! Prompts: the waiting ones (question, who was asked, when they time out) and the answered or
//! expired ones (the answer, who gave it and when).

use crate::console::view::{when, PageError, Session};
use crate::console::Console;
use crate::run::PromptState;
use crate::store::{Overview, PromptRow};
use crate::story::ActionConfig;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;

/// Prompts per section.
const PAGE: u32 = 100;

/// The prompt's question: its Slack text as the story writes it (the rendered text went to
/// Slack and is not stored), else the action's name or description, else its id.
fn question(console: &Console, row: &PromptRow) -> String {
    let story = console.app().engine.stories.current(&row.prompt.story_id);
    let action = story.as_ref().and_then(|s| s.action(&row.prompt.action_id));
    let slack_text = action.and_then(|a| match &a.config {
        ActionConfig::Prompt(options) => options.slack.as_ref().map(|s| s.text.source.clone()),
        _ => None,
    });
    slack_text
        .or_else(|| action.and_then(|a| a.name.clone().or_else(|| a.description.clone())))
        .unwrap_or_else(|| row.prompt.action_id.clone())
}

fn view(console: &Console, row: &PromptRow) -> minijinja::Value {
    let p = &row.prompt;
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
        question => question(console, row),
        asked => &p.responders,
        slack => p.slack_message.is_some(),
        choices => choices,
        state => p.state.as_str(),
        answer => p.answer.as_deref(),
        responder => p.responder.as_deref(),
        opened => when(row.created_at),
        expires => when(p.expires_at),
        answered => row.answered_at.map(when),
    }
}

/// `GET /prompts`.
pub(in crate::console) async fn list(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    let store = &console.app().engine.store;
    let open = store
        .list_prompts(Some(PromptState::Open), PAGE)
        .await
        .map_err(PageError::store)?;
    let all = store
        .list_prompts(None, PAGE)
        .await
        .map_err(PageError::store)?;
    let closed: Vec<_> = all
        .iter()
        .filter(|r| r.prompt.state != PromptState::Open)
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
