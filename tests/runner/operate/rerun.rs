//! Re-running a run on the version it pinned or the current one.

use super::*;

/// A version of a story whose entry webhook feeds `first`.
const VERSION_ONE: &str = r#"
name: Versioned
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: versioned, secret_credential: hook }
  first:
    type: transform
    from: hook
    options: { mode: message, payload: { seen: "{{ hook.body.n }}" } }
"#;

/// The same story, changed: its webhook now feeds `second`.
const VERSION_TWO: &str = r#"
name: Versioned
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: versioned, secret_credential: hook }
  second:
    type: transform
    from: hook
    options: { mode: message, payload: { again: "{{ hook.body.n }}" } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_starts_from_the_same_entry_event_on_the_pinned_or_the_current_version() {
    each_backend(|db| async move {
        let clock = start_clock();
        let app = TestApp::offline_at(&db, &[("versioned", VERSION_ONE)], clock.clone()).await;
        let original = app.start_run("versioned", json!({"n": 7})).await;
        app.idle().await;
        let pinned_version = app.run(&original).await["story_version"].clone();
        app.stop().await;

        // The story changed; the server restarted with the new version.
        let app = TestApp::offline_at(&db, &[("versioned", VERSION_TWO)], clock.clone()).await;
        let route = format!("/api/runs/{original}/rerun");
        let (status, pinned) = app.act(&route, None).await;
        assert_eq!(status, 201, "{pinned}");
        let (status, current) = app.act(&route, Some(json!({"version": "current"}))).await;
        assert_eq!(status, 201, "{current}");
        let (status, refused) = app.act(&route, Some(json!({"version": "latest"}))).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (422, Some("invalid_version"))
        );
        let (status, _) = app.act("/api/runs/no-such-run/rerun", None).await;
        assert_eq!(status, 404);
        app.idle().await;

        let pinned = app.run(pinned["run_id"].as_str().unwrap()).await;
        assert_eq!(pinned["status"], "succeeded", "{pinned:#}");
        assert_eq!(pinned["story_version"], pinned_version);
        assert_eq!(pinned["rerun_of"], original.as_str());
        assert_eq!(events(&pinned, "first")[0]["payload"], json!({"seen": 7}));
        let current = app.run(current["run_id"].as_str().unwrap()).await;
        assert_eq!(current["status"], "succeeded", "{current:#}");
        assert_ne!(current["story_version"], pinned_version);
        assert_eq!(
            events(&current, "second")[0]["payload"],
            json!({"again": 7})
        );
        assert_eq!(current["rerun_of"], original.as_str());
        assert_eq!(history(&current), [("rerun_of".into(), "api".into())]);

        let original = app.run(&original).await;
        assert_eq!(
            history(&original),
            [
                ("rerun".into(), "api".into()),
                ("rerun".into(), "api".into())
            ]
        );
        let versions: Vec<&Value> = original["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| &h["details"]["version"])
            .collect();
        assert_eq!(versions, [&json!("pinned"), &json!("current")]);
        app.stop().await;
        db
    })
    .await;
}
