//! HTTP: webhooks that start runs, the runs API, health and metrics. Every error is JSON
//! `{code, message, details}`; a 5xx never carries internals (they are logged instead).

mod alerts;
mod ingest;
mod prompt;
mod query;
mod runs;
pub mod server;
mod slack;
mod webhook;

use crate::detect::budget::DecompressionBudget;
use crate::detect::detector::Detector;
use crate::engine::Engine;
use crate::secrets::Secret;
use crate::store::Queue;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The engine (store, stories, secrets, metrics).
    pub engine: Arc<Engine>,
    /// The bearer token `/api/*` requires; `None` closes the API unless `dev`.
    pub api_token: Option<Secret>,
    /// Dev mode: the API is open without a token.
    pub dev: bool,
    /// `/metrics` is served without the token.
    pub metrics_open: bool,
    /// The detection stage.
    pub detector: Arc<Detector>,
    /// Body limits of `POST /ingest`.
    pub ingest_limits: IngestLimits,
    /// Requests in progress on the public routes.
    pub public_reads: PublicReads,
    /// What `/ingest` requests may decompress together.
    pub decompression: Arc<DecompressionBudget>,
}

/// Bounds the requests in progress on the public routes (webhooks, Slack, prompt links), whose
/// bodies are read before anyone is authenticated: without it, N slow senders make Warden hold
/// N bodies. A request that finds every slot taken waits [`PublicReads::WAIT`], then gets 503.
#[derive(Debug, Clone)]
pub struct PublicReads {
    slots: Arc<Semaphore>,
}

impl PublicReads {
    /// How long a request waits for a slot before its 503.
    pub const WAIT: Duration = Duration::from_secs(1);
    /// The default number of slots.
    pub const DEFAULT: usize = 128;

    /// `max` requests at once.
    pub fn new(max: usize) -> PublicReads {
        PublicReads {
            slots: Arc::new(Semaphore::new(max.max(1))),
        }
    }
}

/// Body limits of `POST /ingest/{log_type}`.
#[derive(Debug, Clone, Copy)]
pub struct IngestLimits {
    /// The largest body, as sent (compressed or not).
    pub max_body: usize,
    /// The largest gzip body once decompressed (a zip bomb stops here).
    pub max_decompressed: usize,
    /// Decompressed bytes of all requests together (see `detect::budget`); a request that cannot
    /// get its share in time gets 503.
    pub decompressed_in_flight: usize,
}

impl Default for IngestLimits {
    fn default() -> IngestLimits {
        IngestLimits {
            max_body: 32 * 1024 * 1024,
            max_decompressed: 256 * 1024 * 1024,
            decompressed_in_flight: 512 * 1024 * 1024,
        }
    }
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/stories", get(runs::list_stories))
        .route("/api/runs", get(runs::list_runs))
        .route("/api/runs/{id}", get(runs::get_run))
        .route("/api/alerts", get(alerts::list_alerts))
        .route("/api/alerts/{id}", get(alerts::get_alert))
        .route("/ingest/{log_type}", post(ingest::ingest))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let ingest_ceiling = state.ingest_limits.max_body;
    let public = Router::new()
        .route("/webhook/{path}/{secret}", any(webhook::receive))
        // Each webhook enforces its own (smaller) limit; this is the ceiling any may set.
        .layer(DefaultBodyLimit::max(webhook::MAX_BODY_CEILING))
        .route("/slack/interactions", post(slack::interactions))
        .route("/prompt/{token}", get(prompt::show).post(prompt::answer))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limit_public_reads,
        ));
    // Metrics name stories, rules and volumes: behind the token unless the operator opens them.
    let metrics = Router::new().route("/metrics", get(metrics));
    let metrics = if state.metrics_open {
        metrics
    } else {
        metrics.route_layer(middleware::from_fn_with_state(state.clone(), require_token))
    };
    Router::new()
        .merge(public)
        .merge(metrics)
        .route("/healthz", get(healthz))
        .merge(api.layer(DefaultBodyLimit::max(ingest_ceiling)))
        .fallback(not_found)
        .with_state(state)
}

/// An API error: status, stable code, message, optional details.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Value,
}

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    /// A 500 whose cause is logged, not sent.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "Request failed.");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Warden could not complete the request; the error is in its log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"code": self.code, "message": self.message, "details": self.details})),
        )
            .into_response()
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn limit_public_reads(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let slots = state.public_reads.slots.clone();
    let Ok(Ok(slot)) = tokio::time::timeout(PublicReads::WAIT, slots.acquire_owned()).await else {
        tracing::warn!(
            route = %request.uri().path().split('/').nth(1).unwrap_or_default(),
            "Every public request slot is taken: answering 503."
        );
        let busy = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many requests in progress; retry shortly",
        );
        return ([(header::RETRY_AFTER, "1")], busy).into_response();
    };
    let response = next.run(request).await;
    drop(slot);
    response
}

async fn require_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if state.dev {
        return Ok(next.run(request).await);
    }
    let Some(token) = &state.api_token else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the API is closed: set WARDEN_API_TOKEN (or start with --dev on a trusted machine)",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !token.matches(given.trim().as_bytes()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send `Authorization: Bearer <WARDEN_API_TOKEN>`",
        ));
    }
    Ok(next.run(request).await)
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.engine.store.next_due().await {
        Ok(_) => Json(json!({"status": "ok"})).into_response(),
        Err(error) => {
            tracing::error!(%error, "Health check: the database is unreachable.");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"code": "unavailable", "message": "the database is unreachable", "details": null})),
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let depth = state
        .engine
        .store
        .queue_depth()
        .await
        .map_err(ApiError::internal)?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.engine.metrics.render(&depth),
    )
        .into_response())
}
