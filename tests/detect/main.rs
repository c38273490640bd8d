//! The detection stage end to end, in process, on SQLite and Postgres: logs in over HTTP, the
//! shipped rules, alerts stored and delivered (in-process to the seed story's webhook, and to a
//! URL in Panther's webhook format). Time is a manual clock.

#[path = "../support/mod.rs"]
mod support;

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use support::{each_backend, TestDb};
use warden::app::{Definitions, Settings};
use warden::clock::ManualClock;
use warden::detect::deliver::{Deliverer, DeliveryPolicy};
use warden::detect::detector::Detector;
use warden::detect::load::LoadedRule;
use warden::detect::okta_poll::{Checkpoint, LogSink, OktaLogPoller};
use warden::detect::routing::check_routing;
use warden::detect::scheduler::Scheduler;
use warden::engine::Engine;
use warden::secrets::{Secret, Secrets};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "test-api-token";
/// 2026-01-05T00:00:00Z.
const START: i64 = 1_767_571_200_000;
const DAY: Duration = Duration::from_secs(86_400);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> Value {
    let path = root().join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The seed Okta event `warden demo` ingests (kept with the simulators, `sim/data/okta/`).
fn seed_event() -> Value {
    serde_json::from_str(warden_sim::SEED_OKTA_EVENT).unwrap()
}

fn shipped_rules() -> warden::detect::load::Loaded {
    let rules = warden::detect::load::load(&[root().join("rules")]).expect("read rules");
    assert_eq!(rules.error_count(), 0, "shipped rules are valid");
    rules
}

struct TestApp {
    address: String,
    engine: Arc<Engine>,
    deliverer: Deliverer,
    detector: Arc<Detector>,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    /// Warden with the shipped stories, templates, rules and destinations, plus `soc_url` for
    /// HIGH and CRITICAL alerts.
    async fn spawn(db: &TestDb, soc_url: &str, clock: Arc<ManualClock>) -> TestApp {
        TestApp::spawn_with_rules(db, soc_url, clock, shipped_rules().rules).await
    }

    async fn spawn_with_rules(
        db: &TestDb,
        soc_url: &str,
        clock: Arc<ManualClock>,
        rules: Vec<LoadedRule>,
    ) -> TestApp {
        let loaded =
            warden::story::load::load(&[root().join("stories")], &root().join("templates"))
                .expect("read stories");
        assert_eq!(loaded.error_count(), 0, "shipped stories are valid");
        let shipped = std::fs::read_to_string(root().join("destinations.yml")).unwrap();
        let routing = check_routing(&format!(
            "{shipped}
  soc:
    url: {soc_url}/alerts
    headers:
      Authorization: {{ credential: soc_token }}
    severities: [HIGH, CRITICAL]
"
        ))
        .expect("routing");
        let definitions = Definitions::Loaded {
            stories: loaded.stories,
            rules,
            queries: Vec::new(),
            routing,
        };
        let served = support::serve(Settings {
            secrets: Secrets::default()
                .with_credential("panther_webhook", "hook-secret")
                .with_credential("soc_token", "soc-secret-value"),
            clock,
            public_url: "https://warden.example.com".into(),
            api_token: Some(Secret::new(TOKEN)),
            delivery: DeliveryPolicy {
                max_attempts: 3,
                min_delay: Duration::from_secs(30),
                max_delay: Duration::from_secs(30),
                ..DeliveryPolicy::default()
            },
            ..Settings::new(&db.url, definitions)
        })
        .await;
        TestApp {
            address: served.address,
            deliverer: served.deliverer,
            detector: served.detector,
            engine: served.engine,
            http: support::api_client(),
            server: served.server,
        }
    }

    async fn ingest(&self, log_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/ingest/{log_type}", self.address))
            .bearer_auth(TOKEN)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn get(&self, route: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{route}", self.address))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{route}");
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    }

    async fn alerts(&self, rule: &str) -> Vec<Value> {
        self.get(&format!("/api/alerts?rule={rule}")).await["alerts"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn stop(self) {
        self.server.abort();
        self.engine.store.close().await;
    }
}

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
                "https://warden.example.com/api/alerts/{}",
                body["alertId"].as_str().unwrap()
            )
        );

        // Delivered once, in process, to the seed story's webhook.
        assert_eq!(app.deliverer.deliver_due().await.unwrap(), 1);
        assert_eq!(app.deliverer.deliver_due().await.unwrap(), 0);
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

fn md5_of(text: &str) -> u128 {
    use md5::Digest;
    u128::from_be_bytes(md5::Md5::digest(text.as_bytes()).into())
}

/// The Bypass-MFA add for `user`, published at `at` (milliseconds).
fn bypass_mfa_add(user: &str, at: i64, n: usize) -> Value {
    let mut event = fixture("okta/group.user_membership.add.bypass-mfa.json");
    event["uuid"] = json!(format!("00000000-0000-4000-8000-{n:012}"));
    event["published"] = json!(jiff::Timestamp::from_millisecond(at).unwrap().to_string());
    for target in event["target"].as_array_mut().unwrap() {
        if target["type"] == "User" {
            target["alternateId"] = json!(user);
        }
    }
    event
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
        assert_eq!(
            app.deliverer.deliver_due().await.unwrap(),
            0,
            "INFO alerts are only stored"
        );
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

        assert_eq!(
            app.deliverer.deliver_due().await.unwrap(),
            1,
            "the HIGH alert, to the SOC URL"
        );
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
        assert_eq!(app.deliverer.deliver_due().await.unwrap(), 1);
        for _ in 0..2 {
            assert_eq!(app.deliverer.deliver_due().await.unwrap(), 0, "not due yet");
            clock.advance(Duration::from_secs(30));
            assert_eq!(app.deliverer.deliver_due().await.unwrap(), 1);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_4xx_and_good_lines_are_kept() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db, "http://127.0.0.1:9", Arc::new(ManualClock::new(START))).await;
    let seed = seed_event().to_string();

    // NDJSON with a malformed line: reported by number, the rest evaluated.
    let body = format!("{seed}\n{{\"eventType\": \n\n[1]\n{seed}\n");
    let (status, report) = app.ingest("Okta.SystemLog", body).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["accepted"], 2);
    assert_eq!(report["rejected"], 2);
    assert_eq!(report["errors"][0]["line"], 2);
    assert!(report["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("invalid JSON"));
    assert_eq!(report["errors"][1]["line"], 4);

    // A JSON array, gzipped.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(format!("[{seed}, {seed}]").as_bytes())
        .unwrap();
    let (status, report) = app.ingest("Okta.SystemLog", gz.finish().unwrap()).await;
    assert_eq!(
        (status, report["accepted"].as_u64()),
        (200, Some(2)),
        "{report}"
    );

    // Binary garbage.
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (status, error) = app.ingest("Okta.SystemLog", garbage).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["code"], "invalid_body");

    // Text that is not JSON at all.
    let (status, error) = app.ingest("Okta.SystemLog", "hello\nworld\n").await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["details"]["errors"][1]["line"], 2);

    // A bad log type name.
    let (status, _) = app.ingest("Okta%2FSystemLog", seed.clone()).await;
    assert_eq!(status, 404);

    // No token.
    let response = app
        .http
        .post(format!("{}/ingest/Okta.SystemLog", app.address))
        .body(seed.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A 100 MB body is refused from its Content-Length, before it is read.
    let address = app.address.trim_start_matches("http://").to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        write!(
            stream,
            "POST /ingest/Okta.SystemLog HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/x-ndjson\r\nContent-Length: 104857600\r\n\r\n"
        )
        .unwrap();
        stream.write_all(&[b'{'; 4096]).unwrap();
        let mut answer = vec![0; 512];
        let n = stream.read(&mut answer).unwrap();
        String::from_utf8_lossy(&answer[..n]).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");

    assert!(app.alerts("Okta.AdminPrivilegeGranted").await.len() == 1);
    app.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_low_and_slow_rule_raises_one_high_alert_from_stored_matches() {
    each_backend(|db| async move {
        let shipped = shipped_rules();
        // The scheduled alternative on, the threshold rule off (the shipped files say: one or
        // the other).
        let rules = shipped
            .rules
            .into_iter()
            .filter(|r| r.rule.id != "Okta.BypassMFAGroup.RepeatedAdds")
            .map(|mut r| {
                r.rule.enabled |= r.rule.id == "Okta.BypassMFAGroup.RepeatedAddsScheduled";
                r
            })
            .collect();
        let clock = Arc::new(ManualClock::new(START));
        let app = TestApp::spawn_with_rules(&db, "http://127.0.0.1:9", clock.clone(), rules).await;
        let queries: Vec<_> = shipped.queries.into_iter().map(|q| q.query).collect();
        let scheduler = Scheduler::new(app.detector.clone(), queries, clock.clone());
        assert_eq!(scheduler.queries().len(), 1);

        let adds: Vec<String> = [0, 5, 10]
            .into_iter()
            .enumerate()
            .map(|(n, day)| {
                bypass_mfa_add("alice@example.com", START + day * 86_400_000, n).to_string()
            })
            .chain([bypass_mfa_add("bob@example.com", START, 7).to_string()])
            .collect();
        app.ingest("Okta.SystemLog", adds.join("\n")).await;
        assert!(
            scheduler.run_due().await.unwrap().is_empty(),
            "not due before its first tick"
        );

        clock.advance(11 * DAY);
        let ran = scheduler.run_due().await.unwrap();
        assert_eq!(ran.len(), 1, "missed ticks collapse into one run");
        assert_eq!(ran[0].1.matches, 1, "alice has 3 adds, bob 1");
        let alerts = app
            .alerts("Okta.BypassMFAGroup.RepeatedAddsScheduled")
            .await;
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0]["severity"], "HIGH");
        assert_eq!(alerts[0]["type"], "SCHEDULED_RULE");
        assert!(
            alerts[0]["title"].as_str().unwrap().contains("3 times"),
            "{}",
            alerts[0]
        );
        assert!(
            scheduler.run_due().await.unwrap().is_empty(),
            "a tick runs once"
        );

        // The next hour's run sees alice again: same dedup window, no second alert.
        clock.advance(Duration::from_secs(3600));
        assert_eq!(scheduler.run_due().await.unwrap().len(), 1);
        assert_eq!(
            app.alerts("Okta.BypassMFAGroup.RepeatedAddsScheduled")
                .await
                .len(),
            1
        );
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_pages_are_stored_with_their_checkpoint() {
    each_backend(|db| async move {
        let okta = MockServer::start().await;
        let seed = seed_event();
        let next = format!("{}/api/v1/logs?after=cursor-1&limit=1000", okta.uri());
        Mock::given(method("GET"))
            .and(path("/api/v1/logs"))
            .and(header("authorization", "SSWS okta-token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("link", format!("<{next}>; rel=\"next\"").as_str())
                    .set_body_json(json!([seed])),
            )
            .mount(&okta)
            .await;
        let clock = Arc::new(ManualClock::new(START));
        let app = TestApp::spawn(&db, "http://127.0.0.1:9", clock.clone()).await;
        let poller = OktaLogPoller::new(
            warden::http_client::HttpClients::new().direct,
            &okta.uri(),
            Secret::new("okta-token"),
        )
        .unwrap();
        let source = format!("okta:{}", okta.uri());
        let checkpoint = app.detector.checkpoint(&source).await.unwrap();
        assert_eq!(checkpoint, None);
        let page = poller
            .next_page(
                &Checkpoint::default(),
                jiff::Timestamp::from_millisecond(START).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(page.events.len(), 1);
        app.detector
            .deliver(&source, page.events, &page.checkpoint)
            .await
            .unwrap();
        let stored = app.detector.checkpoint(&source).await.unwrap().unwrap();
        assert_eq!(stored, page.checkpoint);
        assert_eq!(stored.next.as_deref(), Some(next.as_str()));
        assert_eq!(app.alerts("Okta.AdminPrivilegeGranted").await.len(), 1);
        app.stop().await;
        db
    })
    .await;
}

#[test]
fn the_shipped_destinations_read() {
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("destinations.yml"))
            .expect("destinations.yml");
    check_routing(&source).expect("the shipped destinations are valid");
}
