//! The console's reads: payload search over the entry event, time ranges, story filter and
//! cursor paging of `list_runs`; runs counted by story and status, each story's last run, steps
//! counted by action and state, failed steps since a time, and parent/child runs.

use super::{each_backend, new_run, run_ids, T0};
use serde_json::json;
use warden::run::{RunStatus, StepEnd, StepState};
use warden::store::{Completion, Overview, Queue, RunFilter, Runs, SqlStore};

/// Runs `r1`..`r5`, one a second from `T0`, in stories `a` and `b`, each entry event naming an
/// alert id and an IP; `r3`'s also carries a `100%_sure` note with `LIKE`'s wildcards.
async fn seed(store: &SqlStore) {
    for n in 1..=5i64 {
        let mut run = new_run(&format!("r{n}"), None);
        run.story_id = if n % 2 == 0 { "b" } else { "a" }.into();
        run.payload =
            json!({"body": {"alertId": format!("ALERT-{n}"), "ip": format!("10.0.0.{n}")}});
        if n == 3 {
            run.payload["body"]["note"] = json!("100%_sure");
        }
        store.create_runs(&[run], T0 + n * 1_000).await.unwrap();
    }
}

#[tokio::test]
async fn payload_search_finds_runs_whose_entry_event_contains_the_text_in_any_case() {
    each_backend(|store| async move {
        seed(&store).await;
        let search = |q: &str| RunFilter {
            q: Some(q.into()),
            ..RunFilter::default()
        };
        assert_eq!(run_ids(&store, search("alert-4")).await, ["r4"]);
        assert_eq!(
            run_ids(&store, search("10.0.0.")).await,
            ["r5", "r4", "r3", "r2", "r1"]
        );
        assert!(run_ids(&store, search("ALERT-9")).await.is_empty());
        // `%` and `_` are text, not wildcards.
        assert_eq!(run_ids(&store, search("100%_sure")).await, ["r3"]);
        assert!(run_ids(&store, search("1%0")).await.is_empty());
        assert!(run_ids(&store, search("a_e")).await.is_empty());
        // A short text, and JSON's own quotes: the same answers as any other text.
        assert_eq!(run_ids(&store, search("-4")).await, ["r4"]);
        assert_eq!(
            run_ids(&store, search(r#""alertId":"ALERT-2""#)).await,
            ["r2"]
        );
        assert_eq!(run_ids(&store, search("Alert-")).await.len(), 5);
        // Empty is no search.
        assert_eq!(run_ids(&store, search("")).await.len(), 5);
    })
    .await;
}

#[tokio::test]
async fn time_ranges_story_and_status_narrow_the_list_and_paging_walks_it() {
    each_backend(|store| async move {
        seed(&store).await;
        let range = RunFilter {
            since: Some(T0 + 2_000),
            until: Some(T0 + 4_000),
            ..RunFilter::default()
        };
        assert_eq!(run_ids(&store, range).await, ["r3", "r2"]);
        let story = RunFilter {
            story_id: Some("a".into()),
            q: Some("alert".into()),
            ..RunFilter::default()
        };
        assert_eq!(run_ids(&store, story).await, ["r5", "r3", "r1"]);
        let running = RunFilter {
            status: Some(RunStatus::Running),
            since: Some(T0 + 5_000),
            ..RunFilter::default()
        };
        assert_eq!(run_ids(&store, running).await, ["r5"]);
        let first = run_ids(
            &store,
            RunFilter {
                limit: 2,
                ..RunFilter::default()
            },
        )
        .await;
        assert_eq!(first, ["r5", "r4"]);
        let second = RunFilter {
            limit: 2,
            before: Some(first[1].clone()),
            ..RunFilter::default()
        };
        assert_eq!(run_ids(&store, second).await, ["r3", "r2"]);
    })
    .await;
}

#[tokio::test]
async fn the_overview_counts_runs_and_steps_and_names_each_storys_last_run() {
    each_backend(|store| async move {
        seed(&store).await;
        // r1's first step fails; the run fails with it.
        let claimed = store.claim("w", T0 + 10_000, T0 + 20_000, 1).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].run_id, "r1");
        let failed = StepEnd::Done {
            state: StepState::Failed,
            error: Some(json!({"message": "boom"})),
            emitted: vec![],
            unhandled_failure: true,
        };
        store
            .complete(&[Completion::new(&claimed[0], failed)], T0 + 11_000)
            .await
            .unwrap();

        let mut counts: Vec<_> = store
            .run_counts(T0 + 2_000)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.key, c.state, c.count))
            .collect();
        counts.sort();
        assert_eq!(
            counts,
            [
                ("a".into(), "running".into(), 2),
                ("b".into(), "running".into(), 2)
            ]
        );
        let all = store.run_counts(T0).await.unwrap();
        assert!(all
            .iter()
            .any(|c| c.key == "a" && c.state == "failed" && c.count == 1));

        let stories = ["a".to_owned(), "b".to_owned(), "none".to_owned()];
        let last = store.last_runs(&stories).await.unwrap();
        assert_eq!(
            last.iter()
                .map(|(s, r, ..)| (s.as_str(), r.as_str()))
                .collect::<Vec<_>>(),
            [("a", "r5"), ("b", "r4")]
        );

        let mut steps: Vec<_> = store
            .step_counts("a", T0)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.key, c.state, c.count))
            .collect();
        steps.sort();
        assert_eq!(
            steps,
            [
                ("first".into(), "failed".into(), 1),
                ("first".into(), "pending".into(), 2),
                ("hook".into(), "succeeded".into(), 3),
            ]
        );
        assert_eq!(store.failed_steps_since(T0 + 11_000).await.unwrap(), 1);
        assert_eq!(store.failed_steps_since(T0 + 11_001).await.unwrap(), 0);
        assert_eq!(store.parent_run("r2").await.unwrap(), None);
        assert!(store.child_runs("r1").await.unwrap().is_empty());
        assert_eq!(store.run_alert("r1").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn a_run_started_by_a_step_names_its_parent_and_the_parent_lists_it() {
    each_backend(|store| async move {
        store
            .create_runs(&[new_run("parent", None)], T0)
            .await
            .unwrap();
        let step = store.run_steps("parent").await.unwrap()[1].id;
        let mut child = new_run("child", None);
        child.parent_step_id = Some(step);
        store.create_runs(&[child], T0 + 1).await.unwrap();
        assert_eq!(
            store.parent_run("child").await.unwrap().as_deref(),
            Some("parent")
        );
        assert_eq!(
            store.child_runs("parent").await.unwrap(),
            [("child".into(), "story".into(), "running".into())]
        );
    })
    .await;
}
