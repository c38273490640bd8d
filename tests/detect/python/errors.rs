//! Broken Python rules, and what a rule's functions override.

use super::{only_alert, python_rule, scratch};
use crate::harness::{seed_event, TestApp, START};
use crate::support::each_backend;
use std::sync::Arc;
use warden::clock::ManualClock;
use warden::detect::load::load;
use wiremock::MockServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_python_rules_are_errors_with_file_and_line_and_the_others_keep_working() {
    let dir = scratch("broken");
    python_rule(
        &dir,
        "good",
        "def rule(event):\n    return event.get('eventtype') is not None\n",
    );
    python_rule(
        &dir,
        "raises",
        "def rule(event):\n    n = 0\n    return 1 / n\n",
    );
    python_rule(
        &dir,
        "loops",
        "def rule(event):\n    while True:\n        pass\n",
    );
    python_rule(
        &dir,
        "imports",
        "import json\nimport no_such_module_here\n\ndef rule(event):\n    return True\n",
    );
    python_rule(&dir, "syntax", "def rule(event):\n    return (\n");
    let loaded = load(std::slice::from_ref(&dir)).unwrap();
    let mut problems: Vec<String> = loaded
        .invalid_files()
        .flat_map(|r| r.diagnostics.iter().map(|d| d.render(&r.path)))
        .collect();
    problems.sort();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    let at = |name: &str| dir.join(name).display().to_string();
    assert!(
        problems[0].starts_with(&format!(
            "{}:2:1: error[W005]: import of `no_such_module_here`",
            at("imports.py")
        )),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with(&format!(
            "{}:2:12: error[W005]: SyntaxError",
            at("syntax.py")
        )),
        "{problems:#?}"
    );
    let ids: Vec<&str> = loaded.rules.iter().map(|r| r.rule.id.as_str()).collect();
    assert_eq!(ids, ["Test.good", "Test.loops", "Test.raises"]);

    std::env::set_var("WARDEN_PYTHON_TIMEOUT_MS", "200");
    each_backend(|db| {
        let rules = loaded.rules.clone();
        async move {
            let soc = MockServer::start().await;
            let clock = Arc::new(ManualClock::new(START));
            let app = TestApp::spawn_with_rules(&db, &soc.uri(), clock, rules).await;
            for round in 0..2 {
                let (status, report) = app.ingest("Okta.SystemLog", seed_event().to_string()).await;
                assert_eq!(
                    status, 200,
                    "an erring rule does not stop the ingest: {report}"
                );
                assert_eq!(report["accepted"], 1);
                let alerts = report["alerts"].as_array().unwrap().len();
                assert_eq!(
                    alerts,
                    if round == 0 { 3 } else { 0 },
                    "errors are deduplicated: {report}"
                );
            }
            let good = only_alert(&app, "Test.good").await;
            assert_eq!(good["notification"]["type"], "RULE");
            for (rule, file, line, what) in [
                (
                    "Test.raises",
                    "raises.py",
                    3,
                    "`rule` raised ZeroDivisionError",
                ),
                (
                    "Test.loops",
                    "loops.py",
                    2,
                    "`rule` ran past its deadline (200 ms)",
                ),
            ] {
                let alert = only_alert(&app, rule).await;
                let body = &alert["notification"];
                assert_eq!(body["type"], "RULE_ERROR", "{body}");
                assert_eq!(alert["event_count"], 2, "{alert}");
                let context = &body["alertContext"];
                assert_eq!(context["file"], at(file));
                assert_eq!(context["line"], line);
                assert!(
                    context["error"].as_str().unwrap().starts_with(what),
                    "{context}"
                );
                assert!(
                    body["title"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("{}:{line}", at(file))),
                    "{body}"
                );
            }
            app.stop().await;
            db
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_overrides_replace_the_rules_description_and_destinations() {
    let dir = scratch("overrides");
    python_rule(
        &dir,
        "routed",
        "def rule(event):\n    return True\n\ndef description(event):\n    return 'about ' + event.get('eventType')\n\n\
         def severity(event):\n    return 'critical'\n\ndef destinations(event):\n    return ['okta-admin-story']\n",
    );
    python_rule(
        &dir,
        "skipped",
        "def rule(event):\n    return True\n\ndef severity(event):\n    return 'HIGH'\n\ndef destinations(event):\n    return ['SKIP']\n",
    );
    let loaded = load(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(loaded.error_count(), 0, "{:?}", loaded.reports);
    each_backend(|db| {
        let rules = loaded.rules.clone();
        async move {
            let soc = MockServer::start().await;
            let clock = Arc::new(ManualClock::new(START));
            let app = TestApp::spawn_with_rules(&db, &soc.uri(), clock, rules).await;
            let (status, report) = app.ingest("Okta.SystemLog", seed_event().to_string()).await;
            assert_eq!(status, 200, "{report}");
            let routed = only_alert(&app, "Test.routed").await;
            assert_eq!(
                routed["notification"]["description"],
                "about user.account.privilege.grant"
            );
            assert_eq!(routed["notification"]["severity"], "CRITICAL");
            let to: Vec<&str> = routed["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["destination"].as_str().unwrap())
                .collect();
            assert_eq!(
                to,
                ["okta-admin-story"],
                "not the SOC URL CRITICAL would reach: {routed}"
            );
            let skipped = only_alert(&app, "Test.skipped").await;
            assert_eq!(skipped["deliveries"], serde_json::json!([]), "{skipped}");
            app.stop().await;
            db
        }
    })
    .await;
}
