//! HTTP: webhooks that start runs, the runs API (reading runs, and acting on them: retry, cancel,
//! re-run, answer a prompt, in `operate`), liveness, readiness and metrics. Every error is
//! JSON `{code, message, details}`; a 5xx never carries internals (they are logged instead). A
//! store error is a 503 `unavailable` with `Retry-After` when the database cannot be reached
//! ([`ApiError::store`]), otherwise a 500.

mod actor;
mod alerts;
mod error;
mod ingest;
mod operate;
mod prompt;
mod query;
mod runs;
pub mod server;
mod slack;
pub mod webhook;

pub use actor::Actor;
pub use error::ApiError;
use error::UNAVAILABLE_RETRY_AFTER;

use crate::detect::budget::DecompressionBudget;
use crate::detect::detector::Detector;
use crate::engine::Engine;
use crate::escape::Escaped;
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
    /// One WARN per burst of refusals, not one per refused request.
    saturation: Arc<std::sync::Mutex<server::Saturation>>,
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
            saturation: Arc::default(),
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
        .route(
            "/api/runs/{id}/steps/{step}/retry",
            post(operate::retry_step),
        )
        .route("/api/runs/{id}/cancel", post(operate::cancel_run))
        .route("/api/runs/{id}/rerun", post(operate::rerun))
        .route("/api/prompts", get(operate::list_prompts))
        .route("/api/prompts/{id}/answer", post(operate::answer_prompt))
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
        .route("/readyz", get(readyz))
        .merge(api.layer(DefaultBodyLimit::max(ingest_ceiling)))
        .fallback(not_found)
        .with_state(state)
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
        let new_burst = (state.public_reads.saturation.lock())
            .map_or(true, |mut s| s.at_limit(tokio::time::Instant::now()));
        if new_burst {
            tracing::warn!(
                route = %request.uri().path().split('/').nth(1).unwrap_or_default(),
                "Every public request slot is taken: answering 503 (logged once per burst)."
            );
        }
        return ApiError::busy("too many requests in progress; retry shortly", 1).into_response();
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

/// Liveness: the process serves HTTP. Never touches the database, so an outage does not make an
/// orchestrator restart a process that would recover by itself.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// How long `/readyz` waits for the database's answer.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// Readiness: the database answers a `SELECT 1` within [`READY_TIMEOUT`].
async fn readyz(State(state): State<AppState>) -> Response {
    let error = match tokio::time::timeout(READY_TIMEOUT, state.engine.store.ping()).await {
        Ok(Ok(())) => return Json(json!({"store": "ok"})).into_response(),
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("no answer within {} ms", READY_TIMEOUT.as_millis()),
    };
    tracing::warn!(error = %Escaped(&error), "Readiness check: the database cannot be reached.");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, UNAVAILABLE_RETRY_AFTER.to_string())],
        Json(json!({"store": "unavailable"})),
    )
        .into_response()
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let depth = state.engine.store.queue_depth().await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.engine.metrics.render(&depth),
    )
        .into_response())
}
