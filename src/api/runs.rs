//! `GET /api/stories`, `GET /api/runs`, `GET /api/runs/{id}` (with its history).

use super::query::ApiQuery;
use super::{ApiError, AppState};
use crate::clock::rfc3339;
use crate::run::{RunStatus, StepState};
use crate::store::{
    EventRecord, HistoryRecord, Operations, RunFilter, RunRecord, Runs, StepRecord,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) async fn list_stories(State(state): State<AppState>) -> Json<Value> {
    let stories: Vec<Value> = state
        .engine
        .stories
        .all()
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "name": s.name,
                "description": s.description,
                "version": s.version,
                "actions": s.actions.len(),
            })
        })
        .collect();
    Json(json!({ "stories": stories }))
}

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    story: Option<String>,
    status: Option<String>,
    before: Option<String>,
    /// Text the entry event must contain.
    q: Option<String>,
    /// RFC 3339 time or milliseconds since the epoch: runs created at or after it.
    since: Option<String>,
    /// RFC 3339 time or milliseconds since the epoch: runs created before it.
    until: Option<String>,
    limit: Option<u32>,
}

/// Reads `since`/`until`: an RFC 3339 timestamp or milliseconds since the Unix epoch.
pub(crate) fn parse_time(name: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(millis) = text.parse::<i64>() {
        return Ok(Some(millis));
    }
    text.parse::<jiff::Timestamp>()
        .map(|t| Some(t.as_millisecond()))
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("`{name}` must be an RFC 3339 time or milliseconds, not `{text}`"),
            )
        })
}

pub(super) async fn list_runs(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(RunStatus::parse(text).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("`status` must be running, waiting, succeeded, failed or cancelled, not `{text}`"),
            )
        })?),
    };
    let filter = RunFilter {
        story_id: query.story,
        status,
        before: query.before,
        q: query.q,
        since: parse_time("since", query.since.as_deref())?,
        until: parse_time("until", query.until.as_deref())?,
        limit: query.limit.unwrap_or(50),
    };
    let runs = state
        .engine
        .store
        .list_runs(&filter)
        .await
        .map_err(ApiError::store)?;
    let next = (runs.len() as u32 >= filter.limit.clamp(1, 500))
        .then(|| runs.last().map(|r| r.id.clone()))
        .flatten();
    Ok(Json(json!({
        "runs": runs.iter().map(run_json).collect::<Vec<_>>(),
        "next_before": next,
    })))
}

pub(super) async fn get_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = &state.engine.store;
    let run = store
        .run(&id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no run `{id}`"))
        })?;
    let steps = store.run_steps(&id).await.map_err(ApiError::store)?;
    let events = store.run_events(&id).await.map_err(ApiError::store)?;
    let history = store.run_history(&id).await.map_err(ApiError::store)?;
    let mut body = run_json(&run);
    body["steps"] = steps.iter().map(step_json).collect();
    body["events"] = events.iter().map(event_json).collect();
    body["history"] = history.iter().map(history_json).collect();
    Ok(Json(body))
}

/// A run as the API shows it.
pub(super) fn run_json(run: &RunRecord) -> Value {
    json!({
        "id": run.id,
        "story": run.story_id,
        "story_version": run.story_version,
        "status": run.status.as_str(),
        "dedupe_key": run.dedupe_key,
        "created_at": rfc3339(run.created_at),
        "updated_at": rfc3339(run.updated_at),
        "finished_at": run.finished_at.map(rfc3339),
        "rerun_of": run.rerun_of,
    })
}

/// A step as the API shows it.
pub(super) fn step_json(step: &StepRecord) -> Value {
    json!({
        "id": step.id,
        "action": step.action_id,
        "state": step.state.as_str(),
        "attempt": step.attempt,
        "lost_leases": step.lost_leases,
        "input_event_id": step.input_event_id,
        "error": step.error,
        // A running step's due time is its lease, and a finished step has none.
        "due_at": matches!(step.state, StepState::Pending | StepState::Waiting)
            .then(|| rfc3339(step.due_at)),
        "waiting_for": waiting_for(step),
        "created_at": rfc3339(step.created_at),
        "finished_at": step.finished_at.map(rfc3339),
        "missing_data": step.missing_data,
        "retry_of": step.retry_of,
    })
}

/// A line of a run's history.
fn history_json(line: &HistoryRecord) -> Value {
    json!({
        "at": rfc3339(line.at),
        "actor": line.actor,
        "action": line.action,
        "details": line.details,
    })
}

/// A waiting step's wait: its kind and fields, what it waits for in words, and until when.
fn waiting_for(step: &StepRecord) -> Option<Value> {
    let wait = step
        .wait
        .as_ref()
        .filter(|_| step.state == StepState::Waiting)?;
    let mut shown = serde_json::to_value(wait).ok()?;
    if let Some(fields) = shown.as_object_mut() {
        fields.insert("reason".into(), wait.describe().into());
        fields.insert("until".into(), rfc3339(step.due_at).into());
    }
    Some(shown)
}

fn event_json(event: &EventRecord) -> Value {
    json!({
        "id": event.id,
        "parent_id": event.parent_id,
        "step_id": event.step_id,
        "action": event.action_id,
        "link": event.link,
        "payload": event.payload,
        "created_at": rfc3339(event.created_at),
    })
}
