//! Python rules end to end: the seed articles' rules in Python raise the alerts their YAML twins
//! raise (ingest → alert → story webhook), and rules that raise, loop, import what does not
//! exist or do not parse are errors naming file and line while the other rules keep working.

use crate::harness::{bypass_mfa_add, root, seed_event, TestApp, DAY, START};
use crate::support::{each_backend, TestDb};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use warden::clock::ManualClock;
use warden::detect::load::{load, Loaded};
use wiremock::MockServer;

/// A fresh directory under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("warden-python-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The shipped rules with the YAML rule `yaml` replaced by its Python twin (enabled, under the
/// YAML rule's id, so alert ids compare).
fn with_python_twin(yaml: &str, twin_id: &str, id: &str) -> Loaded {
    let dir = scratch("twin");
    copy_dir(&root().join("rules"), &dir);
    std::fs::remove_file(dir.join(yaml)).unwrap();
    let twin = dir.join("python").join(yaml);
    let text = std::fs::read_to_string(&twin).unwrap();
    let text = text
        .replace(&format!("RuleID: {twin_id}"), &format!("RuleID: {id}"))
        .replace("Enabled: false", "Enabled: true")
        .replace(" (Python)\n", "\n");
    std::fs::write(&twin, text).unwrap();
    let loaded = load(&[dir]).unwrap();
    assert_eq!(loaded.error_count(), 0, "{:?}", loaded.reports);
    loaded
}

async fn only_alert(app: &TestApp, rule: &str) -> Value {
    let alerts = app.alerts(rule).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    app.get(&format!(
        "/api/alerts/{}",
        alerts[0]["id"].as_str().unwrap()
    ))
    .await
}

