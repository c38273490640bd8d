//! `GET|POST /prompt/{token}`: single-use answer links (Tines' PROMPT), for email or any channel.
//!
//! The token is the capability; only its SHA-256 is stored. `GET` shows the answer and a button,
//! and does not answer: mail scanners and link previews fetch links. `POST` records the answer
//! once, like a Slack click, and replaces the Slack question if there was one.

use super::slack::{closed, unknown_prompt};
use super::{ApiError, AppState};
use crate::actions::prompt::token_hash;
use crate::engine::operate::{self, choice_label, Answer};
use crate::run::{AnsweredVia, PromptState};
use crate::store::{PromptRecord, Prompts};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

pub(super) async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match link(&state, &token).await {
        Ok((prompt, answer)) if prompt.state == PromptState::Open => {
            let label = choice_label(&prompt, &answer).unwrap_or(answer);
            page(
                StatusCode::OK,
                "Confirm your answer",
                &format!(
                    "<p>Your answer: <strong>{}</strong></p>\
                     <form method=\"post\"><button type=\"submit\">Send this answer</button></form>",
                    escape(&label)
                ),
            )
        }
        Ok((prompt, _)) => error_page(closed(&prompt)),
        Err(error) => error_page(error),
    }
}

pub(super) async fn answer(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let (prompt, answer) = match link(&state, &token).await {
        Ok(found) => found,
        Err(error) => return error_page(error),
    };
    let answer = Answer {
        prompt_id: &prompt.id,
        choice: &answer,
        responder: "prompt_url",
        via: AnsweredVia::Link,
        actor: "link",
    };
    match operate::answer_prompt(&state.engine, answer).await {
        Ok(recorded) => page(
            StatusCode::OK,
            "Answer recorded",
            &format!(
                "<p>Recorded: <strong>{}</strong>. You can close this page.</p>",
                escape(&recorded.label)
            ),
        ),
        Err(error) => error_page(ApiError::from(error)),
    }
}

/// The prompt and answer of a link. A link carries no identity, so a prompt restricted to named
/// responders refuses it (403): validation no longer lets a story combine `allowed_responders`
/// with `request:` links (W043), but prompts opened before that may still be waiting.
async fn link(state: &AppState, token: &str) -> Result<(PromptRecord, String), ApiError> {
    let (prompt, answer) = state
        .engine
        .store
        .prompt_link(&token_hash(token))
        .await
        .map_err(ApiError::store)?
        .ok_or_else(unknown_prompt)?;
    if !prompt.responders.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this prompt may only be answered on Slack by the people it names",
        ));
    }
    Ok((prompt, answer))
}

fn error_page(error: ApiError) -> Response {
    let mut response = page(
        error.status,
        "Cannot answer",
        &format!("<p>{}</p>", escape(&error.message)),
    );
    if let Some(seconds) = error.retry_after {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, seconds.into());
    }
    response
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"robots\" content=\"noindex\"></head><body><h1>{title}</h1>{body}</body></html>"
    );
    (status, Html(html)).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
