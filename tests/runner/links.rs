//! The pipeline story's links: both branches of a trigger, an HTTP result on the default link,
//! a 429 retried after its `Retry-After`, a 400 along the failure link, and a redirect to
//! another origin left unfollowed.

use super::*;
use support::step;

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
        let app = TestApp::spawn(&db, &[("pipeline", PIPELINE)], &mock.uri(), start_clock()).await;

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
        let clock = start_clock();
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
        let lookup = step(&run, "lookup").unwrap();
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
        let app = TestApp::spawn(&db, &[("pipeline", PIPELINE)], &mock.uri(), start_clock()).await;
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
    let app = TestApp::spawn(&db, &[("pipeline", PIPELINE)], &mock.uri(), start_clock()).await;
    let body = json!({"alertId": "z", "ip": "1", "score": 99}).to_string();
    let (status, answer) = support::send(
        app.webhook("alerts", SECRET, &body)
            .header("x-original-uri", format!("/webhook/alerts/{SECRET}")),
    )
    .await;
    assert_eq!(status, 202);
    app.idle().await;
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    let run = app.run(answer["run_id"].as_str().unwrap()).await;
    assert_eq!(events(&run, "lookup")[0]["payload"]["status"], 307);
    let stored = run.to_string();
    assert!(
        !stored.contains(SECRET),
        "the URL secret leaked into the run: {stored}"
    );
    app.stop().await;
    db.drop_db().await;
}
