//! The seed story end to end, on SQLite and Postgres, through the same wiring as `warden serve`:
//! the seed Okta event is ingested over HTTP, the admin-grant rule's alert is delivered into
//! `stories/panther-okta-admin-grant.yml`, and VirusTotal, GreyNoise, Slack, TheHive and Okta are
//! played by the simulators (`warden_sim`, built from the vendor fixtures). The user's
//! answer is a signed Slack click. Time is a manual clock started at the real time (Slack's
//! signatures are checked against it).

#[path = "../support/mod.rs"]
mod support;

mod demo_story;
mod harness;
mod outside_data;
mod phishing;
mod secrets;

use harness::*;
use serde_json::Value;
use std::time::Duration;
use support::{each_backend, step, TestDb};
use warden_sim::{EditSource, OktaStatus, Scenario, SEED_CLIENT_IP, SEED_OKTA_EVENT};

/// Malicious IP, the user says "I don't recognize this": a case with the IP as an observable,
/// the user suspended with sessions and OAuth tokens cleared, the Slack message replaced.
#[tokio::test]
async fn a_denied_grant_opens_a_case_and_locks_the_user() {
    each_backend(|db| async move {
        let h = Harness::start(&db, calm()).await;
        let run = h.ingest_seed().await;
        let message = h.stack.open_prompt().expect("the user is asked on Slack");
        assert_eq!(message.dm_user.as_deref(), Some(TARGET_SLACK_ID));
        assert!(message.text.contains(SEED_CLIENT_IP), "{}", message.text);
        let waiting = h.run(&run["id"]).await;
        assert_eq!(waiting["status"], "waiting");
        // A waiting step says what for and until when; a finished one has no due time.
        let asked = step(&waiting, "ask_user").unwrap();
        assert_eq!(asked["waiting_for"]["kind"], "prompt", "{asked:#}");
        assert!(
            asked["waiting_for"]["reason"]
                .as_str()
                .unwrap()
                .starts_with("an answer to prompt"),
            "{asked:#}"
        );
        assert_eq!(asked["waiting_for"]["until"], asked["due_at"]);
        let looked_up = step(&waiting, "vt_lookup").unwrap();
        assert!(
            looked_up["due_at"].is_null() && looked_up["waiting_for"].is_null(),
            "{looked_up:#}"
        );

        h.answer("denied").await;
        let run = h.run(&run["id"]).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_eq!(
            output(&run, "ask_user").unwrap()["prompt"]["status"],
            "denied"
        );

        let cases = h.stack.sims.thehive_cases();
        assert_eq!(cases.len(), 1);
        let case = &cases[0];
        assert!(
            case.title.contains("thomaskinsella@tines.io"),
            "{}",
            case.title
        );
        assert_eq!(case.severity, 3);
        assert!(
            case.tags.iter().any(|t| t.starts_with("warden:")),
            "{:?}",
            case.tags
        );
        assert_eq!(case.observables.len(), 1);
        assert_eq!(case.observables[0]["data"], SEED_CLIENT_IP);
        assert_eq!(case.observables[0]["ioc"], true);
        let opened = output(&run, "open_case").unwrap();
        assert_eq!(opened["body"]["number"], case.number);
        assert_eq!(opened["created"], true);

        let user = h.stack.sims.okta_user(TARGET_OKTA_ID).unwrap();
        assert_eq!(user.status, OktaStatus::Suspended);
        assert_eq!(user.sessions_cleared, 1);
        assert_eq!(user.oauth_tokens_revoked, 1);
        let locked = &output(&run, "lock_user").unwrap()["body"];
        assert_eq!(locked["status_before"], "ACTIVE");
        assert_eq!(locked["status"], "SUSPENDED");
        assert_eq!(locked["suspended"], true);

        let replaced = h.stack.sims.slack_responses();
        assert_eq!(replaced.len(), 1);
        assert!(h.stack.open_prompt().is_none(), "the buttons are gone");
        assert!(output(&run, "record_confirmation").is_none());
        h.stop().await;
        db
    })
    .await;
}

