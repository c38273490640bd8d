//! The outbound guard (`Settings::outbound`, `WARDEN_OUTBOUND_GUARD=private`): a story's request
//! to a loopback destination, named by address, by name or by an obfuscated literal, is refused
//! before anything reaches the mock; with the guard off (the default) the same requests arrive.
//! Slack, through the same clients, is refused too.

use super::*;
use warden::http_client::Outbound;

/// A request to whatever URL the webhook names; its failure goes along the failure link.
const CALL: &str = r#"
name: Outbound
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: out, secret_credential: hook }
  call:
    type: http_request
    from: hook
    options: { url: "{{ hook.body.url }}", max_attempts: 1 }
  on_failure:
    type: transform
    from: call.failure
    options: { mode: message, payload: { failed: true } }
"#;

/// The mock by its address, by `localhost`, by a hexadecimal literal and by an IPv4-mapped
/// IPv6 literal.
fn loopback_urls(mock: &MockServer) -> Vec<String> {
    let port = mock.address().port();
    vec![
        format!("{}/ping", mock.uri()),
        format!("http://localhost:{port}/ping"),
        format!("http://0x7f000001:{port}/ping"),
        format!("http://[::ffff:127.0.0.1]:{port}/ping"),
    ]
}

async fn ping_mock() -> MockServer {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"pong": true})))
        .mount(&mock)
        .await;
    mock
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_guard_on_requests_to_loopback_are_refused_however_they_are_spelled() {
    each_backend(|db| async move {
        let mock = ping_mock().await;
        let app = TestApp::spawn_with(
            &db,
            &[("outbound", CALL)],
            &mock.uri(),
            start_clock(),
            |s| {
                s.outbound = Outbound::PublicOnly;
            },
        )
        .await;
        let runs = call_each(&app, loopback_urls(&mock)).await;

        for (url, id) in &runs {
            let run = app.run(id).await;
            let call = events(&run, "call");
            assert_eq!(call.len(), 1, "{url}: {run:#}");
            assert_eq!(call[0]["link"], "failure", "{url}: {run:#}");
            let error = &call[0]["payload"]["error"];
            assert_eq!(error["class"], "misconfigured", "{url}: {error}");
            let message = error["message"].as_str().unwrap();
            assert!(
                message.contains("outbound guard") && message.contains("loopback address"),
                "{url}: {message}"
            );
            assert_eq!(events(&run, "on_failure").len(), 1, "{url}");
        }
        assert!(
            mock.received_requests().await.unwrap().is_empty(),
            "a refused request reached the mock"
        );
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_guard_off_the_same_requests_go_through() {
    each_backend(|db| async move {
        let mock = ping_mock().await;
        let app = TestApp::spawn(&db, &[("outbound", CALL)], &mock.uri(), start_clock()).await;
        // The positive control: the refusals above are the guard's, not an unreachable mock.
        let runs = call_each(&app, loopback_urls(&mock)).await;

        for (url, id) in &runs {
            let run = app.run(id).await;
            let call = events(&run, "call");
            assert_eq!(call.len(), 1, "{url}: {run:#}");
            assert_eq!(call[0]["payload"]["status"], 200, "{url}: {run:#}");
            assert!(events(&run, "on_failure").is_empty(), "{url}");
        }
        assert_eq!(mock.received_requests().await.unwrap().len(), runs.len());
        app.stop().await;
        db
    })
    .await;
}

/// Starts one run of `out` per URL and runs them all: each URL with its run's id.
async fn call_each(app: &TestApp, urls: Vec<String>) -> Vec<(String, String)> {
    let mut runs = Vec::new();
    for url in urls {
        let id = app.start_run("out", json!({ "url": url })).await;
        runs.push((url, id));
    }
    app.idle().await;
    runs
}

/// A prompt asked on Slack (`slack_url` points at the mock).
const ASK: &str = r#"
name: Ask
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: ask, secret_credential: hook }
  ask_user:
    type: prompt
    from: hook
    options:
      slack: { user_email: "{{ hook.body.email }}", text: "Was this you?" }
      choices:
        - { value: confirmed, label: "Yes" }
        - { value: denied, label: "No" }
      timeout: 1h
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_guard_on_slack_on_loopback_is_refused_without_the_token() {
    each_backend(|db| async move {
        let mock = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
            .mount(&mock)
            .await;
        let app = TestApp::spawn_with(&db, &[("ask", ASK)], &mock.uri(), start_clock(), |s| {
            s.outbound = Outbound::PublicOnly;
        })
        .await;
        let id = app
            .start_run("ask", json!({ "email": "ana@example.com" }))
            .await;
        app.idle().await;

        let run = app.run(&id).await;
        let ask = support::step(&run, "ask_user").expect("the prompt step");
        assert_eq!(ask["error"]["class"], "misconfigured", "{run:#}");
        let message = ask["error"]["message"].as_str().unwrap();
        assert!(message.contains("loopback address"), "{message}");
        assert!(!run.to_string().contains(harness::SLACK_TOKEN), "{run:#}");
        assert!(mock.received_requests().await.unwrap().is_empty());
        app.stop().await;
        db
    })
    .await;
}
