//! `GET /api/alerts`, `GET /api/alerts/{id}`.

use super::query::ApiQuery;
use super::{ApiError, AppState};
use crate::clock::rfc3339;
use crate::store::{AlertFilter, AlertRecord, Detections};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    rule: Option<String>,
    severity: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

pub(super) async fn list_alerts(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = AlertFilter {
        rule_id: query.rule,
        severity: query.severity,
        before: query.before,
        limit: query.limit.unwrap_or(50),
    };
    let alerts = state
        .detector
        .store()
        .list_alerts(&filter)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(
        json!({ "alerts": alerts.iter().map(alert_json).collect::<Vec<_>>() }),
    ))
}

pub(super) async fn get_alert(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (alert, deliveries) = state
        .detector
        .store()
        .alert(&id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no alert `{id}`"),
            )
        })?;
    let mut body = alert_json(&alert);
    body["notification"] = alert.notification.clone();
    body["deliveries"] = json!(deliveries);
    Ok(Json(body))
}

fn alert_json(alert: &AlertRecord) -> Value {
    json!({
        "id": alert.id,
        "rule_id": alert.rule_id,
        "type": alert.alert_type,
        "severity": alert.severity,
        "title": alert.title,
        "dedup": alert.dedup,
        "event_count": alert.event_count,
        "created_at": rfc3339(alert.created_at),
        "created_at_ms": alert.created_at,
        "updated_at": rfc3339(alert.updated_at),
    })
}
