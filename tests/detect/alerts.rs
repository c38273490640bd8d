//! Alerts from ingested logs: the seed event's alert in Panther's body starting the seed story,
//! a threshold window that survives a restart, URL deliveries retried and given up, and the
//! shipped destinations.

use crate::harness::{bypass_mfa_add, fixture, seed_event, TestApp, DAY, START};
use crate::support::each_backend;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use warden::clock::ManualClock;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_event_raises_one_alert_that_starts_the_seed_story() {
    each_backend(|db| async move {
        let soc = MockServer::start().await;
        let app = TestApp::spawn(&db, &soc.uri(), Arc::new(ManualClock::new(START))).await;
        let seed = seed_event();

        let (status, report) = app.ingest("Okta.SystemLog", seed.to_string()).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(
            (report["accepted"].as_u64(), report["matches"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(report["alerts"].as_array().unwrap().len(), 1, "{report}");
        // Panther redelivering the same log line: same window, no second alert.
        let (_, again) = app.ingest("Okta.SystemLog", seed.to_string()).await;
        assert_eq!(again["alerts"], json!([]), "{again}");

        let alerts = app.alerts("Okta.AdminPrivilegeGranted").await;
        assert_eq!(alerts.len(), 1);
        let alert = app
            .get(&format!(
                "/api/alerts/{}",
                alerts[0]["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(alert["event_count"], 2);
        let body = &alert["notification"];
        let expected = fixture("panther/webhook-okta-admin-role-assigned.constructed.json");
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(body),
            keys(&expected),
            "Panther's keys, in Panther's order"
        );
        assert_eq!(
            body["alertContext"], expected["alertContext"],
            "the seed's alert context"
        );
        let request_id = seed["debugContext"]["debugData"]["requestId"]
            .as_str()
            .unwrap();
        assert_eq!(
            body["alertId"],
            format!(
                "{:x}",
                md5_of(&format!("Okta.AdminPrivilegeGranted:1:{request_id}"))
            )
        );
        assert_eq!(body["type"], "RULE");
        assert_eq!(body["severity"], "MEDIUM");
        assert!(body["title"]
            .as_str()
            .unwrap()
            .starts_with("New Alert: Jack Naglieri"));
        assert_eq!(
            body["link"],
            format!(
                "https://warden.example.com/alerts/{}",
                body["alertId"].as_str().unwrap()
            )
        );

        // Delivered once, in process, to the seed story's webhook.
        assert_eq!(app.deliver_due().await, 1);
        assert_eq!(app.deliver_due().await, 0);
        let runs = app.get("/api/runs?story=panther-okta-admin-grant").await;
        let runs = runs["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1, "{runs:?}");
        let run = app
            .get(&format!("/api/runs/{}", runs[0]["id"].as_str().unwrap()))
            .await;
        let entry = &run["events"][0]["payload"];
        assert_eq!(
            &entry["body"], body,
            "the story receives the alert as Panther posts it"
        );
        let alert = app
            .get(&format!(
                "/api/alerts/{}",
                body["alertId"].as_str().unwrap()
            ))
            .await;
        assert_eq!(alert["deliveries"][0]["state"], "delivered");
        assert_eq!(alert["deliveries"][0]["run_id"], runs[0]["id"]);
        app.stop().await;
        db
    })
    .await;
}

/// Issue 17: an alert routed to a story that is not ready (a credential unset) is not spent on
/// attempts: its delivery waits, pending, with the missing setting as its error, and starts no run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_for_a_story_that_is_not_ready_waits_without_spending_attempts() {
    each_backend(|db| async move {
        let soc = MockServer::start().await;
        let clock = Arc::new(ManualClock::new(START));
        let rules = crate::harness::shipped_rules().rules;
        let app =
            TestApp::spawn_leaving_unset(&db, &soc.uri(), clock.clone(), rules, &["virustotal"])
                .await;
        let (status, report) = app.ingest("Okta.SystemLog", seed_event().to_string()).await;
        assert_eq!(status, 200, "{report}");
        let alert_id = report["alerts"][0].as_str().expect("one alert").to_owned();
        // More looks than the policy's 3 attempts: none is spent.
        for _ in 0..5 {
            assert_eq!(app.deliver_due().await, 1);
            assert_eq!(
                app.deliver_due().await,
                0,
                "deferred, not due again at once"
            );
            clock.advance(Duration::from_secs(61));
        }
        let alert = app.get(&format!("/api/alerts/{alert_id}")).await;
        let delivery = &alert["deliveries"][0];
        assert_eq!(delivery["state"], "pending", "{alert}");
        assert_eq!(delivery["attempts"], 0, "{alert}");
        assert!(
            delivery["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("WARDEN_CREDENTIAL_VIRUSTOTAL")),
            "{alert}"
        );
        let runs = app.get("/api/runs?story=panther-okta-admin-grant").await;
        assert_eq!(runs["runs"], json!([]), "no run starts");
        app.stop().await;
        db
    })
    .await;
}

/// An HTTP caller who can compute the alert id (it is `md5(rule:count:dedup)`) and posts it to
/// the story's webhook first gets a run of its own; the alert's delivery still starts its own run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_post_of_the_alert_id_first_does_not_capture_the_alert() {
    each_backend(|db| async move {
        let soc = MockServer::start().await;
        let app = TestApp::spawn(&db, &soc.uri(), Arc::new(ManualClock::new(START))).await;
        let seed = seed_event();
        let request_id = seed["debugContext"]["debugData"]["requestId"]
            .as_str()
            .unwrap();
        let alert_id = format!(
            "{:x}",
            md5_of(&format!("Okta.AdminPrivilegeGranted:1:{request_id}"))
        );
        let decoy = json!({"alertId": alert_id, "title": "decoy"}).to_string();
        let (status, posted) = crate::support::send(
            app.served
                .request(
                    reqwest::Method::POST,
                    "/webhook/panther-okta-admin/hook-secret",
                )
                .header("content-type", "application/json")
                .body(decoy),
        )
        .await;
        assert_eq!(status, 202, "{posted}");

        let (status, report) = app.ingest("Okta.SystemLog", seed.to_string()).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(app.deliver_due().await, 1);
        let alert = app.get(&format!("/api/alerts/{alert_id}")).await;
        let delivered = &alert["deliveries"][0];
        assert_eq!(delivered["state"], "delivered", "{alert}");
        assert_ne!(
            delivered["run_id"], posted["run_id"],
            "the alert landed in the decoy run"
        );
        let run = app
            .get(&format!(
                "/api/runs/{}",
                delivered["run_id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(run["events"][0]["payload"]["body"]["alertId"], alert_id);
        assert_ne!(run["events"][0]["payload"]["body"]["title"], "decoy");
        app.stop().await;
        db
    })
    .await;
}

fn md5_of(text: &str) -> u128 {
    use md5::Digest;
    u128::from_be_bytes(md5::Md5::digest(text.as_bytes()).into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_bypass_mfa_adds_in_four_weeks_raise_one_high_alert_across_a_restart() {
    each_backend(|db| async move {
        let soc = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/alerts"))
            .and(header("authorization", "soc-secret-value"))
            .and(header("content-type", "application/json"))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&soc)
            .await;
        let clock = Arc::new(ManualClock::new(START));
        let app = TestApp::spawn(&db, &soc.uri(), clock.clone()).await;
        for (n, day) in [0, 9].into_iter().enumerate() {
            let event = bypass_mfa_add("alice@example.com", START + day * 86_400_000, n);
            let (status, report) = app.ingest("Okta.SystemLog", event.to_string()).await;
            assert_eq!(status, 200, "{report}");
            clock.advance(9 * DAY);
        }
        // Another user's add counts in its own window.
        let bob = bypass_mfa_add("bob@example.com", START + 10 * 86_400_000, 9);
        app.ingest("Okta.SystemLog", bob.to_string()).await;
        assert!(app
            .alerts("Okta.BypassMFAGroup.RepeatedAdds")
            .await
            .is_empty());
        assert_eq!(app.deliver_due().await, 0, "INFO alerts are only stored");
        app.stop().await;

        // A new process over the same database: the window survives.
        let app = TestApp::spawn(&db, &soc.uri(), clock.clone()).await;
        let third = bypass_mfa_add("alice@example.com", START + 20 * 86_400_000, 2);
        let (_, report) = app.ingest("Okta.SystemLog", third.to_string()).await;
        assert_eq!(
            report["alerts"].as_array().unwrap().len(),
            2,
            "INFO add + HIGH repeat: {report}"
        );
        let high = app.alerts("Okta.BypassMFAGroup.RepeatedAdds").await;
        assert_eq!(high.len(), 1);
        assert_eq!(high[0]["severity"], "HIGH");
        assert_eq!(high[0]["event_count"], 3);
        // A fourth add in the same window merges into the alert; nothing new is sent.
        let fourth = bypass_mfa_add("alice@example.com", START + 21 * 86_400_000, 3);
        app.ingest("Okta.SystemLog", fourth.to_string()).await;
        let high = app.alerts("Okta.BypassMFAGroup.RepeatedAdds").await;
        assert_eq!((high.len(), high[0]["event_count"].as_i64()), (1, Some(4)));
        assert_eq!(app.alerts("Okta.BypassMFAGroup.UserAdded").await.len(), 5);

        assert_eq!(app.deliver_due().await, 1, "the HIGH alert, to the SOC URL");
        let received = soc.received_requests().await.unwrap();
        let body: Value = serde_json::from_slice(&received[0].body).unwrap();
        assert_eq!(body["id"], "Okta.BypassMFAGroup.RepeatedAdds");
        assert_eq!(body["severity"], "HIGH");
        assert_eq!(body["alertContext"]["user"], json!(["alice@example.com"]));
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_deliveries_are_retried_then_given_up_and_never_leak_the_credential() {
    each_backend(|db| async move {
        let soc = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
            .mount(&soc)
            .await;
        let clock = Arc::new(ManualClock::new(START));
        let app = TestApp::spawn(&db, &soc.uri(), clock.clone()).await;
        let adds: Vec<String> = (0..3)
            .map(|n| {
                bypass_mfa_add("alice@example.com", START + n * 3_600_000, n as usize).to_string()
            })
            .collect();
        let (_, report) = app.ingest("Okta.SystemLog", adds.join("\n")).await;
        let high = app.alerts("Okta.BypassMFAGroup.RepeatedAdds").await;
        let id = high[0]["id"].as_str().unwrap().to_owned();
        assert!(report["alerts"].as_array().unwrap().contains(&json!(id)));
        assert_eq!(app.deliver_due().await, 1);
        for _ in 0..2 {
            assert_eq!(app.deliver_due().await, 0, "not due yet");
            clock.advance(Duration::from_secs(30));
            assert_eq!(app.deliver_due().await, 1);
        }
        let alert = app.get(&format!("/api/alerts/{id}")).await;
        let soc_delivery = alert["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["destination"] == "soc")
            .unwrap()
            .clone();
        assert_eq!(soc_delivery["state"], "failed");
        assert_eq!(soc_delivery["attempts"], 3);
        let error = soc_delivery["last_error"].as_str().unwrap();
        assert!(error.contains("503") && error.contains("busy"), "{error}");
        assert!(!alert.to_string().contains("soc-secret-value"));
        assert_eq!(soc.received_requests().await.unwrap().len(), 3);
        app.stop().await;
        db
    })
    .await;
}

#[test]
fn the_shipped_destinations_read() {
    let source = std::fs::read_to_string(crate::harness::root().join("destinations.yml"))
        .expect("destinations.yml");
    warden::detect::routing::check_routing(&source).expect("the shipped destinations are valid");
}
