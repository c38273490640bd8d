//! The routes that act on runs and prompts, thin over [`crate::engine::operate`] (which the
//! console calls too): `POST /api/runs/{id}/steps/{step}/retry`, `POST /api/runs/{id}/cancel`,
//! `POST /api/runs/{id}/rerun`, `GET /api/prompts` and `POST /api/prompts/{id}/answer`.

use super::actor::Actor;
use super::query::ApiQuery;
use super::runs::{run_json, step_json};
use super::{ApiError, AppState};
use crate::clock::rfc3339;
use crate::engine::operate::{self, Answer, RerunVersion};
use crate::run::{AnsweredVia, PromptState};
use crate::store::{PromptFilter, PromptRecord, Prompts};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

impl From<operate::Error> for ApiError {
    fn from(error: operate::Error) -> ApiError {
        use operate::Error as E;
        let message = error.to_string();
        match error {
            E::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
            E::StepNotFailed { step, state } => {
                ApiError::new(StatusCode::CONFLICT, "step_not_failed", message)
                    .with_details(json!({"step_id": step, "state": state.as_str()}))
            }
            E::RunCancelled(_) => ApiError::new(StatusCode::CONFLICT, "run_cancelled", message),
            E::AlreadyRetried { step, retry } => {
                ApiError::new(StatusCode::CONFLICT, "already_retried", message)
                    .with_details(json!({"step_id": step, "retry_step_id": retry}))
            }
            E::RunFinished { status, .. } => {
                ApiError::new(StatusCode::CONFLICT, "run_finished", message)
                    .with_details(json!({"status": status.as_str()}))
            }
            E::StoryUnavailable(_) => {
                ApiError::new(StatusCode::CONFLICT, "story_unavailable", message)
            }
            E::InvalidChoice { choices, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_choice", message)
                    .with_details(json!({"choices": choices}))
            }
            E::PromptClosed(prompt) => super::slack::closed(&prompt),
            E::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            E::Store(error) => ApiError::store(error),
        }
    }
}

/// A JSON body read into `T`, refused as 400 `invalid_request` in the API's error shape; an
/// empty body reads as `T::default()`.
fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("the body is not the JSON this route takes: {error}"),
        )
    })
}

/// `POST /api/runs/{id}/steps/{step}/retry`: 201 with the new step.
pub(super) async fn retry_step(
    State(state): State<AppState>,
    actor: Actor,
    Path((run_id, step)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let step: i64 = step.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("run `{run_id}` has no step `{step}`"),
        )
    })?;
    let record = operate::retry_step(&state.engine, &run_id, step, actor.name()).await?;
    Ok((StatusCode::CREATED, Json(step_json(&record))))
}

/// `POST /api/runs/{id}/cancel`: what was cancelled.
pub(super) async fn cancel_run(
    State(state): State<AppState>,
    actor: Actor,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let done = operate::cancel_run(&state.engine, &run_id, actor.name()).await?;
    Ok(Json(json!({
        "run_id": run_id,
        "status": "cancelled",
        "steps_cancelled": done.steps,
        "prompts_closed": done.prompts.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        "child_runs": done.child_runs,
    })))
}

/// The body of `POST /api/runs/{id}/rerun`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RerunBody {
    /// `pinned` (default) or `current`.
    version: Option<String>,
}

/// `POST /api/runs/{id}/rerun` `{"version": "pinned"|"current"}`: 201 with the new run.
pub(super) async fn rerun(
    State(state): State<AppState>,
    actor: Actor,
    Path(run_id): Path<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let given: RerunBody = body(&bytes)?;
    let version = match given.version.as_deref() {
        None | Some("pinned") => RerunVersion::Pinned,
        Some("current") => RerunVersion::Current,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_version",
                format!("`version` must be `pinned` or `current`, not `{other}`"),
            ))
        }
    };
    let run = operate::rerun(&state.engine, &run_id, version, actor.name()).await?;
    let mut shown = run_json(&run);
    shown["run_id"] = run.id.clone().into();
    Ok((StatusCode::CREATED, Json(shown)))
}

#[derive(Debug, Deserialize)]
pub(super) struct PromptQuery {
    state: Option<String>,
    before: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/prompts[?state=open|answered|expired|cancelled][&before=CURSOR][&limit=N]`.
pub(super) async fn list_prompts(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PromptQuery>,
) -> Result<Json<Value>, ApiError> {
    let invalid =
        |message: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message);
    let wanted = match query.state.as_deref() {
        None => None,
        // A prompt waits while it is open: the console's word for it.
        Some("waiting") => Some(PromptState::Open),
        Some(text) => Some(PromptState::parse(text).ok_or_else(|| {
            invalid(format!(
                "`state` must be open (or waiting), answered, expired or cancelled, not `{text}`"
            ))
        })?),
    };
    let before = match query.before.as_deref() {
        None => None,
        Some(cursor) => Some(
            cursor
                .split_once(':')
                .and_then(|(at, id)| Some((at.parse().ok()?, id.to_owned())))
                .ok_or_else(|| invalid(format!("`before` `{cursor}` is not a cursor")))?,
        ),
    };
    let filter = PromptFilter {
        state: wanted,
        before,
        limit: query.limit.unwrap_or(50),
    };
    let prompts = state
        .engine
        .store
        .list_prompts(&filter)
        .await
        .map_err(ApiError::store)?;
    let next = (prompts.len() as u32 >= filter.limit.clamp(1, 500))
        .then(|| prompts.last().map(|p| format!("{}:{}", p.created_at, p.id)))
        .flatten();
    Ok(Json(json!({
        "prompts": prompts.iter().map(prompt_json).collect::<Vec<_>>(),
        "next_before": next,
    })))
}

/// The body of `POST /api/prompts/{id}/answer`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    /// One of the prompt's choices (its `value`).
    choice: Option<String>,
    /// Who answered, when the caller answers for someone; default: the API user.
    responder: Option<String>,
}

/// `POST /api/prompts/{id}/answer` `{"choice": "...", "responder": "..."}`: the answered prompt.
pub(super) async fn answer_prompt(
    State(state): State<AppState>,
    actor: Actor,
    Path(prompt_id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let given: AnswerBody = body(&bytes)?;
    let choice = given.choice.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_choice",
            "the body needs `choice`: one of the prompt's answers",
        )
    })?;
    let responder = given
        .responder
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| actor.name().to_owned());
    let answer = Answer {
        prompt_id: &prompt_id,
        choice: &choice,
        responder: &responder,
        via: AnsweredVia::Api,
        actor: actor.name(),
    };
    let recorded = operate::answer_prompt(&state.engine, answer).await?;
    Ok(Json(prompt_json(&recorded.prompt)))
}

/// A prompt as the API shows it. Its answer links are never shown: only their hashes are kept.
fn prompt_json(prompt: &PromptRecord) -> Value {
    json!({
        "id": prompt.id,
        "run_id": prompt.run_id,
        "step_id": prompt.step_id,
        "story": prompt.story_id,
        "action": prompt.action_id,
        "state": prompt.state.as_str(),
        "choices": prompt.choices,
        "responders": prompt.responders,
        "on_slack": prompt.slack_message.is_some(),
        "answer": prompt.answer,
        "responder": prompt.responder,
        "answered_via": prompt.answered_via.map(AnsweredVia::as_str),
        "answered_at": prompt.answered_at.map(rfc3339),
        "created_at": rfc3339(prompt.created_at),
        "expires_at": rfc3339(prompt.expires_at),
    })
}
