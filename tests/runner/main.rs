//! End-to-end through HTTP, in process, on SQLite and Postgres: webhooks start runs, the runner
//! executes them against local mocks, the API reports them. Time is a manual clock.

#[path = "../support/outage.rs"]
mod outage_proxy;
#[path = "../support/mod.rs"]
mod support;

mod bench;
mod harness;

mod leases;
mod links;
mod operate;
mod outage;
mod outbound;
mod prompts;
mod rate_limits;
mod server;
mod stories;
mod transforms;
mod webhooks;

use harness::{start_clock, TestApp, SECRET, SLACK_SIGNING_SECRET, SLACK_TOKEN, START};
use serde_json::{json, Value};
use std::time::Duration;
use support::{each_backend, events, TestDb};
use warden::clock::ManualClock;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The story most tests run: a webhook, a trigger on a score with both branches, an HTTP lookup
/// at the mock and a transform on its failure link.
const PIPELINE: &str = r#"
name: Pipeline
credentials: { hook: webhook secret }
resources: { mock_url: the mock }
actions:
  hook:
    type: webhook
    options: { path: alerts, secret_credential: hook, dedupe_key: "{{ hook.body.alertId }}" }
  shape:
    type: transform
    from: hook
    options: { mode: message, payload: { ip: "{{ hook.body.ip }}", score: "{{ hook.body.score }}" } }
  risky:
    type: trigger
    from: shape
    options: { rules: [ { type: "field>=value", path: "{{ shape.score }}", value: 50 } ] }
  lookup:
    type: http_request
    from: risky
    options:
      url: "{{ resources.mock_url }}/lookup"
      method: POST
      body: { ip: "{{ shape.ip }}" }
  quiet:
    type: transform
    from: risky.no_match
    options: { mode: message, payload: { quiet: true } }
  on_failure:
    type: transform
    from: lookup.failure
    options: { mode: message, payload: { failed_with: "{{ lookup.status }}" } }
"#;
