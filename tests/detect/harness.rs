//! The suite's app: the shipped stories, rules and destinations (plus a SOC URL for HIGH and
//! CRITICAL alerts) over a manual clock; the events the tests ingest.

use crate::support::{self, Served, TestDb};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use warden::app::{Definitions, Settings};
use warden::clock::ManualClock;
use warden::detect::deliver::DeliveryPolicy;
use warden::detect::load::LoadedRule;
use warden::detect::routing::check_routing;
use warden::preflight::Setting;
use warden::secrets::{Secret, Secrets};

pub const TOKEN: &str = "test-api-token";
/// 2026-01-05T00:00:00Z.
pub const START: i64 = 1_767_571_200_000;
pub const DAY: Duration = Duration::from_secs(86_400);

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> Value {
    let path = root().join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The seed Okta event `warden demo` ingests (kept with the simulators, `sim/data/okta/`).
pub fn seed_event() -> Value {
    serde_json::from_str(warden_sim::SEED_OKTA_EVENT).unwrap()
}

/// The Bypass-MFA add for `user`, published at `at` (milliseconds).
pub fn bypass_mfa_add(user: &str, at: i64, n: usize) -> Value {
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

pub fn shipped_rules() -> warden::detect::load::Loaded {
    let rules = warden::detect::load::load(&[root().join("rules")]).expect("read rules");
    assert_eq!(rules.error_count(), 0, "shipped rules are valid");
    rules
}

/// Warden with the shipped definitions.
pub struct TestApp {
    pub served: Served,
}

impl TestApp {
    /// Warden with the shipped stories, templates, rules and destinations, plus `soc_url` for
    /// HIGH and CRITICAL alerts.
    pub async fn spawn(db: &TestDb, soc_url: &str, clock: Arc<ManualClock>) -> TestApp {
        TestApp::spawn_with_rules(db, soc_url, clock, shipped_rules().rules).await
    }

    pub async fn spawn_with_rules(
        db: &TestDb,
        soc_url: &str,
        clock: Arc<ManualClock>,
        rules: Vec<LoadedRule>,
    ) -> TestApp {
        TestApp::spawn_leaving_unset(db, soc_url, clock, rules, &[]).await
    }

    /// [`TestApp::spawn_with_rules`], with the stories' settings named in `unset` left unset (so
    /// the stories that need them are not ready).
    pub async fn spawn_leaving_unset(
        db: &TestDb,
        soc_url: &str,
        clock: Arc<ManualClock>,
        rules: Vec<LoadedRule>,
        unset: &[&str],
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
        // Every setting the stories need is set, so their webhooks take alerts; no vendor is
        // called here, so placeholders do.
        let mut secrets = Secrets::default()
            .with_credential("panther_webhook", "hook-secret")
            .with_credential("soc_token", "soc-secret-value");
        for story in &loaded.stories {
            for ((setting, name), _) in warden::preflight::needs(story) {
                if secrets.credential(&name).is_none()
                    && secrets.resource(&name).is_none()
                    && !unset.contains(&name.as_str())
                {
                    secrets = match setting {
                        Setting::Credential => secrets.with_credential(&name, "placeholder"),
                        Setting::Resource => secrets.with_resource(&name, "https://vendor.invalid"),
                    };
                }
            }
        }
        let definitions = Definitions::Loaded {
            stories: loaded.stories,
            rules,
            queries: Vec::new(),
            routing,
        };
        let served = support::serve(Settings {
            secrets,
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
        TestApp { served }
    }

    /// Posts `body` to `/ingest/{log_type}` with the API token; the status and JSON answer.
    pub async fn ingest(&self, log_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let route = format!("/ingest/{log_type}");
        support::send(self.served.authorized(Method::POST, &route).body(body)).await
    }

    /// `GET route` from the API (asserting a 200).
    pub async fn get(&self, route: &str) -> Value {
        self.served.get(route).await
    }

    /// The stored alerts of `rule`.
    pub async fn alerts(&self, rule: &str) -> Vec<Value> {
        self.get(&format!("/api/alerts?rule={rule}")).await["alerts"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Delivers the alerts that are due; how many deliveries were attempted.
    pub async fn deliver_due(&self) -> usize {
        self.served.deliverer.deliver_due().await.unwrap()
    }

    pub async fn stop(self) {
        self.served.stop().await;
    }
}
