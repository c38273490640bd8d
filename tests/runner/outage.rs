//! The database goes away and comes back while Warden serves (Postgres). The outage is a TCP
//! proxy in front of the test's database that refuses new connections and resets open ones, as
//! a stopped or unreachable server does; the shared Postgres server itself is never touched.

use crate::harness::{TestApp, SECRET};
use crate::outage_proxy::Outage;
use crate::support::TestDb;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Bounds each request: the answer is due within the store's acquire timeout (1.5 s); before
/// this change it came after 30 s. Not a speed assertion, a hang detector.
const ANSWERED_WITHIN: Duration = Duration::from_secs(5);

const STORY: &str = r#"
name: Outage
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: alerts, secret_credential: hook, dedupe_key: "{{ hook.body.alertId }}" }
  shape:
    type: transform
    from: hook
    options: { mode: message, payload: { id: "{{ hook.body.alertId }}" } }
"#;

/// `GET route`: status, `Retry-After`, JSON body; panics if no answer comes in time.
async fn get(app: &TestApp, route: &str) -> (u16, Option<String>, Value) {
    let response = tokio::time::timeout(ANSWERED_WITHIN, app.request(Method::GET, route).send())
        .await
        .unwrap_or_else(|_| panic!("{route} answered within {ANSWERED_WITHIN:?}"))
        .unwrap();
    answer(response).await
}

async fn answer(response: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
    (status, retry_after, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_database_outage_webhooks_get_503_with_retry_after_and_work_resumes_after() {
    let Some(mut db) = TestDb::postgres().await else {
        eprintln!("WARDEN_TEST_POSTGRES_URL is not set: Postgres skipped");
        return;
    };
    let mut outage = Outage::in_front_of(&mut db).await;
    let app = TestApp::offline(&db, &[("outage", STORY)]).await;
    let before = app.start_run("alerts", json!({"alertId": "before"})).await;

    outage.cut().await;
    let started = Instant::now();
    let sent = app.webhook("alerts", SECRET, &json!({"alertId": "during"}).to_string());
    let response = tokio::time::timeout(ANSWERED_WITHIN, sent.send())
        .await
        .expect("the webhook is answered while the database is away")
        .unwrap();
    let (status, retry_after, body) = answer(response).await;
    eprintln!(
        "webhook during the outage answered in {:?}",
        started.elapsed()
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "unavailable", "{body}");
    assert!(retry_after.is_some(), "Retry-After is sent");
    let (status, _, body) = get(&app, "/healthz").await;
    assert_eq!((status, body), (200, json!({"status": "ok"})), "alive");
    let (status, retry_after, body) = get(&app, "/readyz").await;
    assert_eq!((status, body), (503, json!({"store": "unavailable"})));
    assert!(retry_after.is_some());

    outage.restore().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, body) = get(&app, "/readyz").await;
        if status == 200 {
            assert_eq!(body, json!({"store": "ok"}));
            break;
        }
        assert!(Instant::now() < deadline, "ready again after the outage");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = app.start_run("alerts", json!({"alertId": "after"})).await;
    app.idle().await;
    for id in [&before, &after] {
        let run = app.run(id).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
    }
    // The refused request left nothing behind.
    let stored = app.stored_runs().await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    app.stop().await;
    db.drop_db().await;
}