/// Malicious IP, the user says "Yes, this was me": no case, nobody locked, message replaced.
#[tokio::test]
async fn a_confirmed_grant_is_recorded_and_nothing_is_locked() {
    each_backend(|db| async move {
        let h = Harness::start(&db, calm()).await;
        let run = h.ingest_seed().await;
        h.answer("confirmed").await;
        let run = h.run(&run["id"]).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_eq!(
            output(&run, "record_confirmation").unwrap()["outcome"],
            "confirmed by user"
        );
        assert!(h.stack.sims.thehive_cases().is_empty());
        let user = h.stack.sims.okta_user(TARGET_OKTA_ID).unwrap();
        assert_eq!(user.status, OktaStatus::Active);
        assert_eq!(user.sessions_cleared, 0);
        assert!(!actions(&run).contains(&"lock_user".to_owned()));
        assert_eq!(h.stack.sims.slack_responses().len(), 1);
        assert!(h.stack.open_prompt().is_none());
        h.stop().await;
        db
    })
    .await;
}

/// A clean IP: both lookups run, nobody is asked, nothing happens.
#[tokio::test]
async fn a_clean_ip_asks_nobody() {
    each_backend(|db| async move {
        let mut scenario = calm();
        scenario.virustotal.malicious.clear();
        scenario.greynoise.malicious.clear();
        let h = Harness::start(&db, scenario).await;
        let run = h.ingest_seed().await;
        let run = h.run(&run["id"]).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        let trigger = run["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "ip_is_malicious")
            .unwrap();
        assert_eq!(trigger["link"], "no_match");
        assert!(h.stack.sims.slack_messages().is_empty());
        assert!(h.stack.sims.thehive_cases().is_empty());
        assert_eq!(requests_to(&h, "/ip_addresses/"), 1);
        assert_eq!(requests_to(&h, "/community/"), 1);
        h.stop().await;
        db
    })
    .await;
}

struct Finished(Value);

impl AsyncCheck for Finished {
    async fn check(&self, h: &Harness) -> bool {
        h.run(&self.0).await["finished_at"].is_string()
    }
}

/// Nobody answers within 4 hours: the prompt times out, the message says so, and the account is
/// contained as for a denial.
#[tokio::test]
async fn an_unanswered_prompt_times_out_into_containment() {
    each_backend(|db| async move {
        let h = Harness::start(&db, calm()).await;
        let run = h.ingest_seed().await;
        assert!(h.stack.open_prompt().is_some());
        h.clock.advance(PROMPT_TIMEOUT - Duration::from_secs(60));
        h.stack.settle().await.unwrap();
        assert_eq!(h.run(&run["id"]).await["status"], "waiting");
        h.advance_until(
            Duration::from_secs(60),
            Duration::from_secs(600),
            Finished(run["id"].clone()),
        )
        .await;
        let run = h.run(&run["id"]).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_eq!(
            output(&run, "ask_user").unwrap()["prompt"]["status"],
            "timeout"
        );
        assert_eq!(h.stack.sims.thehive_cases().len(), 1);
        let user = h.stack.sims.okta_user(TARGET_OKTA_ID).unwrap();
        assert_eq!(user.status, OktaStatus::Suspended);
        let message = &h.stack.sims.slack_messages()[0];
        assert!(
            message
                .edits
                .iter()
                .any(|e| e.via == EditSource::ChatUpdate),
            "chat.update marks the question expired: {:?}",
            message.edits
        );
        assert!(h.stack.open_prompt().is_none());
        h.stop().await;
        db
    })
    .await;
}

struct Asked;

impl AsyncCheck for Asked {
    async fn check(&self, h: &Harness) -> bool {
        h.stack.open_prompt().is_some()
    }
}

/// VirusTotal's quota is spent on the first lookup (429, `Retry-After: 1`): the step waits and
/// the second attempt succeeds; the run goes on to ask the user.
#[tokio::test]
async fn a_virustotal_429_waits_and_succeeds() {
    each_backend(|db| async move {
        let h = Harness::start(&db, Scenario::seed()).await;
        let run = h.ingest_seed().await;
        assert!(h.stack.open_prompt().is_none(), "the lookup is waiting");
        let detail = h.run(&run["id"]).await;
        assert_eq!(step(&detail, "vt_lookup").unwrap()["state"], "pending");
        h.advance_until(Duration::from_secs(1), Duration::from_secs(120), Asked)
            .await;
        let detail = h.run(&run["id"]).await;
        let lookup = step(&detail, "vt_lookup").unwrap();
        assert_eq!(lookup["state"], "succeeded");
        assert_eq!(lookup["attempt"], 2);
        assert_eq!(requests_to(&h, "/ip_addresses/"), 2);
        h.answer("denied").await;
        assert_eq!(h.run(&run["id"]).await["status"], "succeeded");
        h.stop().await;
        db
    })
    .await;
}

/// Panther's own payloads (the docs' example and "Send Test Alert") are accepted; with no client
/// IP to triage, their runs end at once, without calling any vendor.
#[tokio::test]
async fn panthers_example_and_test_alerts_are_accepted() {
    each_backend(|db| async move {
        let h = Harness::start(&db, calm()).await;
        for name in ["webhook-docs-example.json", "webhook-send-test-alert.json"] {
            let (status, answer) = h
                .stack
                .post_alert(&fixture(&format!("panther/{name}")))
                .await
                .unwrap();
            assert_eq!(status, 202, "{name}: {answer}");
        }
        h.stack.settle().await.unwrap();
        let runs = h.stack.seed_runs().await.unwrap();
        assert_eq!(runs.len(), 2);
        for run in &runs {
            let run = h.run(&run["id"]).await;
            assert_eq!(run["status"], "succeeded", "{run:#}");
            assert_eq!(actions(&run), ["receive_alert", "has_client_ip"]);
            // No client IP to read: the trigger saw it empty, and says what was missing.
            let missing = &step(&run, "has_client_ip").unwrap()["missing_data"];
            assert!(
                missing[0]
                    .as_str()
                    .is_some_and(|p| p.starts_with("receive_alert.body.alertContext")),
                "{missing}"
            );
        }
        assert!(h.stack.sims.requests().is_empty(), "no vendor is called");

        // The constructed admin-grant alert (the seed's, as Panther would post it) is triaged.
        let (status, _) = h
            .stack
            .post_alert(&fixture(
                "panther/webhook-okta-admin-role-assigned.constructed.json",
            ))
            .await
            .unwrap();
        assert_eq!(status, 202);
        h.stack.settle().await.unwrap();
        assert!(h.stack.open_prompt().is_some());
        h.stop().await;
        db
    })
    .await;
}

struct StepDone(Value, &'static str);

impl AsyncCheck for StepDone {
    async fn check(&self, h: &Harness) -> bool {
        let run = h.run(&self.0).await;
        step(&run, self.1).is_some_and(|s| s["state"] == "succeeded")
    }
}

/// TheHive stores the case but the answer is lost (500): the retried step finds the case by its
/// idempotency tag instead of opening a second one, and the observable goes to that case.
#[tokio::test]
async fn a_retried_case_creation_opens_one_case() {
    each_backend(|db| async move {
        let mut scenario = calm();
        scenario.thehive_lost_create_responses = 1;
        let h = Harness::start(&db, scenario).await;
        let run = h.ingest_seed().await;
        h.answer("denied").await;
        assert_eq!(h.stack.sims.thehive_cases().len(), 1);
        let detail = h.run(&run["id"]).await;
        assert_eq!(step(&detail, "open_case").unwrap()["state"], "pending");
        h.advance_until(
            Duration::from_secs(5),
            Duration::from_secs(600),
            StepDone(run["id"].clone(), "add_ip_observable"),
        )
        .await;
        let detail = h.run(&run["id"]).await;
        assert_eq!(detail["status"], "succeeded", "{detail:#}");
        let cases = h.stack.sims.thehive_cases();
        assert_eq!(cases.len(), 1, "one case, not two");
        assert_eq!(cases[0].observables.len(), 1);
        let opened = output(&detail, "open_case").unwrap();
        assert_eq!(opened["created"], false, "the retry found the case");
        assert_eq!(opened["body"]["_id"], cases[0].id.as_str());
        assert_eq!(step(&detail, "open_case").unwrap()["attempt"], 2);
        assert_eq!(
            requests_to(&h, "/api/v1/case"),
            2,
            "one create, one observable"
        );
        h.stop().await;
        db
    })
    .await;
}

/// A user someone already suspended: the lock counts as done (no suspend call) and sessions are
/// still cleared.
#[tokio::test]
async fn an_already_suspended_user_counts_as_locked() {
    each_backend(|db| async move {
        let mut scenario = calm();
        for person in &mut scenario.people {
            if person.okta_id.as_deref() == Some(TARGET_OKTA_ID) {
                person.okta_status = OktaStatus::Suspended;
            }
        }
        let h = Harness::start(&db, scenario).await;
        let run = h.ingest_seed().await;
        h.answer("denied").await;
        let run = h.run(&run["id"]).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_eq!(requests_to(&h, "/lifecycle/suspend"), 0);
        let locked = &output(&run, "lock_user").unwrap()["body"];
        assert_eq!(locked["status_before"], "SUSPENDED");
        assert_eq!(locked["suspended"], true);
        let user = h.stack.sims.okta_user(TARGET_OKTA_ID).unwrap();
        assert_eq!(user.oauth_tokens_revoked, 1);
        h.stop().await;
        db
    })
    .await;
}

/// The seed Okta event with `edit` applied to it.
fn seed_event_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut event: Value = serde_json::from_str(SEED_OKTA_EVENT).unwrap();
    edit(&mut event);
    event.to_string()
}

impl Harness {
    /// Ingests `event` (an edited seed event) and runs everything due; the seed story's run.
    async fn ingest_event(&self, event: &str) -> Value {
        let report = self.stack.ingest("Okta.SystemLog", event).await.unwrap();
        assert_eq!(report["alerts"].as_array().unwrap().len(), 1, "{report}");
        self.stack.settle().await.unwrap();
        let runs = self.stack.seed_runs().await.unwrap();
        assert_eq!(runs.len(), 1, "{runs:?}");
        runs[0].clone()
    }
}

/// Issue 13: the granting admin's `displayName` is the attacker's. A masked link and a
/// `<!channel>` in it reach the victim's Slack DM as text (Slack's entities), while the story's
/// own `*bold*` stays; in TheHive's Markdown description the alert title shows as text too.
#[tokio::test]
async fn a_hostile_display_name_reaches_slack_and_thehive_escaped() {
    const NAME: &str =
        "<https://evil.example/okta-verify|Click here to confirm…> <!channel> [Verify](https://evil.example/md)";
    each_backend(|db| async move {
        let h = Harness::start(&db, calm()).await;
        let event = seed_event_with(|e| e["actor"]["displayName"] = NAME.into());
        let run = h.ingest_event(&event).await;
        let message = h.stack.open_prompt().expect("the user is asked on Slack");
        assert!(
            message.text.contains(
                "&lt;https://evil.example/okta-verify|Click here to confirm…&gt; &lt;!channel&gt;"
            ),
            "{}",
            message.text
        );
        assert!(!message.text.contains("<https://evil"), "{}", message.text);
        assert!(!message.text.contains("<!channel>"), "{}", message.text);
        assert!(
            message
                .text
                .starts_with("*Okta administrator privileges were granted to your account*"),
            "the author's mrkdwn is kept: {}",
            message.text
        );
        let blocks = message.blocks.to_string();
        assert!(!blocks.contains("<!channel>"), "{blocks}");

        h.answer("denied").await;
        assert_eq!(h.run(&run["id"]).await["status"], "succeeded");
        let cases = h.stack.sims.thehive_cases();
        let description = cases[0].case["description"].as_str().unwrap();
        assert!(
            description.contains(r"\[Verify\]\(https://evil.example/md\)"),
            "{description}"
        );
        assert!(
            description.contains(r"\<https://evil.example/okta\-verify\|Click"),
            "{description}"
        );
        h.stop().await;
        db
    })
    .await;
}

/// Issue 15: Okta leaves `client.geographicalContext` null for many clients, and other events
/// lack it. The run still asks the user (the place shown as unknown) and the denied grant is
/// contained; where the field is absent, the step records the missing path.
#[tokio::test]
async fn a_client_without_geography_is_still_triaged() {
    each_backend(|db| async move {
        let event = seed_event_with(|e| {
            e["client"]
                .as_object_mut()
                .unwrap()
                .remove("geographicalContext");
        });
        let ask_user = triage_and_deny(&db, &event).await;
        assert_eq!(
            ask_user["missing_data"],
            serde_json::json!(["receive_alert.body.alertContext.client.geographicalContext"]),
            "{ask_user:#}"
        );
        db
    })
    .await;
}

#[tokio::test]
async fn a_client_with_null_geography_is_still_triaged() {
    each_backend(|db| async move {
        let event = seed_event_with(|e| e["client"]["geographicalContext"] = Value::Null);
        triage_and_deny(&db, &event).await;
        db
    })
    .await;
}

/// Ingests `event`, checks the user is asked with the place unknown, denies, checks the run is
/// contained; returns `ask_user`'s step.
async fn triage_and_deny(db: &TestDb, event: &str) -> Value {
    let h = Harness::start(db, calm()).await;
    let run = h.ingest_event(event).await;
    let message = h.stack.open_prompt().expect("the user is asked on Slack");
    assert!(message.text.contains(SEED_CLIENT_IP), "{}", message.text);
    assert!(
        message.text.contains("(unknown city, unknown country)"),
        "{}",
        message.text
    );
    h.answer("denied").await;
    let detail = h.run(&run["id"]).await;
    assert_eq!(detail["status"], "succeeded", "{detail:#}");
    assert!(output(&detail, "lock_user").is_some(), "{detail:#}");
    assert!(output(&detail, "open_case").is_some(), "{detail:#}");
    assert_eq!(
        step(&detail, "vt_lookup").unwrap()["missing_data"],
        serde_json::json!([])
    );
    h.stop().await;
    step(&detail, "ask_user").unwrap().clone()
}

/// Ingests the seed event with the grant's target id set to `id`, denies, and returns the paths
/// Okta was sent and `lock_user`'s step.
async fn lock_user_with_target_id(db: &TestDb, id: &str) -> (Vec<String>, Value) {
    let h = Harness::start(db, calm()).await;
    let event = seed_event_with(|e| e["target"][0]["id"] = id.into());
    let run = h.ingest_event(&event).await;
    h.answer("denied").await;
    let detail = h.run(&run["id"]).await;
    let okta = h
        .stack
        .sims
        .requests()
        .into_iter()
        .filter(|r| r.vendor == warden_sim::Vendor::Okta)
        .map(|r| r.path)
        .collect();
    h.stop().await;
    (okta, step(&detail, "lock_user").unwrap().clone())
}

/// Issue 13: a target user id of `../../../../echo/traversal` must not move `okta/lock_user`'s
/// requests (and its Okta token) off `/api/v1/users/{id}`: the id is sent as one path segment
/// (`/` as `%2F`), Okta answers "no such user" and the step fails.
#[tokio::test]
async fn a_traversing_user_id_never_leaves_the_users_path() {
    each_backend(|db| async move {
        let (okta, lock) = lock_user_with_target_id(&db, "../../../../echo/traversal").await;
        assert_eq!(okta, ["/api/v1/users/..%2F..%2F..%2F..%2Fecho%2Ftraversal"]);
        assert_eq!(lock["state"], "failed", "{lock:#}");
        db
    })
    .await;
}

/// Issue 13: a target user id of `..` is refused by `path_segment`: the step fails and Okta is
/// never called (URL parsers resolve `..`, encoded or not, to the parent path).
#[tokio::test]
async fn a_dot_dot_user_id_fails_the_step_unsent() {
    each_backend(|db| async move {
        let (okta, lock) = lock_user_with_target_id(&db, "..").await;
        assert_eq!(okta, Vec::<String>::new());
        assert_eq!(lock["state"], "failed", "{lock:#}");
        db
    })
    .await;
}

/// `warden demo`, the newcomer's command, plays the whole scenario and exits 0.
#[test]
fn warden_demo_runs_the_seed_scenario() {
    for (answer, ending) in [
        ("denied", "thomaskinsella@tines.io is SUSPENDED"),
        ("confirmed", "thomaskinsella@tines.io is ACTIVE"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["demo", "--answer", answer, "--root"])
            .arg(root())
            .env_remove("WARDEN_DATABASE_URL")
            .output()
            .expect("warden runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{answer}: {stdout}\n{stderr}");
        assert!(stdout.contains("SIMULATED"), "{stdout}");
        assert!(stdout.contains(ending), "{stdout}");
        assert_eq!(
            stdout.contains("TheHive (simulated): case #1"),
            answer == "denied",
            "{stdout}"
        );
    }
}
