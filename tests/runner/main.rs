//! End-to-end through HTTP, in process, on SQLite and Postgres: webhooks start runs, the runner
//! executes them against local mocks, the API reports them. Time is a manual clock.

#[path = "../support/mod.rs"]
mod support;

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use support::{each_backend, TestDb};
use warden::app::{Definitions, Settings};
use warden::clock::ManualClock;
use warden::engine::{Engine, Runner};
use warden::secrets::{Secret, Secrets};
use warden::store::Runs;
use warden::story::validate::{check_story, Catalog};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "test-api-token";
const SECRET: &str = "hook-secret-123";
const START: i64 = 1_790_000_000_000;
const SLACK_TOKEN: &str = "xoxb-test-bot-token";
const SLACK_SIGNING_SECRET: &str = "slack-signing-secret-for-tests";

mod prompts;
mod rate_limits;

struct TestApp {
    address: String,
    engine: Arc<Engine>,
    runner: Runner,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    /// Starts the API on port 0 over `db` with `stories` (id, YAML); resources point at `mock`.
    async fn spawn(
        db: &TestDb,
        stories: &[(&str, &str)],
        mock: &str,
        clock: Arc<ManualClock>,
    ) -> TestApp {
        let mut shipped = warden::story::load::Loaded::default();
        let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        warden::story::load::load_integrations(&templates, &mut shipped);
        let catalog = Catalog {
            story_ids: stories.iter().map(|(id, _)| id.to_string()).collect(),
            integrations: shipped.integrations,
        };
        let stories = stories
            .iter()
            .map(|(id, source)| {
                check_story(id, source, &catalog).unwrap_or_else(|d| panic!("{id}: {d:?}"))
            })
            .collect();
        let secrets = Secrets::default()
            .with_credential("hook", SECRET)
            .with_credential("slack", SLACK_TOKEN)
            .with_credential("virustotal", "vt-key")
            .with_credential("okta", "okta-token")
            .with_resource("virustotal_url", mock)
            .with_resource("okta_url", mock)
            .with_credential("slack_signing_secret", SLACK_SIGNING_SECRET)
            .with_resource("mock_url", mock)
            .with_resource("slack_url", mock);
        let served = support::serve(Settings {
            secrets,
            clock,
            api_token: Some(Secret::new(TOKEN)),
            ..Settings::new(&db.url, Definitions::stories(stories))
        })
        .await;
        TestApp {
            address: served.address,
            engine: served.engine,
            runner: served.runner,
            http: support::api_client(),
            server: served.server,
        }
    }

    /// Starts the app with no vendor mock (nothing outbound) and a fresh clock.
    async fn offline(db: &TestDb, stories: &[(&str, &str)]) -> TestApp {
        TestApp::spawn(
            db,
            stories,
            "http://127.0.0.1:9",
            Arc::new(ManualClock::new(START)),
        )
        .await
    }

    async fn post_webhook(&self, hook: &str, secret: &str, body: &str) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/webhook/{hook}/{secret}", self.address))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        status_and_json(response).await
    }

    async fn start_run(&self, hook: &str, body: Value) -> String {
        let (status, answer) = self.post_webhook(hook, SECRET, &body.to_string()).await;
        assert_eq!(status, 202, "{answer}");
        answer["run_id"].as_str().unwrap().to_owned()
    }

    async fn run(&self, id: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/api/runs/{id}", self.address))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    }

    async fn idle(&self) {
        self.runner.run_until_idle().await.expect("runner");
    }

    async fn stop(self) {
        self.server.abort();
        self.engine.store.close().await;
    }
}