/// The alert body without `version` (a digest of the rule's file) and `description` (the twin's
/// says it is the twin): they differ by design.
fn comparable(notification: &Value) -> Value {
    let mut body = notification.clone();
    body.as_object_mut().unwrap().remove("version");
    body.as_object_mut().unwrap().remove("description");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_rule_in_python_raises_the_yaml_twins_alert_and_starts_the_seed_story() {
    // The YAML twin's alert, for reference.
    let reference = TestDb::sqlite();
    let soc = MockServer::start().await;
    let yaml = TestApp::spawn(&reference, &soc.uri(), Arc::new(ManualClock::new(START))).await;
    let (status, _) = yaml
        .ingest("Okta.SystemLog", seed_event().to_string())
        .await;
    assert_eq!(status, 200);
    let expected = only_alert(&yaml, "Okta.AdminPrivilegeGranted").await;
    yaml.stop().await;
    reference.drop_db().await;

    each_backend(|db| {
        let expected = expected.clone();
        async move {
            let soc = MockServer::start().await;
            let rules = with_python_twin(
                "okta_admin_privilege_grant.yml",
                "Okta.AdminPrivilegeGranted.Python",
                "Okta.AdminPrivilegeGranted",
            );
            let clock = Arc::new(ManualClock::new(START));
            let app = TestApp::spawn_with_rules(&db, &soc.uri(), clock, rules.rules).await;
            let (status, report) = app.ingest("Okta.SystemLog", seed_event().to_string()).await;
            assert_eq!(status, 200, "{report}");
            assert_eq!(report["matches"], 1, "{report}");
            let alert = only_alert(&app, "Okta.AdminPrivilegeGranted").await;
            let body = &alert["notification"];
            assert_eq!(comparable(body), comparable(&expected["notification"]));
            assert_eq!(alert["severity"], expected["severity"]);

            assert_eq!(app.deliver_due().await, 1);
            let runs = app.get("/api/runs?story=panther-okta-admin-grant").await;
            let runs = runs["runs"].as_array().unwrap();
            assert_eq!(runs.len(), 1, "{runs:?}");
            let run = app
                .get(&format!("/api/runs/{}", runs[0]["id"].as_str().unwrap()))
                .await;
            assert_eq!(&run["events"][0]["payload"]["body"], body);
            app.stop().await;
            db
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bypass_mfa_rule_in_python_matches_its_yaml_twin_add_for_add() {
    each_backend(|db| async move {
        let soc = MockServer::start().await;
        let dir = scratch("bypass");
        copy_dir(&root().join("rules"), &dir);
        let twin = dir.join("python/okta_bypass_mfa_group_add.yml");
        let text = std::fs::read_to_string(&twin).unwrap();
        std::fs::write(&twin, text.replace("Enabled: false", "Enabled: true")).unwrap();
        let rules = load(&[dir]).unwrap();
        assert_eq!(rules.error_count(), 0);
        let clock = Arc::new(ManualClock::new(START));
        let app = TestApp::spawn_with_rules(&db, &soc.uri(), clock, rules.rules).await;
        let week = DAY.as_millis() as i64 * 7;
        let events: Vec<String> = [
            ("alice@example.com", 0),
            ("bob@example.com", 1),
            ("alice@example.com", 2),
        ]
        .iter()
        .enumerate()
        .map(|(n, (user, at))| bypass_mfa_add(user, START + at * week, n).to_string())
        .collect();
        let (status, report) = app.ingest("Okta.SystemLog", events.join("\n")).await;
        assert_eq!(status, 200, "{report}");
        // Each add matches both twins and `Okta.BypassMFAGroup.RepeatedAdds`.
        assert_eq!(report["matches"], 9, "{report}");
        let yaml = app.alerts("Okta.BypassMFAGroup.UserAdded").await;
        let python = app.alerts("Okta.BypassMFAGroup.UserAdded.Python").await;
        assert_eq!(yaml.len(), 3);
        let fields = |alerts: &[Value]| {
            let mut fields: Vec<(Value, Value)> = alerts
                .iter()
                .map(|a| (a["title"].clone(), a["severity"].clone()))
                .collect();
            fields.sort_by_key(|f| f.0.to_string());
            fields
        };
        assert_eq!(fields(&python), fields(&yaml));
        app.stop().await;
        db
    })
    .await;
}

const GOOD: &str = "AnalysisType: rule\nRuleID: Test.Good\nEnabled: true\nFilename: good.py\n\
                    LogTypes: [Okta.SystemLog]\nSeverity: Low\n";

fn python_rule(dir: &Path, name: &str, code: &str) {
    let yml = GOOD
        .replace("Test.Good", &format!("Test.{name}"))
        .replace("good.py", &format!("{name}.py"));
    std::fs::write(dir.join(format!("{name}.yml")), yml).unwrap();
    std::fs::write(dir.join(format!("{name}.py")), code).unwrap();
}

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

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn warden_rules_test_on_a_panther_layout_finds_helpers_and_data_models_and_runs_mocks() {
    let repo = scratch("panther-layout");
    write(
        &repo.join("global_helpers/acme_helpers.yml"),
        "AnalysisType: global\nFilename: acme_helpers.py\nGlobalID: acme_helpers\n",
    );
    write(&repo.join("global_helpers/acme_helpers.py"), "def is_admin(name):\n    return name.endswith('-admin')\n\ndef lookup(ip):\n    return 'unknown'\n");
    write(&repo.join("data_models/okta.yml"), "AnalysisType: datamodel\nDataModelID: Acme.Okta\nLogTypes: [Okta.SystemLog]\nEnabled: true\nFilename: okta.py\nMappings:\n  - Name: actor_user\n    Method: actor\n  - Name: source_ip\n    Path: $.client.ipAddress\n");
    write(
        &repo.join("data_models/okta.py"),
        "def actor(event):\n    return event.deep_get('actor', 'alternateId')\n",
    );
    write(&repo.join("rules/acme/admin_sign_in.yml"), "AnalysisType: rule\nFilename: admin_sign_in.py\nRuleID: Acme.AdminSignIn\nEnabled: true\nLogTypes: [Okta.SystemLog]\nSeverity: Low\nTests:\n  - Name: admin from a known place\n    ExpectedResult: true\n    Mocks:\n      - objectName: lookup\n        returnValue: office\n    Log: { p_log_type: Okta.SystemLog, eventType: user.session.start, actor: { alternateId: bob-admin }, client: { ipAddress: 192.0.2.1 } }\n  - Name: admin from elsewhere\n    ExpectedResult: false\n    Log: { p_log_type: Okta.SystemLog, eventType: user.session.start, actor: { alternateId: bob-admin }, client: { ipAddress: 192.0.2.1 } }\n");
    write(&repo.join("rules/acme/admin_sign_in.py"), "from acme_helpers import is_admin, lookup\n\ndef rule(event):\n    return is_admin(event.udm('actor_user')) and lookup(event.udm('source_ip')) == 'office'\n\ndef title(event):\n    return f\"{event.udm('actor_user')} signed in\"\n");
    write(
        &repo.join("test_scenarios/attack.yml"),
        "Logs:\n  - a: 1\nFormat: json\n",
    );
    write(
        &repo.join("packs/acme.yml"),
        "AnalysisType: pack\nPackID: Acme\nPackDefinition: { IDs: [Acme.AdminSignIn] }\n",
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["rules", "test", "-v"])
        .arg(&repo)
        .env_remove("WARDEN_RULES")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("skipped 2 non-rule analysis files (not an analysis file, pack)"),
        "{stdout}"
    );
    assert!(stdout.contains("title: bob-admin signed in"), "{stdout}");
    assert!(
        stdout.ends_with("1 rule, 2 tests passed, 0 failed, 0 unsupported\n"),
        "{stdout}"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_seed_rule_in_python_alerts_as_its_yaml_twin_over_the_same_rows() {
    use warden::detect::scheduler::Scheduler;
    each_backend(|db| async move {
        let shipped = crate::harness::shipped_rules();
        let scheduled = "Okta.BypassMFAGroup.RepeatedAddsScheduled";
        let python = "Okta.BypassMFAGroup.RepeatedAddsScheduled.Python";
        let rules = shipped
            .rules
            .into_iter()
            .filter(|r| r.rule.id != "Okta.BypassMFAGroup.RepeatedAdds")
            .map(|mut r| {
                r.rule.enabled |= r.rule.id == scheduled || r.rule.id == python;
                r
            })
            .collect();
        let clock = Arc::new(ManualClock::new(START));
        let app = TestApp::spawn_with_rules(&db, "http://127.0.0.1:9", clock.clone(), rules).await;
        let queries: Vec<_> = shipped.queries.into_iter().map(|q| q.query).collect();
        let scheduler = Scheduler::new(app.served.detector.clone(), queries, clock.clone());
        let day = DAY.as_millis() as i64;
        let adds: Vec<String> = [0, 5, 10]
            .into_iter()
            .enumerate()
            .map(|(n, at)| bypass_mfa_add("alice@example.com", START + at * day, n).to_string())
            .chain([bypass_mfa_add("bob@example.com", START, 7).to_string()])
            .collect();
        app.ingest("Okta.SystemLog", adds.join("\n")).await;
        assert!(
            scheduler.run_due().await.unwrap().is_empty(),
            "not due before its first tick"
        );
        clock.advance(11 * DAY);
        let ran = scheduler.run_due().await.unwrap();
        assert_eq!(
            ran[0].1.matches, 2,
            "alice's row matches both twins: {ran:?}"
        );
        let yaml = app.alerts(scheduled).await;
        let py = app.alerts(python).await;
        assert_eq!((yaml.len(), py.len()), (1, 1));
        for key in ["title", "severity", "type"] {
            assert_eq!(py[0][key], yaml[0][key], "{key}");
        }
        clock.advance(std::time::Duration::from_secs(3600));
        scheduler.run_due().await.unwrap();
        assert_eq!(app.alerts(python).await.len(), 1, "the same dedup window");
        app.stop().await;
        db
    })
    .await;
}
