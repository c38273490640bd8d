//! Alerts: the list (severity, rule, title, events, created) and an alert's page with Panther's
//! body, the matched events, each delivery's attempts and last error, and the runs it started.

use crate::console::view::{pretty, when, PageError, Session};
use crate::console::Console;
use crate::run::Millis;
use crate::store::{AlertFilter, AlertRecord, Detections, Overview, Runs};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

/// Alerts per page.
const PAGE: u32 = 50;

/// Matched events shown on an alert's page.
const MATCHES: u32 = 20;

fn row(alert: &AlertRecord) -> minijinja::Value {
    minijinja::context! {
        id => &alert.id,
        rule => &alert.rule_id,
        severity => alert.severity.to_lowercase(),
        title => &alert.title,
        events => alert.event_count,
        created => when(alert.created_at),
    }
}

#[derive(Debug, Deserialize)]
pub(in crate::console) struct AlertsQuery {
    /// Paging: alerts created before this time (milliseconds).
    before: Option<Millis>,
}

/// `GET /alerts`.
pub(in crate::console) async fn list(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Query(query): Query<AlertsQuery>,
) -> Result<Response, PageError> {
    let alerts = console
        .app()
        .detector
        .store()
        .list_alerts(&AlertFilter {
            before: query.before,
            limit: PAGE,
            ..AlertFilter::default()
        })
        .await
        .map_err(PageError::store)?;
    let next = (alerts.len() as u32 >= PAGE)
        .then(|| {
            alerts
                .last()
                .map(|a| format!("/alerts?before={}", a.created_at))
        })
        .flatten();
    console.render(
        "alerts.html",
        "Alerts",
        "alerts",
        &session,
        minijinja::context! {
            alerts => alerts.iter().map(row).collect::<Vec<_>>(),
            next => next,
        },
    )
}

/// `GET /alerts/{id}`.
pub(in crate::console) async fn show(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let store = console.app().detector.store();
    let (alert, deliveries) = store
        .alert(&id)
        .await
        .map_err(PageError::store)?
        .ok_or_else(|| PageError::not_found(format_args!("alert `{id}`")))?;
    let matches = store
        .alert_matches(&id, MATCHES)
        .await
        .map_err(PageError::store)?;
    let mut runs = Vec::new();
    for run_id in deliveries.iter().filter_map(|d| d.run_id.as_deref()) {
        if let Some(run) = store.run(run_id).await.map_err(PageError::store)? {
            runs.push(minijinja::context! {
                id => run.id, story => run.story_id, status => run.status.as_str(),
                created => when(run.created_at),
            });
        }
    }
    let deliveries: Vec<_> = deliveries
        .iter()
        .map(|d| {
            minijinja::context! {
                destination => &d.destination,
                state => d.state.as_str(),
                attempts => d.attempts,
                due => when(d.due_at),
                run => d.run_id.as_deref(),
                error => d.last_error.as_deref(),
            }
        })
        .collect();
    console.render(
        "alert.html",
        &format!("Alert {}", alert.title),
        "alerts",
        &session,
        minijinja::context! {
            alert => row(&alert),
            dedup => &alert.dedup,
            kind => &alert.alert_type,
            updated => when(alert.updated_at),
            body => pretty(&alert.notification),
            matches => matches.iter().map(pretty).collect::<Vec<_>>(),
            shown => MATCHES.min(alert.event_count.max(0) as u32),
            deliveries => deliveries,
            runs => runs,
        },
    )
}
