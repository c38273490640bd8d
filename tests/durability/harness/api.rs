//! A client of one `warden serve`'s HTTP interface, and the runs it reports as the checks see
//! them.

use super::{API_TOKEN, HOOK_SECRET};
use axum::http::{header, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use warden::store::{EventRecord, RunRecord, StepRecord};

/// A client of one `warden serve`'s HTTP interface.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// A client of the serve at `base` (`http://127.0.0.1:<port>`).
    pub(super) fn new(base: String) -> Api {
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("build an HTTP client"),
            base,
        }
    }

    /// Whether `/healthz` answers with a success.
    pub(super) async fn healthy(&self) -> bool {
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
    /// Executions of its action started (takeovers after a lost lease not counted).
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
