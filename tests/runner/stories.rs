//! Runs and the stories they belong to: one story starting another and waiting for its result,
//! and a run pinned to the story version it started with.

use super::*;

const PARENT: &str = r#"
name: Parent
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: parent, secret_credential: hook }
  enrich:
    type: send_to_story
    from: hook
    options: { story: child, payload: { value: "{{ hook.body.value }}" }, wait: true }
"#;

const CHILD: &str = r#"
name: Child
credentials: { hook: webhook secret }
actions:
  start:
    type: webhook
    options: { path: child, secret_credential: hook }
  double:
    type: transform
    from: start
    options: { mode: message, payload: { doubled: "{{ start.body.value * 2 }}" } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_story_waits_for_the_other_run_and_emits_its_result() {
    each_backend(|db| async move {
        let app = TestApp::offline(&db, &[("parent", PARENT), ("child", CHILD)]).await;
        let id = app.start_run("parent", json!({"value": 21})).await;
        app.idle().await;
        let run = app.run(&id).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        let result = &events(&run, "enrich")[0]["payload"];
        assert_eq!(result["status"], "succeeded");
        assert_eq!(result["result"]["doubled"], 42);
        app.stop().await;
        db
    })
    .await;
}

/// A story whose run waits an hour, then runs `step`, which emits `{version: <version>}`: two
/// versions of one story differ in that last action only.
fn pinned(step: &str, version: u32) -> String {
    format!(
        r#"
name: Pinned
credentials: {{ hook: webhook secret }}
actions:
  hook:
    type: webhook
    options: {{ path: pinned, secret_credential: hook }}
  hold:
    type: transform
    from: hook
    options: {{ mode: delay, duration: 1h }}
  {step}:
    type: transform
    from: hold
    options: {{ mode: message, payload: {{ version: {version} }} }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_run_finishes_on_the_story_version_it_started_with() {
    each_backend(|db| async move {
        let clock = start_clock();
        let app =
            TestApp::offline_at(&db, &[("pinned", &pinned("old_step", 1))], clock.clone()).await;
        let old = app.start_run("pinned", json!({})).await;
        app.idle().await;
        app.stop().await;

        // The story is edited while the run waits; new runs use the new version.
        clock.advance(Duration::from_secs(3600));
        let app =
            TestApp::offline_at(&db, &[("pinned", &pinned("new_step", 2))], clock.clone()).await;
        app.idle().await;
        let run = app.run(&old).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_eq!(events(&run, "old_step")[0]["payload"]["version"], 1);
        assert!(events(&run, "new_step").is_empty());
        let new = app.start_run("pinned", json!({})).await;
        assert_ne!(app.run(&new).await["story_version"], run["story_version"]);
        app.stop().await;
        db
    })
    .await;
}
