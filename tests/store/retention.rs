//! Retention: finished runs past the cutoff go with their steps, events, prompts and prompt
//! links; open runs, recent runs, runs a waiting parent still reads and runs whose dedupe key is
//! live stay; old rule matches go, recent ones stay; and batches of N remove everything eligible.

use super::{each_backend, new_run, support, T0};
use serde_json::json;
use warden::detect::alerting;
use warden::run::{RunStatus, StepEnd, Wait};
use warden::store::{
    Completion, Detections, FirstMatch, NewMatch, NewPrompt, Prompts, Queue, Retention, Runs,
    SqlStore, WindowPolicy,
};

const DAY: i64 = 86_400_000;
const NOW: i64 = T0 + 40 * DAY;
const CUTOFF: i64 = T0 + 10 * DAY;

/// A run with nothing to do after its entry: it finishes (succeeded) as it is created, at `at`.
async fn finished_run(store: &SqlStore, id: &str, dedupe: Option<(&str, i64)>, at: i64) {
    let mut run = new_run(id, dedupe);
    run.receivers.clear();
    store.create_runs(&[run], at).await.unwrap();
    let record = store.run(id).await.unwrap().unwrap();
    assert_eq!(record.status, RunStatus::Succeeded);
}

fn new_match(event_time: i64) -> NewMatch {
    NewMatch {
        rule_id: "rule".into(),
        // A threshold no test reaches: no alert is built.
        policy: WindowPolicy::new(60, 1_000),
        dedup: "d".into(),
        log_type: "Okta.SystemLog".into(),
        event_time,
        first: FirstMatch {
            title: "t".into(),
            severity: "INFO".into(),
            context: Default::default(),
            log_type: "Okta.SystemLog".into(),
            overrides: Default::default(),
        },
        event: json!({"at": event_time}),
    }
}

async fn record_matches(store: &SqlStore, times: &[i64]) {
    let matches = times.iter().map(|t| new_match(*t)).collect();
    store
        .record_matches(matches, None, NOW, &alerting::merge, &|_, _| {
            unreachable!("no window reaches its threshold")
        })
        .await
        .unwrap();
}

