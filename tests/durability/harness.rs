//! The durability suite's machinery: `warden` processes that die with the test, a gated mock
//! receiver that counts calls per `Idempotency-Key`, stories in a temp directory, the runs API,
//! and the checks every test applies to the runs it started.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use warden::store::{EventRecord, RunRecord, StepRecord};

/// How long any wait may take before the test gives up (generous: CI machines are slow and
/// shared). Nothing asserts on how fast things happen.
pub const DEADLINE: Duration = Duration::from_secs(120);
/// How often waits poll.
pub const POLL: Duration = Duration::from_millis(100);
/// The webhook secret every test story uses (credential `hook_secret`).
pub const HOOK_SECRET: &str = "durability-hook-secret";
/// The API token every `warden serve` of the suite requires.
pub const API_TOKEN: &str = "durability-api-token";

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Polls `probe` until it answers `Some`, or panics after [`DEADLINE`] saying what it waited for.
pub async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// A temp directory with `stories/` (one story) and an empty `templates/`, plus process logs.
/// Removed when the test passes; kept (and named on stderr) when it fails or when
/// `WARDEN_TEST_KEEP` is set.
pub struct Workspace {
    /// The directory.
    pub root: PathBuf,
    /// `WARDEN_STORIES`.
    pub stories: PathBuf,
    /// `WARDEN_TEMPLATES`.
    pub templates: PathBuf,
}

impl Workspace {
    /// Writes `stories/<story_id>.yml`.
    pub fn new(story_id: &str, source: &str) -> Workspace {
        let root = std::env::temp_dir().join(format!("warden-durability-{}", uuid::Uuid::now_v7()));
        let stories = root.join("stories");
        let templates = root.join("templates");
        std::fs::create_dir_all(&stories).expect("create the stories dir");
        std::fs::create_dir_all(&templates).expect("create the templates dir");
        std::fs::write(stories.join(format!("{story_id}.yml")), source).expect("write the story");
        Workspace {
            root,
            stories,
            templates,
        }
    }

