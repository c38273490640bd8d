//! One axum server per vendor on `127.0.0.1:0`, behind a layer that stamps every response with
//! `X-Warden-Simulator` and records the exchange for the demo's timeline.

use super::Vendor;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use jiff::Timestamp;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// The header every simulated response carries, naming the vendor simulated.
pub const SIMULATOR_HEADER: &str = "x-warden-simulator";

/// How long shutdown waits for open connections before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// One request a simulator answered. Headers (where credentials travel) are not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The simulator that answered.
    pub vendor: Vendor,
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// When the answer was sent.
    pub at: Timestamp,
}

/// Every exchange of every simulator, in order, and a counter that moves on each one.
#[derive(Clone)]
pub(super) struct Journal {
    entries: Arc<Mutex<Vec<RecordedRequest>>>,
    changes: Arc<watch::Sender<u64>>,
}

impl Journal {
    pub(super) fn new() -> Journal {
        Journal {
            entries: Arc::default(),
            changes: Arc::new(watch::channel(0).0),
        }
    }

    pub(super) fn entries(&self) -> Vec<RecordedRequest> {
        lock(&self.entries).clone()
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Moves the change counter, for state changed outside a request (a click).
    pub(super) fn touch(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    fn record(&self, entry: RecordedRequest) {
        lock(&self.entries).push(entry);
        self.touch();
    }
}

/// Locks a simulator's state; a handler that panicked mid-update leaves state a test will
/// report on anyway, so poisoning is ignored.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running simulator.
pub(super) struct Server {
    pub(super) addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Binds an ephemeral loopback port (before the router exists, so it can know its own URL).
pub(super) async fn bind() -> io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await
}

/// Serves `router` on `listener` as `vendor`'s simulator.
pub(super) fn serve(
    listener: TcpListener,
    vendor: Vendor,
    router: Router,
    journal: Journal,
) -> io::Result<Server> {
    let addr = listener.local_addr()?;
    let router = router
        .fallback(move || async move {
            (
                StatusCode::NOT_FOUND,
                format!("Warden's {vendor} simulator has no such endpoint.\n"),
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            (vendor, journal),
            stamp,
        ));
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await;
        if let Err(error) = served {
            tracing::warn!(%vendor, %error, "Simulator stopped serving.");
        }
    });
    tracing::info!(%vendor, %addr, "Simulator listening (a local stand-in, not the vendor).");
    Ok(Server {
        addr,
        shutdown: Some(shutdown),
        task: Some(task),
    })
}

impl Server {
    pub(super) async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            // A client's idle keep-alive connection must not hold the demo open.
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn stamp(
    State((vendor, journal)): State<(Vendor, Journal)>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_string(), |p| p.to_string());
    let mut response = next.run(request).await.into_response();
    response
        .headers_mut()
        .insert(SIMULATOR_HEADER, HeaderValue::from_static(vendor.name()));
    journal.record(RecordedRequest {
        vendor,
        method,
        path,
        status: response.status().as_u16(),
        at: Timestamp::now(),
    });
    response
}

/// A JSON response.
pub(super) fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// The value of a header, if present and text.
pub(super) fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The credential after `scheme ` in `Authorization` (scheme matched case-insensitively).
pub(super) fn authorization<'a>(
    headers: &'a axum::http::HeaderMap,
    scheme: &str,
) -> Option<&'a str> {
    let value = header(headers, "authorization")?.trim();
    let (given, credential) = value.split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| credential.trim())
}
