//! The seed story's harness: Warden's `Stack` over the simulators on a manual clock, and the
//! helpers the scenarios read runs with.

use super::support::TestDb;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use warden::cli::demo::stack::{Stack, StackOptions};
use warden::clock::ManualClock;
use warden_sim::{Scenario, SEED_OKTA_EVENT};

/// The asked user: the grant's target in the seed event.
pub(crate) const TARGET_OKTA_ID: &str = "00u6eup97mAJZWYmP357";
pub(crate) const TARGET_SLACK_ID: &str = "U01AZ88AQQ4";
pub(crate) const PROMPT_TIMEOUT: Duration = Duration::from_secs(4 * 3600);

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn fixture(name: &str) -> String {
    let path = root().join("tests/fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The seed world without VirusTotal's staged first 429.
pub(crate) fn calm() -> Scenario {
    let mut scenario = Scenario::seed();
    scenario.virustotal.quota_exceeded_first = 0;
    scenario
}

pub(crate) struct Harness {
    pub(crate) stack: Stack,
    pub(crate) clock: Arc<ManualClock>,
}

impl Harness {
    pub(crate) async fn start(db: &TestDb, scenario: Scenario) -> Harness {
        Harness::start_with(db, scenario, Vec::new()).await
    }

    pub(crate) async fn start_with(
        db: &TestDb,
        scenario: Scenario,
        credentials: Vec<(String, String)>,
    ) -> Harness {
        let now = warden::clock::system_now().as_millisecond();
        let clock = Arc::new(ManualClock::new(now));
        let stack = Stack::start(StackOptions {
            database_url: db.url.clone(),
            clock: clock.clone(),
            scenario,
            root: root(),
            credentials,
            story: None,
        })
        .await
        .expect("start the stack");
        Harness { stack, clock }
    }

    /// Ingests the seed event and runs everything due; the seed story's run.
    pub(crate) async fn ingest_seed(&self) -> Value {
        let report = self
            .stack
            .ingest("Okta.SystemLog", SEED_OKTA_EVENT)
            .await
            .expect("ingest");
        assert_eq!(report["accepted"], 1, "{report}");
        assert_eq!(report["alerts"].as_array().unwrap().len(), 1, "{report}");
        self.stack.settle().await.expect("settle");
        let runs = self.stack.seed_runs().await.unwrap();
        assert_eq!(runs.len(), 1, "the alert starts one run: {runs:?}");
        runs[0].clone()
    }

    pub(crate) async fn run(&self, id: &Value) -> Value {
        self.stack.run(id.as_str().unwrap()).await.unwrap()
    }

    /// Answers the open prompt and lets the run finish.
    pub(crate) async fn answer(&self, choice: &str) {
        assert_eq!(self.stack.click(choice).await.unwrap(), 200);
        assert!(
            self.stack
                .await_slack_responses(1, Duration::from_secs(10))
                .await,
            "the message is replaced through response_url"
        );
        self.stack.settle().await.unwrap();
    }

    /// Moves time on in steps of `step` until `done` or `limit` has passed.
    pub(crate) async fn advance_until(
        &self,
        step: Duration,
        limit: Duration,
        done: impl AsyncCheck,
    ) {
        let mut waited = Duration::ZERO;
        while !done.check(self).await {
            assert!(waited < limit, "nothing happened within {limit:?}");
            self.clock.advance(step);
            waited += step;
            self.stack.settle().await.unwrap();
        }
    }

    pub(crate) async fn stop(self) {
        self.stack.stop().await;
    }
}

/// A condition on the harness, checked between clock steps.
pub(crate) trait AsyncCheck {
    async fn check(&self, harness: &Harness) -> bool;
}

/// The payload of `action`'s event in a run's detail.
pub(crate) fn output<'a>(run: &'a Value, action: &str) -> Option<&'a Value> {
    run["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == action)
        .map(|e| &e["payload"])
}

/// The actions that ran, in order.
pub(crate) fn actions(run: &Value) -> Vec<String> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn requests_to(harness: &Harness, path_part: &str) -> usize {
    harness
        .stack
        .sims
        .requests()
        .iter()
        .filter(|r| r.path.contains(path_part))
        .count()
}
