//! The web console, served on a loopback port over SQLite and (when `WARDEN_TEST_POSTGRES_URL`
//! is set) Postgres: `browser` drives it in headless Chromium over WebDriver (`chromedriver`) and
//! saves a screenshot of each page under `target/console-screenshots/` (without `chromedriver`
//! and Chromium it says it skipped); `access` checks `--dev`, a closed console, the headers and
//! the cached assets over plain HTTP; `journeys` follows an alert's `link` through sign-in,
//! cancels a waiting run and reads what its steps wait for; `signout` checks that a cookie kept
//! after sign-out is refused by every process and after a restart; `demo_keep` signs in to
//! `warden demo --keep` with what it prints; `bench` runs `warden bench console` at a tiny volume.

#[path = "../support/mod.rs"]
mod support;

mod access;
mod bench;
mod browser;
#[cfg(feature = "demo")]
mod demo_keep;
mod journeys;
mod signout;
mod webdriver;

use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use warden::app::{Definitions, Settings};
use warden::clock::ManualClock;
use warden::detect::routing::Routing;
use warden::secrets::{Secret, Secrets};
use warden::story::validate::{check_story, Catalog};

pub const TOKEN: &str = "console-test-api-token";
pub const SECRET: &str = "console-hook-secret-4711";
pub const START: i64 = 1_790_000_000_000;

/// A webhook, a trigger, and a step that fails when the event lacks `user` (strict data).
pub const STORY: &str = r#"
name: Console triage
description: Checks an alert and greets its user.
strict_data: true
credentials:
  hook: The webhook's secret path segment.
actions:
  receive:
    type: webhook
    options: {path: console-triage, secret_credential: hook}
  is_alert:
    type: trigger
    from: receive
    options:
      rules: [{type: regex, path: "{{ receive.body.alertId }}", value: "^ALERT-"}]
  greet:
    type: transform
    from: is_alert
    options: {mode: message, payload: {hello: "{{ receive.body.user.name }}"}}
  ignored:
    type: transform
    from: is_alert.no_match
    options: {mode: message, payload: {ignored: true}}
"#;

pub fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

/// The streaming rules shipped in `rules/`, so the rules page has something to test.
pub fn shipped_rules() -> Vec<warden::detect::load::LoadedRule> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules");
    warden::detect::load::load(&[dir])
        .expect("read rules/")
        .rules
        .into_iter()
        .filter(|r| !r.rule.log_types.is_empty())
        .collect()
}

/// A webhook and a one-hour delay: its runs wait, so they can be cancelled.
pub const HOLD_STORY: &str = r#"
name: Console hold
credentials:
  hook: The webhook's secret path segment.
actions:
  receive:
    type: webhook
    options: {path: console-hold, secret_credential: hook}
  hold:
    type: transform
    from: receive
    options: {mode: delay, duration: 1h}
  after:
    type: transform
    from: hold
    options: {mode: message, payload: {done: true}}
"#;

/// The suite's settings: both stories, the shipped rules, the API token, a manual clock.
pub fn settings(db: &support::TestDb) -> Settings {
    let story = |id: &str, source: &str| {
        check_story(id, source, &Catalog::default()).unwrap_or_else(|d| panic!("{d:?}"))
    };
    Settings {
        secrets: Secrets::default().with_credential("hook", SECRET),
        clock: Arc::new(ManualClock::new(START)),
        api_token: Some(Secret::new(TOKEN)),
        ..Settings::new(
            &db.url,
            Definitions::Loaded {
                stories: vec![
                    story("console_triage", STORY),
                    story("console_hold", HOLD_STORY),
                ],
                rules: shipped_rules(),
                queries: Vec::new(),
                routing: Routing::default(),
            },
        )
    }
}

/// A client that reports redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    warden::http_client::api_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the first `name="csrf"` field of `html`.
pub fn csrf(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form's CSRF token")
        .to_owned()
}

pub async fn serve(db: &support::TestDb) -> support::Served {
    support::serve(settings(db)).await
}

/// Runs `journey` in a fresh browser session against `warden serve` (with `settings` for that
/// database) on every backend; says it skipped when chromedriver or Chromium is missing.
pub async fn in_browser_on_every_backend(
    settings: impl Fn(&support::TestDb) -> Settings,
    journey: impl AsyncFn(&support::Served, &webdriver::Browser, &str),
) {
    let Some((chromedriver, chromium)) = webdriver::installed() else {
        eprintln!("console browser test skipped: chromedriver or chromium is not installed");
        return;
    };
    let driver = webdriver::Driver::start(&chromedriver).await;
    for db in support::TestDb::all().await {
        eprintln!("--- {}", db.backend);
        let served = support::serve(settings(&db)).await;
        let browser = driver.session(&chromium).await;
        journey(&served, &browser, db.backend).await;
        browser.quit().await;
        served.stop().await;
        db.drop_db().await;
    }
}

/// Ingests the seed Okta event (the first seed rule's alert).
pub async fn ingest_seed_event(served: &support::Served) {
    let (status, answer) = support::send(
        served
            .authorized(reqwest::Method::POST, "/ingest/Okta.SystemLog")
            .body(warden_sim::SEED_OKTA_EVENT),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
}

/// Starts a run with `body`; its id.
pub async fn start_run(served: &support::Served, body: Value) -> String {
    let (status, answer) = support::send(
        served
            .request(
                reqwest::Method::POST,
                &format!("/webhook/console-triage/{SECRET}"),
            )
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    answer["run_id"].as_str().unwrap().to_owned()
}
