//! The receiver of the stories' `http_request` steps: it counts calls per `Idempotency-Key` and
//! holds calls at a gate, so a test can stop Warden while calls are in flight.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// A local HTTP receiver for the stories' `http_request` steps. It counts calls per
/// `Idempotency-Key` and answers 200 `{"n", "key"}` after 30–100 ms. The first `free` distinct
/// keys are answered at once; later ones are held until [`Mock::open_gate`], so a test can stop
/// Warden while calls are provably in flight.
pub struct Mock {
    /// The URL the story calls.
    pub url: String,
    state: Arc<MockState>,
    server: tokio::task::JoinHandle<()>,
}

struct MockState {
    /// Calls per key, and the key's rank (1 = the first key seen).
    calls: Mutex<HashMap<String, (u32, usize)>>,
    free: usize,
    gate: watch::Sender<bool>,
    /// Keys whose calls wait at the gate now (a count per key).
    held: Mutex<HashMap<String, usize>>,
    /// Calls that carried no `Idempotency-Key`.
    unkeyed: AtomicUsize,
}

/// Removes a held call from [`MockState::held`] however its handler ends (answered, or dropped
/// with its connection).
struct Holding {
    state: Arc<MockState>,
    key: String,
}

impl Holding {
    fn new(state: &Arc<MockState>, key: &str) -> Holding {
        *state
            .held
            .lock()
            .unwrap()
            .entry(key.to_owned())
            .or_default() += 1;
        Holding {
            state: state.clone(),
            key: key.to_owned(),
        }
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        let mut held = self.state.held.lock().unwrap();
        if let Some(count) = held.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

impl Mock {
    /// Starts the receiver on a free port.
    pub async fn start(free: usize) -> Mock {
        let state = Arc::new(MockState {
            calls: Mutex::default(),
            free,
            gate: watch::channel(false).0,
            held: Mutex::default(),
            unkeyed: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the mock");
        let url = format!(
            "http://{}/hit",
            listener.local_addr().expect("mock address")
        );
        let app = axum::Router::new()
            .route("/hit", axum::routing::post(answer))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Mock { url, state, server }
    }

    /// Answers every call from now on (held ones included).
    pub fn open_gate(&self) {
        self.state.gate.send_replace(true);
    }

    /// Keys with a call waiting at the gate now.
    pub fn held(&self) -> Vec<String> {
        self.state.held.lock().unwrap().keys().cloned().collect()
    }

    /// Calls received per key (answered or not).
    pub fn calls(&self) -> HashMap<String, u32> {
        self.state
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(|(k, (count, _))| (k.clone(), *count))
            .collect()
    }

    /// Calls that had no `Idempotency-Key`.
    pub fn unkeyed(&self) -> usize {
        self.state.unkeyed.load(Ordering::SeqCst)
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(State(state): State<Arc<MockState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        state.unkeyed.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::BAD_REQUEST, "no Idempotency-Key").into_response();
    };
    let rank = {
        let mut calls = state.calls.lock().unwrap();
        let next = calls.len() + 1;
        let entry = calls.entry(key.clone()).or_insert((0, next));
        entry.0 += 1;
        entry.1
    };
    if rank > state.free {
        let mut gate = state.gate.subscribe();
        if !*gate.borrow_and_update() {
            let _holding = Holding::new(&state, &key);
            let _ = gate.wait_for(|open| *open).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(fastrand::u64(30..=100))).await;
    let n = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b.get("n").cloned())
        .unwrap_or(Value::Null);
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "n": n, "key": key }).to_string(),
    )
        .into_response()
}

/// The run id and step id in an idempotency key `warden-<run id>-<step id>`.
pub fn split_key(key: &str) -> (String, i64) {
    key.strip_prefix("warden-")
        .and_then(|rest| rest.rsplit_once('-'))
        .and_then(|(run, step)| Some((run.to_owned(), step.parse().ok()?)))
        .unwrap_or_else(|| panic!("`{key}` is not `warden-<run id>-<step id>`"))
}
