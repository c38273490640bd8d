//! `POST /ingest/{log_type}`: logs into the detection stage. The answer comes after the batch's
//! matches, alerts and deliveries are committed.

use super::{ApiError, AppState};
use crate::detect::body::BodyError;
use crate::detect::detector::IngestError;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

pub(super) async fn ingest(
    State(state): State<AppState>,
    Path(log_type): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let limits = state.ingest_limits;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the body is larger than {} bytes; split it into smaller batches",
                limits.max_body
            ),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limits.max_body) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(request.into_body(), limits.max_body)
        .await
        .map_err(|_| too_large())?;
    let ingested = state
        .detector
        .ingest_body(
            &log_type,
            bytes,
            limits.max_decompressed,
            Some(state.decompression.clone()),
        )
        .await;
    let report = ingested.map_err(|error| match error {
        IngestError::Body(BodyError::Busy) => {
            tracing::warn!("The decompression budget is spent: answering 503.");
            ApiError::busy(BodyError::Busy.to_string(), 2)
        }
        IngestError::BadLogType(_) => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_log_type", error.to_string())
        }
        IngestError::Body(BodyError::TooLarge { .. }) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            error.to_string(),
        ),
        IngestError::Body(body) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", body.to_string())
        }
        IngestError::Store(store) => ApiError::store(store),
    })?;
    state
        .engine
        .metrics
        .events_ingested(report.accepted, report.rejected);
    if report.accepted == 0 && report.rejected > 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "no event in the body could be read",
        )
        .with_details(json!({ "errors": report.errors })));
    }
    Ok((StatusCode::OK, Json(report)).into_response())
}
