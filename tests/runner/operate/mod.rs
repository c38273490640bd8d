//! Acting on runs through `/api`: retrying a failed step once its vendor is fixed, cancelling
//! waiting and executing runs, re-running on the pinned or the current story version, answering
//! a prompt; and the history that names who did each.

mod answer;
mod cancel;
mod rerun;
mod retry;

use super::*;
use reqwest::Method;
use support::step;

const FLAKY: &str = r#"
name: Flaky
credentials: { hook: webhook secret }
resources: { mock_url: the mock }
actions:
  hook:
    type: webhook
    options: { path: flaky, secret_credential: hook }
  lookup:
    type: http_request
    from: hook
    options:
      url: "{{ resources.mock_url }}/lookup"
      method: POST
      body: { ip: "{{ hook.body.ip }}" }
  after:
    type: transform
    from: lookup
    options: { mode: message, payload: { looked_up: "{{ lookup.body.verdict }}" } }
"#;

const DELAYED: &str = r#"
name: Delayed
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: delayed, secret_credential: hook }
  wait_a_bit:
    type: transform
    from: hook
    options: { mode: delay, duration: 10m }
  after:
    type: transform
    from: wait_a_bit
    options: { mode: message, payload: { done: true } }
"#;

const ASK: &str = r#"
name: Ask
credentials: { hook: webhook secret }
resources: { mock_url: the mock }
actions:
  hook:
    type: webhook
    options: { path: ask, secret_credential: hook }
  ask_user:
    type: prompt
    from: hook
    options:
      request:
        url: "{{ resources.mock_url }}/mail"
        method: POST
        body: { deny: "{{ prompt_url('denied') }}" }
      choices:
        - { value: confirmed, label: "It was me" }
        - { value: denied, label: "Not me" }
  after:
    type: transform
    from: ask_user
    options: { mode: message, payload: { answer: "{{ ask_user.prompt.status }}" } }
"#;

impl TestApp {
    /// `POST route` with the API token and an optional JSON body: status and JSON answer.
    async fn act(&self, route: &str, body: Option<Value>) -> (u16, Value) {
        let request = self.served.authorized(Method::POST, route);
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(body.to_string()),
            None => request,
        };
        support::send(request).await
    }

    /// The id of the run's step for `action` (the first, when retried).
    async fn step_id(&self, run: &str, action: &str) -> i64 {
        let detail = self.run(run).await;
        step(&detail, action).unwrap_or_else(|| panic!("no step {action}: {detail:#}"))["id"]
            .as_i64()
            .unwrap()
    }
}

/// The run's steps for `action`, in order.
fn steps_of<'a>(run: &'a Value, action: &str) -> Vec<&'a Value> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == action)
        .collect()
}

/// The run's history as `(action, actor)` pairs.
fn history(run: &Value) -> Vec<(String, String)> {
    run["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap().to_owned(),
                h["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn lookup_answers(mock: &MockServer, status: u16, body: Value) {
    mock.reset().await;
    Mock::given(method("POST"))
        .and(path("/lookup"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(mock)
        .await;
}
