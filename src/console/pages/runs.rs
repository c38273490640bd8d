//! The runs list (also the front page): filters by story, status, time range and entry-payload
//! search, cursor paging, and the failed runs of the last 24 h one click away.

use super::parse_time;
use crate::console::view::{duration, ser, when, PageError, Session};
use crate::console::Console;
use crate::run::{Millis, RunStatus};
use crate::store::{Overview, RunFilter, RunRecord, Runs};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::{Deserialize, Serialize};

/// Runs per page.
const PAGE: u32 = 50;

const DAY: Millis = 24 * 60 * 60 * 1000;

/// The runs list's query string.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(in crate::console) struct RunsQuery {
    #[serde(default)]
    story: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

fn some(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// A run as a list row.
#[derive(Debug, Serialize)]
pub(in crate::console) struct RunRow {
    id: String,
    story: String,
    status: &'static str,
    created: String,
    took: String,
}

/// A run record shaped for the pages.
pub(in crate::console) fn row(run: &RunRecord, now: Millis) -> RunRow {
    RunRow {
        id: run.id.clone(),
        story: run.story_id.clone(),
        status: run.status.as_str(),
        created: when(run.created_at),
        took: duration(run.finished_at.unwrap_or(now) - run.created_at),
    }
}

/// `GET /`: the runs list.
pub(in crate::console) async fn front(
    console: State<Console>,
    session: Extension<Session>,
    query: Query<RunsQuery>,
) -> Result<Response, PageError> {
    list(console, session, query).await
}

/// `GET /runs`.
pub(in crate::console) async fn list(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Query(query): Query<RunsQuery>,
) -> Result<Response, PageError> {
    let status = match some(&query.status) {
        None => None,
        Some(text) => Some(RunStatus::parse(&text).ok_or_else(|| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                format!("There is no status `{text}`."),
            )
        })?),
    };
    let filter = RunFilter {
        story_id: some(&query.story),
        status,
        before: some(&query.before),
        q: some(&query.q),
        since: parse_time("since", query.since.as_deref())?,
        until: parse_time("until", query.until.as_deref())?,
        limit: PAGE,
    };
    let store = &console.app().engine.store;
    let runs = store.list_runs(&filter).await.map_err(PageError::store)?;
    let now = console.now();
    let failed_today: i64 = store
        .run_counts(now - DAY)
        .await
        .map_err(PageError::store)?
        .iter()
        .filter(|c| c.state == RunStatus::Failed.as_str())
        .map(|c| c.count)
        .sum();
    let next = (runs.len() as u32 >= PAGE)
        .then(|| runs.last())
        .flatten()
        .map(|last| {
            let page = RunsQuery {
                before: Some(last.id.clone()),
                ..copy(&query)
            };
            format!("/runs?{}", encode(&page))
        });
    let mut stories: Vec<String> = console
        .app()
        .engine
        .stories
        .all()
        .iter()
        .map(|s| s.id.clone())
        .collect();
    stories.sort();
    let filtered = [
        &query.story,
        &query.status,
        &query.q,
        &query.since,
        &query.until,
    ]
    .iter()
    .any(|v| !blank(v));
    console.render(
        "runs.html",
        "Runs",
        "runs",
        &session,
        minijinja::context! {
            runs => ser(runs.iter().map(|r| row(r, now)).collect::<Vec<_>>()),
            query => ser(&query),
            stories => stories,
            statuses => RunStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            next => next,
            paged => query.before.is_some(),
            filtered => filtered,
            failed_today => failed_today,
        },
    )
}

fn copy(query: &RunsQuery) -> RunsQuery {
    RunsQuery {
        story: some(&query.story),
        status: some(&query.status),
        q: some(&query.q),
        since: some(&query.since),
        until: some(&query.until),
        before: some(&query.before),
    }
}

fn encode(query: &RunsQuery) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("story", &query.story),
        ("status", &query.status),
        ("q", &query.q),
        ("since", &query.since),
        ("until", &query.until),
        ("before", &query.before),
    ] {
        if let Some(value) = some(value) {
            out.append_pair(name, &value);
        }
    }
    out.finish()
}