async fn stored_matches(store: &SqlStore) -> usize {
    store
        .matches_since(&["rule".to_owned()], 0)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn only_finished_runs_and_matches_older_than_the_cutoff_are_pruned() {
    each_backend(|store| async move {
        // A parent waiting on its child run (send_to_story with wait).
        store
            .create_runs(&[new_run("parent", None)], T0)
            .await
            .unwrap();
        let claimed = store.claim("w", T0, T0 + 1_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        let wait = StepEnd::Wait {
            due_at: NOW + DAY,
            wait: Wait::Story {
                run_id: "child".into(),
                until: NOW + DAY,
            },
        };
        store
            .complete(&[Completion::new(&claimed[0], wait)], T0)
            .await
            .unwrap();
        let mut child = new_run("child", None);
        child.receivers.clear();
        child.parent_step_id = Some(claimed[0].id);
        store.create_runs(&[child], T0).await.unwrap();
        // A run still running, old.
        store
            .create_runs(&[new_run("running", None)], T0)
            .await
            .unwrap();
        // Old and finished: pruned, with its prompt and prompt link.
        finished_run(&store, "old", None, T0).await;
        let entry = store.run_steps("old").await.unwrap()[0].id;
        store
            .open_prompt(
                &NewPrompt {
                    id: "prompt-old".into(),
                    step_id: entry,
                    run_id: "old".into(),
                    story_id: "story".into(),
                    action_id: "hook".into(),
                    choices: json!([{"value": "yes", "label": "Yes"}]),
                    responders: vec![],
                    links: vec![("hash-old".into(), "yes".into())],
                    expires_at: T0 + DAY,
                },
                T0,
            )
            .await
            .unwrap();
        let opened = store.step_prompt(entry).await.unwrap();
        assert_eq!(opened.map(|p| p.id).as_deref(), Some("prompt-old"));
        // Old and finished, its dedupe window passed: pruned. Still inside it: kept.
        finished_run(&store, "expired-key", Some(("k1", T0 + 1)), T0).await;
        finished_run(&store, "live-key", Some(("k2", NOW + DAY)), T0).await;
        // Finished after the cutoff: kept.
        finished_run(&store, "recent", None, CUTOFF + DAY).await;
        assert!(!store.run_events("old").await.unwrap().is_empty());

        assert_eq!(store.prune_runs(CUTOFF, NOW, 100).await.unwrap(), 2);
        for gone in ["old", "expired-key"] {
            assert!(store.run(gone).await.unwrap().is_none(), "{gone}");
            assert!(store.run_steps(gone).await.unwrap().is_empty(), "{gone}");
            assert!(store.run_events(gone).await.unwrap().is_empty(), "{gone}");
        }
        assert!(store.prompt("prompt-old").await.unwrap().is_none());
        assert!(store.step_prompt(entry).await.unwrap().is_none());
        assert!(store.prompt_link("hash-old").await.unwrap().is_none());
        for kept in ["parent", "child", "running", "live-key", "recent"] {
            assert!(
                store.run(kept).await.unwrap().is_some(),
                "{kept} was pruned"
            );
            assert!(!store.run_steps(kept).await.unwrap().is_empty(), "{kept}");
        }
        assert_eq!(
            store.run("parent").await.unwrap().unwrap().status,
            RunStatus::Waiting
        );
        assert_eq!(store.prune_runs(CUTOFF, NOW, 100).await.unwrap(), 0);

        record_matches(&store, &[T0, T0 + DAY, CUTOFF + DAY]).await;
        assert_eq!(stored_matches(&store).await, 3);
        assert_eq!(store.prune_matches(CUTOFF, 100).await.unwrap(), 2);
        assert_eq!(stored_matches(&store).await, 1);
    })
    .await;
}

#[tokio::test]
async fn pruning_in_batches_removes_everything_eligible() {
    each_backend(|store| async move {
        for n in 0..7 {
            finished_run(&store, &format!("old-{n}"), None, T0 + n).await;
        }
        finished_run(&store, "recent", None, CUTOFF + DAY).await;
        let mut batches = Vec::new();
        loop {
            let pruned = store.prune_runs(CUTOFF, NOW, 3).await.unwrap();
            batches.push(pruned);
            if pruned < 3 {
                break;
            }
        }
        assert_eq!(batches, vec![3, 3, 1]);
        for n in 0..7 {
            assert!(store.run(&format!("old-{n}")).await.unwrap().is_none());
        }
        assert!(store.run("recent").await.unwrap().is_some());

        record_matches(&store, &[T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4, CUTOFF + DAY]).await;
        let mut batches = Vec::new();
        loop {
            let pruned = store.prune_matches(CUTOFF, 2).await.unwrap();
            batches.push(pruned);
            if pruned < 2 {
                break;
            }
        }
        assert_eq!(batches, vec![2, 2, 1]);
        assert_eq!(stored_matches(&store).await, 1);
    })
    .await;
}

#[tokio::test]
async fn a_sweep_prunes_batch_by_batch_and_counts_what_went() {
    use std::sync::Arc;
    use std::time::Duration;
    use warden::app::{App, Definitions, Settings};
    use warden::clock::ManualClock;
    use warden::retention::{Policy, Pruned, Pruner};

    support::each_backend(|db| async move {
        let clock = Arc::new(ManualClock::new(T0));
        let app = App::build(Settings {
            clock: clock.clone(),
            ..Settings::new(&db.url, Definitions::stories(vec![]))
        })
        .await
        .unwrap();
        let store = &app.engine.store;
        for n in 0..5 {
            finished_run(store, &format!("old-{n}"), None, T0 + n).await;
        }
        record_matches(store, &[T0, T0 + 1, T0 + 2]).await;
        clock.advance(Duration::from_secs(31 * 86_400));
        finished_run(store, "recent", None, clock_now(&app)).await;
        record_matches(store, &[clock_now(&app)]).await;

        let pruner = Pruner::new(
            app.engine.clone(),
            Policy {
                batch: 2,
                pause: Duration::ZERO,
                ..Policy::new(Duration::from_secs(30 * 86_400))
            },
        );
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let pruned = pruner.sweep(&stopped).await.unwrap();
        assert_eq!(
            pruned,
            Pruned {
                runs: 5,
                matches: 3
            }
        );
        assert!(store.run("recent").await.unwrap().is_some());
        assert_eq!(stored_matches(store).await, 1);
        let metrics = app.engine.metrics.render(&[]);
        assert!(metrics.contains("warden_pruned_runs_total 5"), "{metrics}");
        assert!(
            metrics.contains("warden_pruned_matches_total 3"),
            "{metrics}"
        );
        assert_eq!(pruner.sweep(&stopped).await.unwrap(), Pruned::default());
        store.close().await;
        db
    })
    .await;
}

fn clock_now(app: &warden::app::App) -> i64 {
    app.engine.clock.now()
}

#[tokio::test]
async fn a_cancelled_run_is_pruned_with_its_history() {
    use warden::store::{Cancelled, Operations};
    each_backend(|store| async move {
        store
            .create_runs(&[new_run("cancelled", None)], T0)
            .await
            .unwrap();
        let done = store.cancel_run("cancelled", "api", T0).await.unwrap();
        assert!(
            matches!(done, Cancelled::Done(ref d) if d.steps == 1),
            "{done:?}"
        );
        let record = store.run("cancelled").await.unwrap().unwrap();
        assert_eq!(record.status, RunStatus::Cancelled);
        assert_eq!(store.run_history("cancelled").await.unwrap().len(), 1);

        assert_eq!(store.prune_runs(CUTOFF, NOW, 100).await.unwrap(), 1);
        assert!(store.run("cancelled").await.unwrap().is_none());
        assert!(store.run_history("cancelled").await.unwrap().is_empty());
    })
    .await;
}