    /// The one story, loaded and validated as `warden` loads it (for its version).
    pub fn story(&self) -> warden::story::Story {
        let loaded =
            warden::story::load::load(std::slice::from_ref(&self.stories), &self.templates)
                .expect("read the stories");
        assert_eq!(
            loaded.error_count(),
            0,
            "the test story is invalid: {:?}",
            loaded.reports
        );
        loaded.stories.into_iter().next().expect("one story")
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("WARDEN_TEST_KEEP").is_some() {
            eprintln!("test files and logs kept in {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// A `warden serve` or `warden worker` child. Dropping it SIGKILLs the process if it still runs
/// (so a failing test leaves nothing behind) and, when the test is failing, prints its log's tail.
pub struct Warden {
    /// Its name in messages and its log file's name.
    pub name: String,
    child: Mutex<Child>,
    log: PathBuf,
    /// `serve` only: the API's base URL.
    base: Option<String>,
}

/// How to start a `warden` process.
#[derive(Clone, Copy)]
pub struct Launch<'a> {
    /// `serve` or `worker`.
    pub command: &'a str,
    /// Its name (and log file name).
    pub name: &'a str,
    /// The workspace with its stories.
    pub workspace: &'a Workspace,
    /// `WARDEN_DATABASE_URL`.
    pub database_url: &'a str,
    /// `WARDEN_LEASE_SECS`.
    pub lease_secs: u64,
    /// `WARDEN_CONCURRENCY`.
    pub concurrency: usize,
}

impl Warden {
    /// Starts the process, its stderr to `<workspace>/<name>.log`. Every `WARDEN_*` variable of
    /// the test's environment is dropped so only what the test sets applies.
    pub fn start(launch: Launch<'_>) -> Warden {
        let log = launch.workspace.root.join(format!("{}.log", launch.name));
        let stderr = std::fs::File::create(&log).expect("create the log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
        command.arg(launch.command);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("WARDEN_") {
                command.env_remove(key);
            }
        }
        command
            .current_dir(&launch.workspace.root)
            .env("WARDEN_DATABASE_URL", launch.database_url)
            .env("WARDEN_STORIES", &launch.workspace.stories)
            .env("WARDEN_TEMPLATES", &launch.workspace.templates)
            .env("WARDEN_LEASE_SECS", launch.lease_secs.to_string())
            .env("WARDEN_CONCURRENCY", launch.concurrency.to_string())
            .env("WARDEN_CREDENTIAL_HOOK_SECRET", HOOK_SECRET)
            .env("WARDEN_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let base = (launch.command == "serve").then(|| {
            let listen = format!("127.0.0.1:{}", free_port());
            command
                .env("WARDEN_LISTEN", &listen)
                .env("WARDEN_API_TOKEN", API_TOKEN);
            format!("http://{listen}")
        });
        let child = command.spawn().expect("start warden");
        Warden {
            name: launch.name.to_owned(),
            child: Mutex::new(child),
            log,
            base,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    /// Its exit status, once it has exited.
    pub fn exited(&self) -> Option<ExitStatus> {
        self.child
            .lock()
            .unwrap()
            .try_wait()
            .expect("query the child")
    }

    /// Panics (with the log) if the process has exited.
    pub fn assert_running(&self) {
        if let Some(status) = self.exited() {
            panic!(
                "{} exited unexpectedly ({status}); its log:\n{}",
                self.name,
                self.log_text()
            );
        }
    }

    /// Everything it logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many log lines contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        let Ok(file) = std::fs::File::open(&self.log) else {
            return 0;
        };
        BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter(|line| line.contains(needle))
            .count()
    }

    /// Waits until it logs a line containing `needle` (panics if it exits first).
    pub async fn wait_log(&self, needle: &str) {
        wait_for(
            &format!("{} to log `{needle}`", self.name),
            move || async move {
                if self.log_count(needle) > 0 {
                    return Some(());
                }
                self.assert_running();
                None
            },
        )
        .await
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap it.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM: asks it to shut down gracefully.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits for it to exit and returns how.
    pub async fn wait_exit(&self) -> ExitStatus {
        wait_for(&format!("{} to exit", self.name), move || async move {
            self.exited()
        })
        .await
    }

    /// Starts a `warden serve` and waits until `/healthz` answers; returns it with its API. The
    /// port is picked free just before the start, so another process may take it first: a serve
    /// that could not listen is started again on another port.
    pub async fn serve(launch: Launch<'_>) -> (Warden, Api) {
        assert_eq!(launch.command, "serve");
        for _ in 0..3 {
            let warden = Warden::start(launch);
            let base = warden.base.clone().expect("serve has an address");
            let api = Api {
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("build an HTTP client"),
                base,
            };
            let (probe, process) = (&api, &warden);
            let healthy = wait_for(
                &format!("{} to answer /healthz", warden.name),
                move || async move {
                    if process.exited().is_some() {
                        return Some(false);
                    }
                    probe.healthy().await.then_some(true)
                },
            )
            .await;
            if healthy {
                return (warden, api);
            }
            if !warden.log_text().contains("Failed to listen") {
                warden.assert_running();
            }
        }
        panic!("{}: no free port in three tries", launch.name);
    }
}

impl Drop for Warden {
    fn drop(&mut self) {
        let still_running = self.exited().is_none();
        if still_running {
            self.kill();
        }
        if std::thread::panicking() {
            let text = self.log_text();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            eprintln!(
                "--- {} ({}; log {}), last lines:\n{tail}",
                self.name,
                if still_running {
                    "killed by the test's cleanup"
                } else {
                    "had exited"
                },
                self.log.display()
            );
        }
    }
}

/// A client of one `warden serve`'s HTTP interface.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn healthy(&self) -> bool {
        matches!(
            self.http.get(format!("{}/healthz", self.base)).send().await,
            Ok(r) if r.status().is_success()
        )
    }

    /// Posts `{"n": n}` to the webhook at `path` and returns the new run's id.
    pub async fn post_webhook(&self, path: &str, n: u64) -> String {
        let response = self
            .http
            .post(format!("{}/webhook/{path}/{HOOK_SECRET}", self.base))
            .header(header::CONTENT_TYPE.as_str(), "application/json")
            .body(json!({ "n": n }).to_string())
            .send()
            .await
            .expect("post the webhook");
        let status = response.status();
        let body: Value = serde_json::from_slice(&response.bytes().await.expect("read the answer"))
            .expect("the webhook answers JSON");
        assert_eq!(status.as_u16(), 202, "webhook {n} was refused: {body}");
        assert_eq!(body["duplicate"], json!(false), "webhook {n}: {body}");
        body["run_id"]
            .as_str()
            .unwrap_or_else(|| panic!("webhook {n}: no run_id in {body}"))
            .to_owned()
    }

    /// Posts `count` webhooks (`n` = 0..count) concurrently; returns `(run id, n)` in `n` order.
    pub async fn post_webhooks(&self, path: &str, count: u64) -> Vec<(String, u64)> {
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..count {
            let api = self.clone();
            let path = path.to_owned();
            tasks.spawn(async move { (api.post_webhook(&path, n).await, n) });
        }
        let mut runs = tasks.join_all().await;
        runs.sort_by_key(|(_, n)| *n);
        runs
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status();
        let bytes = response.bytes().await.expect("read the answer");
        assert_eq!(
            status,
            StatusCode::OK,
            "GET {path}: {}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).expect("the API answers JSON")
    }

    /// Every run's status by id (at most 500 runs).
    pub async fn statuses(&self) -> BTreeMap<String, String> {
        self.get("/api/runs?limit=500").await["runs"]
            .as_array()
            .expect("`runs` is a list")
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap_or_default().to_owned(),
                    r["status"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// One run with its steps and events.
    pub async fn run(&self, id: &str) -> RunView {
        RunView::from_api(&self.get(&format!("/api/runs/{id}")).await)
    }
}

/// Counts statuses: `(finished, total)`.
pub fn finished(statuses: &BTreeMap<String, String>) -> (usize, usize) {
    let done = statuses
        .values()
        .filter(|s| *s == "succeeded" || *s == "failed")
        .count();
    (done, statuses.len())
}

/// A run as the checks see it, from the API or straight from the store.
#[derive(Debug)]
pub struct RunView {
    /// Id.
    pub id: String,
    /// `running`, `waiting`, `succeeded` or `failed`.
    pub status: String,
    /// Steps in creation order.
    pub steps: Vec<StepView>,
    /// Events in creation order.
    pub events: Vec<EventView>,
}

/// A step as the checks see it.
#[derive(Debug)]
pub struct StepView {
    /// Id.
    pub id: i64,
    /// Its action.
    pub action: String,
    /// Its state.
    pub state: String,
    /// Executions (claims) so far.
    pub attempt: i64,
}

/// An event as the checks see it.
#[derive(Debug)]
pub struct EventView {
    /// The action that emitted it.
    pub action: String,
    /// `default`, `no_match` or `failure`.
    pub link: String,
    /// What it carries.
    pub payload: Value,
}

impl RunView {
    fn from_api(run: &Value) -> RunView {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        RunView {
            id: text(&run["id"]),
            status: text(&run["status"]),
            steps: run["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| StepView {
                    id: s["id"].as_i64().unwrap_or(-1),
                    action: text(&s["action"]),
                    state: text(&s["state"]),
                    attempt: s["attempt"].as_i64().unwrap_or(-1),
                })
                .collect(),
            events: run["events"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| EventView {
                    action: text(&e["action"]),
                    link: text(&e["link"]),
                    payload: e["payload"].clone(),
                })
                .collect(),
        }
    }

    /// From store records.
    pub fn from_store(run: &RunRecord, steps: &[StepRecord], events: &[EventRecord]) -> RunView {
        RunView {
            id: run.id.clone(),
            status: run.status.as_str().to_owned(),
            steps: steps
                .iter()
                .map(|s| StepView {
                    id: s.id,
                    action: s.action_id.clone(),
                    state: s.state.as_str().to_owned(),
                    attempt: s.attempt,
                })
                .collect(),
            events: events
                .iter()
                .map(|e| EventView {
                    action: e.action_id.clone(),
                    link: e.link.clone(),
                    payload: e.payload.clone(),
                })
                .collect(),
        }
    }

    /// The one step of `action`, if there is exactly one.
    pub fn step(&self, action: &str) -> Option<&StepView> {
        let mut found = self.steps.iter().filter(|s| s.action == action);
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// What is wrong with this run, if anything: it must have succeeded, and every action in
    /// `actions` (and no other) must have exactly one step, `succeeded`, and exactly one event,
    /// on its default link. `n` is the webhook's number: the last event must say `ok <n>`.
    pub fn problems(&self, actions: &[&str], last: &str, n: u64) -> Vec<String> {
        let mut problems = Vec::new();
        let run = &self.id;
        if self.status != "succeeded" {
            problems.push(format!("run {run} is {}, not succeeded", self.status));
        }
        for action in actions {
            let steps: Vec<&StepView> = self.steps.iter().filter(|s| s.action == *action).collect();
            let succeeded = steps.iter().filter(|s| s.state == "succeeded").count();
            if steps.len() != 1 || succeeded != 1 {
                problems.push(format!(
                    "run {run}: action `{action}` has {} step(s), {succeeded} succeeded: {steps:?}",
                    steps.len()
                ));
            }
            let events: Vec<&EventView> =
                self.events.iter().filter(|e| e.action == *action).collect();
            if events.len() != 1 || events[0].link != "default" {
                problems.push(format!(
                    "run {run}: action `{action}` has {} event(s): {:?}",
                    events.len(),
                    events
                        .iter()
                        .map(|e| (&e.link, &e.payload))
                        .collect::<Vec<_>>()
                ));
            }
        }
        for step in &self.steps {
            if !actions.contains(&step.action.as_str()) {
                problems.push(format!("run {run}: unexpected step {step:?}"));
            }
        }
        for event in &self.events {
            if !actions.contains(&event.action.as_str()) {
                problems.push(format!("run {run}: unexpected event {event:?}"));
            }
        }
        let expected = json!(format!("ok {n}"));
        if let Some(event) = self.events.iter().find(|e| e.action == last) {
            if event.payload["result"] != expected {
                problems.push(format!(
                    "run {run}: `{last}` emitted {}, expected result {expected}",
                    event.payload
                ));
            }
        }
        problems
    }
}

/// Panics listing the problems (the first 20 of them), if there are any.
pub fn assert_no_problems(what: &str, problems: &[String]) {
    if problems.is_empty() {
        return;
    }
    let shown: Vec<&str> = problems.iter().take(20).map(String::as_str).collect();
    panic!(
        "{what}: {} problem(s), the first {}:\n{}",
        problems.len(),
        shown.len(),
        shown.join("\n")
    );
}

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
