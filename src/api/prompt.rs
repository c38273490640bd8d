//! `GET|POST /prompt/{token}`: single-use answer links (Tines' PROMPT), for email or any channel.
//!
//! The token is the capability; only its SHA-256 is stored. `GET` shows the answer and a button,
//! and does not answer: mail scanners and link previews fetch links. `POST` records the answer
//! once, like a Slack click, and replaces the Slack question if there was one.

use super::slack::{choice_label, closed, unknown_prompt};
use super::{ApiError, AppState};
use crate::actions::prompt::token_hash;
use crate::actions::slack::{Posted, Slack};
use crate::run::PromptState;
use crate::store::{Answered, PromptRecord, Prompts};
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
    let engine = &state.engine;
    let now = engine.clock.now();
    match engine
        .store
        .answer_prompt(&prompt.id, &answer, "prompt_url", now)
        .await
    {
        Ok(Answered::Recorded(prompt)) => {
            engine.wake.notify_one();
            let label = choice_label(&prompt, &answer).unwrap_or(answer);
            tracing::info!(prompt_id = %prompt.id, "Prompt answered through its URL.");
            if let Some((channel, ts)) = prompt.slack_message.clone() {
                let (engine, text) = (engine.clone(), format!("*{label}*: answered by link."));
                tokio::spawn(async move {
                    let posted = Posted { channel, ts };
                    let updated = match Slack::from_secrets(&engine.http, &engine.secrets) {
                        Ok(slack) => slack.update(&posted, &text).await,
                        Err(error) => Err(error),
                    };
                    if let Err(error) = updated {
                        tracing::warn!(error = %crate::escape::Escaped(&error), "Could not replace the answered prompt on Slack.");
                    }
                });
            }
            page(
                StatusCode::OK,
                "Answer recorded",
                &format!(
                    "<p>Recorded: <strong>{}</strong>. You can close this page.</p>",
                    escape(&label)
                ),
            )
        }
        Ok(Answered::Closed(prompt)) => error_page(closed(&prompt)),
        Ok(Answered::Unknown) => error_page(unknown_prompt()),
        Err(error) => error_page(ApiError::store(error)),
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