/// A response's status and JSON body (`null` when the body is not JSON).
async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Sends only the head of a POST declaring a `length`-byte body, and reads the answer.
async fn raw_post(address: &str, target: &str, length: usize) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// The events of `action` in a run's detail.
fn events<'a>(run: &'a Value, action: &str) -> Vec<&'a Value> {
    run["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .collect()
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_runs_through_transform_trigger_and_http_on_both_branches() {
    each_backend(|db| async move {
        let mock = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/lookup"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"verdict": "bad"})))
            .expect(1)
            .mount(&mock)
            .await;
        let app = TestApp::spawn(
            &db,
            &[("pipeline", PIPELINE)],
            &mock.uri(),
            Arc::new(ManualClock::new(START)),
        )
        .await;

        let risky = app
            .start_run(
                "alerts",
                json!({"alertId": "a1", "ip": "1.2.3.4", "score": 80}),
            )
            .await;
        let calm = app
            .start_run(
                "alerts",
                json!({"alertId": "a2", "ip": "5.6.7.8", "score": 10}),
            )
            .await;
        app.idle().await;

        let run = app.run(&risky).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        let lookup = events(&run, "lookup");
        assert_eq!(lookup.len(), 1);
        assert_eq!(lookup[0]["payload"]["status"], 200);
        assert_eq!(lookup[0]["payload"]["body"]["verdict"], "bad");
        assert!(events(&run, "quiet").is_empty());

        let run = app.run(&calm).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_eq!(events(&run, "quiet").len(), 1);
        assert_eq!(events(&run, "risky")[0]["link"], "no_match");
        assert!(events(&run, "lookup").is_empty());

        let request = &mock.received_requests().await.unwrap()[0];
        assert_eq!(
            serde_json::from_slice::<Value>(&request.body).unwrap(),
            json!({"ip": "1.2.3.4"})
        );
        assert!(request.headers.get("idempotency-key").is_some());
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_alert_creates_no_second_run() {
    each_backend(|db| async move {
        let app = TestApp::offline(&db, &[("pipeline", PIPELINE)]).await;
        let body = json!({"alertId": "same", "ip": "1.1.1.1", "score": 1}).to_string();
        let (_, first) = app.post_webhook("alerts", SECRET, &body).await;
        let (status, second) = app.post_webhook("alerts", SECRET, &body).await;
        assert_eq!(status, 202);
        assert_eq!(first["run_id"], second["run_id"]);
        assert_eq!(second["duplicate"], true);
        let runs = app
            .engine
            .store
            .list_runs(&Default::default())
            .await
            .unwrap();
        assert_eq!(runs.len(), 1);
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_its_retry_after_with_the_same_idempotency_key() {
    each_backend(|db| async move {
        let mock = MockServer::start().await;
        Mock::given(path("/lookup"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
            .up_to_n_times(1)
            .mount(&mock)
            .await;
        Mock::given(path("/lookup"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
            .mount(&mock)
            .await;
        let clock = Arc::new(ManualClock::new(START));
        let app = TestApp::spawn(&db, &[("pipeline", PIPELINE)], &mock.uri(), clock.clone()).await;
        let id = app
            .start_run(
                "alerts",
                json!({"alertId": "r", "ip": "9.9.9.9", "score": 99}),
            )
            .await;
        app.idle().await;
        assert_eq!(mock.received_requests().await.unwrap().len(), 1);
        let run = app.run(&id).await;
        assert_eq!(run["status"], "running");
        let lookup = run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["action"] == "lookup")
            .unwrap();
        assert_eq!(lookup["state"], "pending");
        assert_eq!(lookup["error"]["class"], "retriable");

        clock.advance(Duration::from_secs(29));
        app.idle().await;
        assert_eq!(
            mock.received_requests().await.unwrap().len(),
            1,
            "retried before Retry-After"
        );

        clock.advance(Duration::from_secs(1));
        app.idle().await;
        let requests = mock.received_requests().await.unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(
            requests[0].headers.get("idempotency-key"),
            requests[1].headers.get("idempotency-key")
        );
        let run = app.run(&id).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_follows_the_failure_link_with_the_response() {
    each_backend(|db| async move {
        let mock = MockServer::start().await;
        Mock::given(path("/lookup"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "bad ip"})))
            .mount(&mock)
            .await;
        let app = TestApp::spawn(
            &db,
            &[("pipeline", PIPELINE)],
            &mock.uri(),
            Arc::new(ManualClock::new(START)),
        )
        .await;
        let id = app
            .start_run("alerts", json!({"alertId": "f", "ip": "x", "score": 99}))
            .await;
        app.idle().await;
        assert_eq!(
            mock.received_requests().await.unwrap().len(),
            1,
            "a 400 is not retried"
        );
        let run = app.run(&id).await;
        assert_eq!(
            run["status"], "succeeded",
            "a handled failure does not fail the run: {run:#}"
        );
        let failure = events(&run, "lookup");
        assert_eq!(failure[0]["link"], "failure");
        assert_eq!(failure[0]["payload"]["body"]["error"], "bad ip");
        assert_eq!(failure[0]["payload"]["error"]["class"], "permanent");
        assert_eq!(events(&run, "on_failure")[0]["payload"]["failed_with"], 400);
        app.stop().await;
        db
    })
    .await;
}

const FANOUT: &str = r#"
name: Fan-out
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: fanout, secret_credential: hook }
  each_ip:
    type: transform
    from: hook
    options: { mode: explode, path: "{{ hook.body.ips }}", to: ip }
  label:
    type: transform
    from: each_ip
    options: { mode: message, payload: { ip: "{{ each_ip.ip }}", n: "{{ each_ip.index }}" } }
  gather:
    type: transform
    from: label
    options:
      mode: implode
      item_path: "{{ label.ip }}"
      guid_path: "{{ each_ip.guid }}"
      size_path: "{{ each_ip.size }}"
  wait_a_bit:
    type: transform
    from: gather
    options: { mode: delay, duration: 10m }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explode_and_implode_round_trip_and_a_delay_survives_a_restart() {
    each_backend(|db| async move {
        let clock = Arc::new(ManualClock::new(START));
        let app = TestApp::spawn(
            &db,
            &[("fanout", FANOUT)],
            "http://127.0.0.1:9",
            clock.clone(),
        )
        .await;
        let id = app
            .start_run(
                "fanout",
                json!({"ips": ["10.0.0.1", "10.0.0.2", "10.0.0.3"]}),
            )
            .await;
        app.idle().await;
        let run = app.run(&id).await;
        assert_eq!(events(&run, "each_ip").len(), 3);
        let gathered = events(&run, "gather");
        assert_eq!(gathered.len(), 1, "{run:#}");
        assert_eq!(
            gathered[0]["payload"]["items"],
            json!(["10.0.0.1", "10.0.0.2", "10.0.0.3"])
        );
        assert_eq!(run["status"], "waiting", "the delay holds the run: {run:#}");
        app.stop().await;

        // A new process on the same database, ten minutes later.
        clock.advance(Duration::from_secs(600));
        let app = TestApp::spawn(
            &db,
            &[("fanout", FANOUT)],
            "http://127.0.0.1:9",
            clock.clone(),
        )
        .await;
        app.idle().await;
        let run = app.run(&id).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_eq!(events(&run, "wait_a_bit").len(), 1);
        app.stop().await;
        db
    })
    .await;
}

const PARENT: &str = r#"
name: Parent
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: parent, secret_credential: hook }
  enrich:
    type: send_to_story
    from: hook
    options: { story: child, payload: { value: "{{ hook.body.value }}" }, wait: true }
"#;

const CHILD: &str = r#"
name: Child
credentials: { hook: webhook secret }
actions:
  start:
    type: webhook
    options: { path: child, secret_credential: hook }
  double:
    type: transform
    from: start
    options: { mode: message, payload: { doubled: "{{ start.body.value * 2 }}" } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_story_waits_for_the_other_run_and_emits_its_result() {
    each_backend(|db| async move {
        let app = TestApp::offline(&db, &[("parent", PARENT), ("child", CHILD)]).await;
        let id = app.start_run("parent", json!({"value": 21})).await;
        app.idle().await;
        let run = app.run(&id).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        let result = &events(&run, "enrich")[0]["payload"];
        assert_eq!(result["status"], "succeeded");
        assert_eq!(result["result"]["doubled"], 42);
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_4xx_and_create_nothing() {
    each_backend(|db| async move {
        let app = TestApp::offline(&db, &[("pipeline", PIPELINE)]).await;
        let cases = [
            (
                "alerts",
                SECRET,
                "{\"alertId\": ".to_owned(),
                400,
                "invalid_json",
            ),
            (
                "alerts",
                "wrong-secret",
                "{}".to_owned(),
                401,
                "unauthorized",
            ),
            ("nowhere", SECRET, "{}".to_owned(), 404, "not_found"),
        ];
        for (hook, secret, body, status, code) in cases {
            let (got, answer) = app.post_webhook(hook, secret, &body).await;
            assert_eq!(got, status, "{hook}/{secret}: {answer}");
            assert_eq!(answer["code"], code);
            assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        // An oversize body is refused from its Content-Length, before it is read.
        let (status, answer) = raw_post(
            &app.address,
            &format!("/webhook/alerts/{SECRET}"),
            2 * 1024 * 1024,
        )
        .await;
        assert_eq!(status, 413, "{answer}");
        assert_eq!(answer["code"], "payload_too_large");
        let runs = app
            .engine
            .store
            .list_runs(&Default::default())
            .await
            .unwrap();
        assert!(runs.is_empty(), "{runs:?}");
        // A good request still works afterwards.
        app.start_run("alerts", json!({"alertId": "ok", "ip": "1", "score": 1}))
            .await;

        let unauthenticated = app
            .http
            .get(format!("{}/api/runs", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(unauthenticated.status(), 401);
        app.stop().await;
        db
    })
    .await;
}

const PINNED_V1: &str = r#"
name: Pinned
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: pinned, secret_credential: hook }
  hold:
    type: transform
    from: hook
    options: { mode: delay, duration: 1h }
  old_step:
    type: transform
    from: hold
    options: { mode: message, payload: { version: 1 } }
"#;

const PINNED_V2: &str = r#"
name: Pinned
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: pinned, secret_credential: hook }
  hold:
    type: transform
    from: hook
    options: { mode: delay, duration: 1h }
  new_step:
    type: transform
    from: hold
    options: { mode: message, payload: { version: 2 } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_run_finishes_on_the_story_version_it_started_with() {
    each_backend(|db| async move {
        let clock = Arc::new(ManualClock::new(START));
        let app = TestApp::spawn(
            &db,
            &[("pinned", PINNED_V1)],
            "http://127.0.0.1:9",
            clock.clone(),
        )
        .await;
        let old = app.start_run("pinned", json!({})).await;
        app.idle().await;
        app.stop().await;

        // The story is edited while the run waits; new runs use the new version.
        clock.advance(Duration::from_secs(3600));
        let app = TestApp::spawn(
            &db,
            &[("pinned", PINNED_V2)],
            "http://127.0.0.1:9",
            clock.clone(),
        )
        .await;
        app.idle().await;
        let run = app.run(&old).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_eq!(events(&run, "old_step")[0]["payload"]["version"], 1);
        assert!(events(&run, "new_step").is_empty());
        let new = app.start_run("pinned", json!({})).await;
        assert_ne!(app.run(&new).await["story_version"], run["story_version"]);
        app.stop().await;
        db
    })
    .await;
}

const SIGNED: &str = r#"
name: Signed
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options:
      path: signed
      secret_credential: hook
      signature: { header: X-Hub-Signature-256, credential: hook, prefix: "sha256=" }
  note:
    type: transform
    from: hook
    options: { mode: message, payload: { ok: true } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hmac_signed_webhook_accepts_only_a_matching_signature() {
    use hmac::{Hmac, Mac};
    let db = TestDb::sqlite();
    let app = TestApp::offline(&db, &[("signed", SIGNED)]).await;
    let body = r#"{"event":"push"}"#;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let good: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let url = format!("{}/webhook/signed/{SECRET}", app.address);
    for (signature, status) in [
        (format!("sha256={good}"), 202),
        (format!("sha256={}", "0".repeat(64)), 401),
        (good.clone(), 401),
    ] {
        let response = app
            .http
            .post(&url)
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status);
    }
    let runs = app
        .engine
        .store
        .list_runs(&Default::default())
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    app.stop().await;
    db.drop_db().await;
}

const GATE: &str = r#"
name: Gate
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: gate, secret_credential: hook }
  once:
    type: transform
    from: hook
    options: { mode: deduplicate, path: "{{ hook.body.key }}", lookback: 100 }
  slow:
    type: transform
    from: once
    options: { mode: throttle, interval: minute, runs_per_interval: 1 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deduplicate_drops_repeats_across_runs_and_throttle_holds_the_excess() {
    each_backend(|db| async move {
        let clock = Arc::new(ManualClock::new(START));
        let app = TestApp::spawn(&db, &[("gate", GATE)], "http://127.0.0.1:9", clock.clone()).await;
        let ids = [
            app.start_run("gate", json!({"key": "a"})).await,
            app.start_run("gate", json!({"key": "a"})).await,
            app.start_run("gate", json!({"key": "b"})).await,
        ];
        app.idle().await;

        // The steps of the three runs race; whichever `a` comes second is the duplicate.
        let mut runs = Vec::new();
        for id in &ids {
            runs.push(app.run(id).await);
        }
        let passed = |runs: &[Value], action: &str| {
            runs.iter().map(|r| events(r, action).len()).sum::<usize>()
        };
        assert_eq!(passed(&runs, "once"), 2, "one `a` and the `b` pass");
        assert_eq!(passed(&runs, "slow"), 1, "one release per minute");
        let waiting = runs.iter().filter(|r| r["status"] == "waiting").count();
        assert_eq!(waiting, 1, "the other release waits durably");

        clock.advance(Duration::from_secs(60));
        app.idle().await;
        let mut runs = Vec::new();
        for id in &ids {
            runs.push(app.run(id).await);
        }
        assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:#?}");
        assert_eq!(passed(&runs, "slow"), 2);
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_to_another_origin_are_not_followed_and_url_secrets_are_not_stored() {
    let db = TestDb::sqlite();
    let elsewhere = MockServer::start().await;
    let mock = MockServer::start().await;
    Mock::given(path("/lookup"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/stolen", elsewhere.uri()).as_str()),
        )
        .mount(&mock)
        .await;
    let app = TestApp::spawn(
        &db,
        &[("pipeline", PIPELINE)],
        &mock.uri(),
        Arc::new(ManualClock::new(START)),
    )
    .await;
    let response = app
        .http
        .post(format!("{}/webhook/alerts/{SECRET}", app.address))
        .header("content-type", "application/json")
        .header("x-original-uri", format!("/webhook/alerts/{SECRET}"))
        .body(json!({"alertId": "z", "ip": "1", "score": 99}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    app.idle().await;
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    let run = app.run(id["run_id"].as_str().unwrap()).await;
    assert_eq!(events(&run, "lookup")[0]["payload"]["status"], 307);
    let stored = run.to_string();
    assert!(
        !stored.contains(SECRET),
        "the URL secret leaked into the run: {stored}"
    );
    app.stop().await;
    db.drop_db().await;
}
