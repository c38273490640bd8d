//! Webhooks as a sender sees them: a redelivered alert, typed dedupe keys, an HMAC signature, and bad requests
//! answered with JSON 4xx that create nothing.

use super::*;
use reqwest::Method;

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
        let runs = app.stored_runs().await;
        assert_eq!(runs.len(), 1);
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_key_and_the_same_digits_as_text_are_different_deliveries() {
    each_backend(|db| async move {
        let app = TestApp::offline(&db, &[("pipeline", PIPELINE)]).await;
        let number = json!({"alertId": 1, "ip": "1.1.1.1", "score": 1}).to_string();
        let text = json!({"alertId": "1", "ip": "1.1.1.1", "score": 1}).to_string();
        let (_, first) = app.post_webhook("alerts", SECRET, &number).await;
        let (status, second) = app.post_webhook("alerts", SECRET, &text).await;
        assert_eq!(status, 202);
        assert_eq!(second["duplicate"], false, "{second}");
        assert_ne!(first["run_id"], second["run_id"]);
        let (_, again) = app.post_webhook("alerts", SECRET, &number).await;
        assert_eq!(
            again["run_id"], first["run_id"],
            "the same number is a redelivery"
        );
        assert_eq!(app.stored_runs().await.len(), 2);
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
        let (status, answer) = support::post_head_only(
            &app.served.address,
            &format!("/webhook/alerts/{SECRET}"),
            &[("Content-Type", "application/json")],
            2 * 1024 * 1024,
        )
        .await;
        assert_eq!(status, 413, "{answer}");
        assert_eq!(answer["code"], "payload_too_large");
        let runs = app.stored_runs().await;
        assert!(runs.is_empty(), "{runs:?}");
        // A good request still works afterwards.
        app.start_run("alerts", json!({"alertId": "ok", "ip": "1", "score": 1}))
            .await;

        let unauthenticated = app.request(Method::GET, "/api/runs").send().await.unwrap();
        assert_eq!(unauthenticated.status(), 401);
        // A query that does not parse gets the JSON error shape too.
        for route in ["/api/runs?limit=abc", "/api/alerts?before=yesterday"] {
            let (status, answer) = support::send(app.served.authorized(Method::GET, route)).await;
            assert_eq!(status, 400, "{route}: {answer}");
            assert_eq!(answer["code"], "invalid_query", "{route}: {answer}");
        }
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
    let db = TestDb::sqlite();
    let app = TestApp::offline(&db, &[("signed", SIGNED)]).await;
    let body = r#"{"event":"push"}"#;
    let good = harness::hmac_sha256_hex(SECRET, body);
    for (signature, status) in [
        (format!("sha256={good}"), 202),
        (format!("sha256={}", "0".repeat(64)), 401),
        (good.clone(), 401),
    ] {
        let response = app
            .request(Method::POST, &format!("/webhook/signed/{SECRET}"))
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status);
    }
    let runs = app.stored_runs().await;
    assert_eq!(runs.len(), 1);
    app.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_unless_the_operator_opens_them() {
    let db = TestDb::sqlite();
    let closed = TestApp::offline(&db, &[("pipeline", PIPELINE)]).await;
    let anonymous = closed
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let (status, _) = support::send(closed.served.authorized(Method::GET, "/metrics")).await;
    assert_eq!(status, 200);
    closed.stop().await;

    let opened = TestApp::spawn_with(
        &db,
        &[("pipeline", PIPELINE)],
        "http://127.0.0.1:9",
        start_clock(),
        |settings| settings.metrics_open = true,
    )
    .await;
    let anonymous = opened
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 200);
    opened.stop().await;
    db.drop_db().await;
}

/// Issue 17: a story whose settings are not all set is not ready. Its webhook answers 503 naming
/// the environment variable to set (and starts no run); set, it takes the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_story_missing_a_setting_answers_503_naming_it() {
    const NEEDY: &str = r#"
name: Needy
credentials: { hook: webhook secret, soc_key: the SOC's API key }
resources: { soc_url: the SOC's API }
actions:
  receive:
    type: webhook
    options: { path: needy, secret_credential: hook }
  forward:
    type: http_request
    from: receive
    options:
      url: "{{ resources.soc_url }}/alerts"
      method: POST
      headers: { X-Api-Key: "{{ credentials.soc_key }}" }
      body: { alert: "{{ receive.body }}" }
"#;
    each_backend(|db| async move {
        let app = TestApp::offline(&db, &[("needy", NEEDY)]).await;
        let (status, answer) = app.post_webhook("needy", SECRET, "{}").await;
        assert_eq!(status, 503, "{answer}");
        assert_eq!(answer["code"], "not_ready", "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.contains("WARDEN_CREDENTIAL_SOC_KEY")
                && message.contains("WARDEN_RESOURCE_SOC_URL"),
            "{message}"
        );
        assert!(app.stored_runs().await.is_empty());
        app.stop().await;

        let clock = start_clock();
        let app = TestApp::spawn_with(&db, &[("needy", NEEDY)], "http://127.0.0.1:9", clock, |s| {
            s.secrets = s
                .secrets
                .clone()
                .with_credential("soc_key", "k")
                .with_resource("soc_url", "http://127.0.0.1:9");
        })
        .await;
        let (status, answer) = app.post_webhook("needy", SECRET, "{}").await;
        assert_eq!(status, 202, "{answer}");
        app.stop().await;
        db
    })
    .await;
}
