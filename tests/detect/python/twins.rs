//! The seed articles' rules in Python against their YAML twins.

use super::{comparable, copy_dir, only_alert, scratch, with_python_twin};
use crate::harness::{bypass_mfa_add, root, seed_event, TestApp, DAY, START};
use crate::support::{each_backend, TestDb};
use serde_json::Value;
use std::sync::Arc;
use warden::clock::ManualClock;
use warden::detect::load::load;
use wiremock::MockServer;

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
