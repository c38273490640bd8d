//! Scheduled rules: the low-and-slow Bypass-MFA rule over stored matches.

use crate::harness::{bypass_mfa_add, shipped_rules, TestApp, DAY, START};
use crate::support::each_backend;
use std::sync::Arc;
use std::time::Duration;
use warden::clock::ManualClock;
use warden::detect::scheduler::Scheduler;

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
        let scheduler = Scheduler::new(app.served.detector.clone(), queries, clock.clone());
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
