//! The suite's app: stories given as YAML, every vendor resource pointing at one mock, a manual
//! clock, and the requests the tests make to it.

use crate::support::{self, Served, TestDb};
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use warden::app::{Definitions, Settings};
use warden::clock::ManualClock;
use warden::secrets::{Secret, Secrets};
use warden::store::{RunRecord, Runs};
use warden::story::validate::{check_story, Catalog};

pub const TOKEN: &str = "test-api-token";
pub const SECRET: &str = "hook-secret-123";
pub const START: i64 = 1_790_000_000_000;
pub const SLACK_TOKEN: &str = "xoxb-test-bot-token";
pub const SLACK_SIGNING_SECRET: &str = "slack-signing-secret-for-tests";

/// A manual clock at [`START`].
pub fn start_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(START))
}

/// Warden serving the test's stories.
pub struct TestApp {
    pub served: Served,
}

impl TestApp {
    /// Starts the API on port 0 over `db` with `stories` (id, YAML); resources point at `mock`.
    pub async fn spawn(
        db: &TestDb,
        stories: &[(&str, &str)],
        mock: &str,
        clock: Arc<ManualClock>,
    ) -> TestApp {
        TestApp::spawn_with(db, stories, mock, clock, |_| {}).await
    }

    /// [`TestApp::spawn`], with `adjust` changing the settings first (limits, timeouts).
    pub async fn spawn_with(
        db: &TestDb,
        stories: &[(&str, &str)],
        mock: &str,
        clock: Arc<ManualClock>,
        adjust: impl FnOnce(&mut Settings),
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
        let mut settings = Settings {
            secrets,
            clock,
            api_token: Some(Secret::new(TOKEN)),
            ..Settings::new(&db.url, Definitions::stories(stories))
        };
        adjust(&mut settings);
        let served = support::serve(settings).await;
        TestApp { served }
    }

    /// Starts the app with no vendor mock (nothing outbound) at `clock`.
    pub async fn offline_at(
        db: &TestDb,
        stories: &[(&str, &str)],
        clock: Arc<ManualClock>,
    ) -> TestApp {
        TestApp::spawn(db, stories, "http://127.0.0.1:9", clock).await
    }

    /// Starts the app with no vendor mock (nothing outbound) and a fresh clock.
    pub async fn offline(db: &TestDb, stories: &[(&str, &str)]) -> TestApp {
        TestApp::offline_at(db, stories, start_clock()).await
    }

    /// A request to `route`, without the API token (webhooks, Slack, prompt links).
    pub fn request(&self, method: Method, route: &str) -> reqwest::RequestBuilder {
        self.served.request(method, route)
    }

    /// A JSON `POST` to the webhook `hook` with `secret` as the URL's last segment.
    pub fn webhook(&self, hook: &str, secret: &str, body: &str) -> reqwest::RequestBuilder {
        self.request(Method::POST, &format!("/webhook/{hook}/{secret}"))
            .header("content-type", "application/json")
            .body(body.to_owned())
    }

    /// Posts to a webhook; the answer's status and JSON.
    pub async fn post_webhook(&self, hook: &str, secret: &str, body: &str) -> (u16, Value) {
        support::send(self.webhook(hook, secret, body)).await
    }

    /// Starts a run at `hook` with the story's secret; its id.
    pub async fn start_run(&self, hook: &str, body: Value) -> String {
        let (status, answer) = self.post_webhook(hook, SECRET, &body.to_string()).await;
        assert_eq!(status, 202, "{answer}");
        answer["run_id"].as_str().unwrap().to_owned()
    }

    /// A run's detail from the API.
    pub async fn run(&self, id: &str) -> Value {
        self.served.get(&format!("/api/runs/{id}")).await
    }

    /// The details of the runs `ids`, in that order.
    pub async fn runs(&self, ids: &[String]) -> Vec<Value> {
        let mut runs = Vec::new();
        for id in ids {
            runs.push(self.run(id).await);
        }
        runs
    }

    /// Every run in the store (up to the store's cap of 500; the default filter's limit of 0
    /// would be read as 1).
    pub async fn stored_runs(&self) -> Vec<RunRecord> {
        self.served
            .engine
            .store
            .list_runs(&warden::store::RunFilter {
                limit: 500,
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// Runs every step that is due.
    pub async fn idle(&self) {
        self.served.runner.run_until_idle().await.expect("runner");
    }

    pub async fn stop(self) {
        self.served.stop().await;
    }
}

/// The HMAC-SHA256 of `message` under `key`, in lowercase hex (how webhooks and Slack sign).
pub fn hmac_sha256_hex(key: &str, message: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
