//! Rate limits bound to credentials: a throttled step waits durably for its budget instead of
//! failing, across runs; a vendor's `X-Rate-Limit-*` headers pause the credential.

use super::*;
use wiremock::matchers::path_regex;

const LOOKUPS: &str = r#"
name: Lookups
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: lookups, secret_credential: hook }
  vt:
    from: hook
    uses: virustotal/ip_lookup
    with: { ip: "{{ hook.body.ip }}" }
"#;

const OKTA: &str = r#"
name: Okta users
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: okta, secret_credential: hook }
  user:
    from: hook
    uses: okta/get_user
    with: { user: "{{ hook.body.user }}" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fifth_virustotal_lookup_in_a_minute_waits_for_the_free_keys_budget() {
    each_backend(|db| async move {
        let mock = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path_regex("^/ip_addresses/"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {}})))
            .mount(&mock)
            .await;
        let clock = start_clock();
        let app = TestApp::spawn(&db, &[("lookups", LOOKUPS)], &mock.uri(), clock.clone()).await;
        let mut runs = Vec::new();
        for n in 0..5 {
            runs.push(
                app.start_run("lookups", json!({"ip": format!("192.0.2.{n}")}))
                    .await,
            );
        }
        app.idle().await;
        let mut statuses = Vec::new();
        for run in &runs {
            statuses.push(app.run(run).await["status"].as_str().unwrap().to_owned());
        }
        statuses.sort();
        assert_eq!(
            statuses,
            [
                "succeeded",
                "succeeded",
                "succeeded",
                "succeeded",
                "waiting"
            ]
        );
        assert_eq!(mock.received_requests().await.unwrap().len(), 4);

        clock.advance(Duration::from_secs(14));
        app.idle().await;
        assert_eq!(
            mock.received_requests().await.unwrap().len(),
            4,
            "not before 15 s"
        );
        clock.advance(Duration::from_secs(1));
        app.idle().await;
        for run in &runs {
            let detail = app.run(run).await;
            assert_eq!(detail["status"], "succeeded", "{detail}");
            let vt = &events(&detail, "vt")[0];
            assert_eq!(vt["payload"]["status"], 200);
        }
        assert_eq!(mock.received_requests().await.unwrap().len(), 5);
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_rate_limit_headers_pause_the_credential_until_the_reset() {
    each_backend(|db| async move {
        let mock = MockServer::start().await;
        let reset = START / 1000 + 60;
        Mock::given(method("GET"))
            .and(path_regex("^/api/v1/users/"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("x-rate-limit-limit", "600")
                    .insert_header("x-rate-limit-remaining", "0")
                    .insert_header("x-rate-limit-reset", reset.to_string().as_str())
                    .set_body_json(json!({"id": "00u1", "status": "ACTIVE"})),
            )
            .mount(&mock)
            .await;
        let clock = start_clock();
        let app = TestApp::spawn(&db, &[("okta", OKTA)], &mock.uri(), clock.clone()).await;
        let first = app.start_run("okta", json!({"user": "00u1"})).await;
        app.idle().await;
        assert_eq!(app.run(&first).await["status"], "succeeded");
        let second = app.start_run("okta", json!({"user": "00u2"})).await;
        app.idle().await;
        assert_eq!(
            app.run(&second).await["status"],
            "waiting",
            "the budget is spent"
        );
        assert_eq!(mock.received_requests().await.unwrap().len(), 1);
        clock.advance(Duration::from_secs(60));
        app.idle().await;
        assert_eq!(app.run(&second).await["status"], "succeeded");
        app.stop().await;
        db
    })
    .await;
}
