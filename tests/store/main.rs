//! The store conformance suite: the same tests against the store traits on SQLite and on Postgres
//! (when `WARDEN_TEST_POSTGRES_URL` is set; CI always sets it). Each test gets its own database.

#[path = "../support/mod.rs"]
mod support;

mod console;
mod operations;
mod retention;
mod search;
mod sessions;
mod workers;

use serde_json::json;
use warden::run::{Emitted, RunStatus, StepEnd, StepState, Wait};
use warden::store::{
    ActionStates, Completed, Completion, NewRun, Queue, RunCreated, RunFilter, Runs, SqlStore,
    StateWrite, Versions,
};

const T0: i64 = 1_000_000;

fn new_run(id: &str, dedupe: Option<(&str, i64)>) -> NewRun {
    NewRun {
        id: id.to_owned(),
        story_id: "story".into(),
        story_version: "v1".into(),
        entry_action: "hook".into(),
        payload: json!({"body": {"n": 1}}),
        receivers: vec!["first".into()],
        dedupe: dedupe.map(|(k, until)| (k.to_owned(), until)),
        parent_step_id: None,
    }
}

fn done(emitted: Vec<Emitted>) -> StepEnd {
    StepEnd::Done {
        state: StepState::Succeeded,
        error: None,
        emitted,
        unhandled_failure: false,
    }
}

/// The ids `list_runs` answers for `filter`, a page of 50 unless it says otherwise.
async fn run_ids(store: &SqlStore, filter: RunFilter) -> Vec<String> {
    store
        .list_runs(&RunFilter {
            limit: if filter.limit == 0 { 50 } else { filter.limit },
            ..filter
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// Runs `test` on a store over each backend's fresh database (see [`support::each_backend`]).
async fn each_backend<F, Fut>(test: F)
where
    F: Fn(SqlStore) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let test = &test;
    support::each_backend(|db| async move {
        let store = SqlStore::open(&db.url).await.expect("open");
        test(store.clone()).await;
        store.close().await;
        db
    })
    .await;
}

#[tokio::test]
async fn migrations_are_idempotent() {
    each_backend(|store| async move {
        assert_eq!(store.migrate().await.unwrap(), Vec::<i64>::new());
    })
    .await;
}

#[tokio::test]
async fn a_live_dedupe_key_returns_the_earlier_run_and_an_expired_one_does_not() {
    each_backend(|store| async move {
        let created = store
            .create_runs(
                &[
                    new_run("r1", Some(("k", T0 + 100))),
                    new_run("r2", Some(("k", T0 + 100))),
                ],
                T0,
            )
            .await
            .unwrap();
        assert_eq!(
            created,
            vec![
                RunCreated::New("r1".into()),
                RunCreated::Duplicate("r1".into())
            ]
        );
        let later = store
            .create_runs(&[new_run("r3", Some(("k", T0 + 500)))], T0 + 100)
            .await
            .unwrap();
        assert_eq!(later, vec![RunCreated::New("r3".into())]);
        let runs = store
            .list_runs(&RunFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            vec!["r3", "r1"]
        );
    })
    .await;
}

#[tokio::test]
async fn a_step_completes_once_and_a_stale_lease_is_fenced_off() {
    each_backend(|store| async move {
        store.create_runs(&[new_run("r1", None)], T0).await.unwrap();
        let first = store.claim("a", T0, T0 + 1_000, 10).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].attempt, 1);
        assert!(
            store
                .claim("b", T0, T0 + 1_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "leased steps are not claimed again"
        );

        // The lease expires; worker b takes the step over.
        let second = store.claim("b", T0 + 1_001, T0 + 2_000, 10).await.unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].attempt, 1, "a takeover is not an attempt");
        assert_eq!(second[0].lost_leases, 1);
        assert!(second[0].lease_token > first[0].lease_token);

        let zombie = store
            .complete(&[Completion::new(&first[0], done(vec![]))], T0 + 1_100)
            .await
            .unwrap();
        assert_eq!(zombie, vec![Completed::Fenced]);
        let live = store
            .complete(&[Completion::new(&second[0], done(vec![]))], T0 + 1_200)
            .await
            .unwrap();
        assert_eq!(live, vec![Completed::Recorded(Some(RunStatus::Succeeded))]);
        let again = store
            .complete(&[Completion::new(&second[0], done(vec![]))], T0 + 1_300)
            .await
            .unwrap();
        assert_eq!(
            again,
            vec![Completed::Fenced],
            "a step cannot complete twice"
        );

        let steps = store.run_steps("r1").await.unwrap();
        assert_eq!(
            steps
                .iter()
                .filter(|s| s.state == StepState::Succeeded)
                .count(),
            2
        ); // entry + first
        assert_eq!(
            store.run("r1").await.unwrap().unwrap().status,
            RunStatus::Succeeded
        );
    })
    .await;
}

#[tokio::test]
async fn emitted_events_create_receiver_steps_and_carry_ancestor_outputs() {
    each_backend(|store| async move {
        store.create_runs(&[new_run("r1", None)], T0).await.unwrap();
        let step = store
            .claim("a", T0, T0 + 1_000, 10)
            .await
            .unwrap()
            .remove(0);
        let emitted = vec![
            Emitted {
                link: "default",
                payload: json!({"i": 1}),
                receivers: vec!["second".into(), "third".into()],
            },
            Emitted {
                link: "default",
                payload: json!({"i": 2}),
                receivers: vec!["second".into()],
            },
        ];
        let result = store
            .complete(&[Completion::new(&step, done(emitted))], T0 + 10)
            .await
            .unwrap();
        assert_eq!(result, vec![Completed::Recorded(None)]);
        let next = store.claim("a", T0 + 10, T0 + 1_000, 10).await.unwrap();
        assert_eq!(next.len(), 3);
        let inputs = store.step_inputs(&next).await.unwrap();
        assert_eq!(inputs.len(), 3);
        assert_eq!(
            inputs[2].outputs["first"],
            json!({"i": 2}),
            "each step sees its own event"
        );
        let input = &inputs[0];
        assert_eq!(input.outputs["hook"], json!({"body": {"n": 1}}));
        assert_eq!(input.outputs["first"], json!({"i": 1}));
        assert_eq!(input.run_started_at, T0);
        assert_eq!(
            store.queue_depth().await.unwrap(),
            vec![(StepState::Running, 3)]
        );
        let ends: Vec<_> = next
            .iter()
            .map(|s| Completion::new(s, done(vec![])))
            .collect();
        let results = store.complete(&ends, T0 + 20).await.unwrap();
        assert_eq!(
            results.last(),
            Some(&Completed::Recorded(Some(RunStatus::Succeeded)))
        );
        assert_eq!(store.run_events("r1").await.unwrap().len(), 3);
        assert_eq!(store.next_due().await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn claiming_an_expired_lease_counts_a_lost_lease_and_not_an_attempt() {
    each_backend(|store| async move {
        store.create_runs(&[new_run("r1", None)], T0).await.unwrap();
        let first = store
            .claim("a", T0, T0 + 1_000, 10)
            .await
            .unwrap()
            .remove(0);
        assert_eq!((first.attempt, first.lost_leases), (1, 0));

        // Its worker dies twice: each takeover after the lease expired is a lost lease.
        let second = store
            .claim("b", T0 + 1_000, T0 + 2_000, 10)
            .await
            .unwrap()
            .remove(0);
        assert_eq!((second.attempt, second.lost_leases), (1, 1));
        let third = store
            .claim("c", T0 + 2_000, T0 + 3_000, 10)
            .await
            .unwrap()
            .remove(0);
        assert_eq!((third.attempt, third.lost_leases), (1, 2));
        let steps = store.run_steps("r1").await.unwrap();
        let step = steps.iter().find(|s| s.id == first.id).unwrap();
        assert_eq!((step.attempt, step.lost_leases), (1, 2));

        // A retry is a real attempt; the lost leases are kept.
        let retry = StepEnd::Retry {
            due_at: T0 + 5_000,
            error: json!({"class": "retriable"}),
        };
        store
            .complete(&[Completion::new(&third, retry)], T0 + 2_500)
            .await
            .unwrap();
        let retried = store
            .claim("c", T0 + 5_000, T0 + 6_000, 10)
            .await
            .unwrap()
            .remove(0);
        assert_eq!((retried.attempt, retried.lost_leases), (2, 2));

        // A woken step taken over after its lease expired counts a lost lease too.
        let wait = StepEnd::Wait {
            due_at: T0 + 10_000,
            wait: Wait::Delay,
        };
        store
            .complete(&[Completion::new(&retried, wait)], T0 + 5_500)
            .await
            .unwrap();
        let woken = store
            .claim("c", T0 + 10_000, T0 + 11_000, 10)
            .await
            .unwrap()
            .remove(0);
        assert_eq!((woken.attempt, woken.lost_leases), (2, 2));
        let taken_over = store
            .claim("d", T0 + 11_000, T0 + 12_000, 10)
            .await
            .unwrap()
            .remove(0);
        assert_eq!((taken_over.attempt, taken_over.lost_leases), (2, 3));
        assert_eq!(taken_over.wait, Some(Wait::Delay));
    })
    .await;
}

#[tokio::test]
async fn retries_and_waits_come_back_when_due_and_waiting_runs_say_so() {
    each_backend(|store| async move {
        store.create_runs(&[new_run("r1", None)], T0).await.unwrap();
        let step = store
            .claim("a", T0, T0 + 1_000, 10)
            .await
            .unwrap()
            .remove(0);
        let retry = StepEnd::Retry {
            due_at: T0 + 5_000,
            error: json!({"class": "retriable"}),
        };
        store
            .complete(&[Completion::new(&step, retry)], T0 + 1)
            .await
            .unwrap();
        assert!(store
            .claim("a", T0 + 4_999, T0 + 9_000, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.next_due().await.unwrap(), Some(T0 + 5_000));
        let step = store
            .claim("a", T0 + 5_000, T0 + 9_000, 10)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(step.attempt, 2);
        assert_eq!(step.wait, None);

        let wait = StepEnd::Wait {
            due_at: T0 + 60_000,
            wait: Wait::Delay,
        };
        store
            .complete(&[Completion::new(&step, wait)], T0 + 5_001)
            .await
            .unwrap();
        assert_eq!(
            store.run("r1").await.unwrap().unwrap().status,
            RunStatus::Waiting
        );
        let woken = store
            .claim("a", T0 + 60_000, T0 + 61_000, 10)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(woken.wait, Some(Wait::Delay));
        assert_eq!(woken.attempt, 2, "a wake-up is not an attempt");
    })
    .await;
}

#[tokio::test]
async fn retries_and_woken_waits_are_claimed_ahead_of_older_due_steps() {
    each_backend(|store| async move {
        store
            .create_runs(&[new_run("timer", None)], T0)
            .await
            .unwrap();
        store
            .create_runs(&[new_run("retry", None)], T0)
            .await
            .unwrap();
        let first = store.claim("a", T0, T0 + 1_000, 10).await.unwrap();
        let step_of = |run: &str| first.iter().find(|s| s.run_id == run).unwrap().clone();
        let delay = StepEnd::Wait {
            due_at: T0 + 5_000,
            wait: Wait::Delay,
        };
        let retry = StepEnd::Retry {
            due_at: T0 + 5_000,
            error: json!({"class": "retriable"}),
        };
        store
            .complete(
                &[
                    Completion::new(&step_of("timer"), delay),
                    Completion::new(&step_of("retry"), retry),
                ],
                T0 + 1,
            )
            .await
            .unwrap();
        // A backlog that fell due before both: first steps created at T0 + 2.
        let backlog: Vec<NewRun> = (0..5)
            .map(|n| new_run(&format!("backlog-{n}"), None))
            .collect();
        store.create_runs(&backlog, T0 + 2).await.unwrap();

        let claimed = store.claim("b", T0 + 5_000, T0 + 9_000, 2).await.unwrap();
        let mut runs: Vec<&str> = claimed.iter().map(|s| s.run_id.as_str()).collect();
        runs.sort_unstable();
        assert_eq!(
            runs,
            ["retry", "timer"],
            "timed steps first, then the backlog"
        );
        let rest = store.claim("b", T0 + 5_000, T0 + 9_000, 10).await.unwrap();
        assert_eq!(rest.len(), 5, "then the backlog");
        assert!(rest.iter().all(|s| s.run_id.starts_with("backlog-")));
    })
    .await;
}

#[tokio::test]
async fn action_state_is_compare_and_set_with_the_completion() {
    each_backend(|store| async move {
        store
            .create_runs(&[new_run("r1", None), new_run("r2", None)], T0)
            .await
            .unwrap();
        let steps = store.claim("a", T0, T0 + 1_000, 10).await.unwrap();
        let write = |expected: Option<&str>, new: &str| StateWrite {
            story_id: "story".into(),
            action_id: "first".into(),
            key: "".into(),
            expected: expected.map(str::to_owned),
            new: new.to_owned(),
        };
        let mut a = Completion::new(&steps[0], done(vec![]));
        a.state_write = Some(write(None, "1"));
        let mut b = Completion::new(&steps[1], done(vec![]));
        b.state_write = Some(write(None, "1"));
        let results = store.complete(&[a, b], T0 + 1).await.unwrap();
        assert_eq!(results[0], Completed::Recorded(Some(RunStatus::Succeeded)));
        assert_eq!(
            results[1],
            Completed::StateConflict,
            "both read no state; only one may write"
        );
        assert_eq!(
            store.run("r2").await.unwrap().unwrap().status,
            RunStatus::Running,
            "nothing of the conflicting completion was kept"
        );
        let mut b = Completion::new(&steps[1], done(vec![]));
        b.state_write = Some(write(Some("1"), "2"));
        assert_eq!(
            store.complete(&[b], T0 + 2).await.unwrap(),
            vec![Completed::Recorded(Some(RunStatus::Succeeded))]
        );
        assert_eq!(
            store
                .action_state("story", "first", "")
                .await
                .unwrap()
                .as_deref(),
            Some("2")
        );
    })
    .await;
}

#[tokio::test]
async fn leases_are_extended_only_while_held_and_versions_are_kept() {
    each_backend(|store| async move {
        store.create_runs(&[new_run("r1", None)], T0).await.unwrap();
        let step = store
            .claim("a", T0, T0 + 1_000, 10)
            .await
            .unwrap()
            .remove(0);
        assert!(store
            .extend_leases(&[(step.id, step.lease_token)], T0 + 5_000)
            .await
            .unwrap()
            .is_empty());
        assert!(
            store
                .claim("b", T0 + 2_000, T0 + 3_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "the extended lease holds"
        );
        let lost = store
            .extend_leases(&[(step.id, step.lease_token + 7)], T0 + 9_000)
            .await
            .unwrap();
        assert_eq!(lost, vec![step.id]);

        store
            .save_version("story", "v1", "name: x", &json!({"a/b": "src"}), T0)
            .await
            .unwrap();
        store
            .save_version("story", "v1", "name: changed?", &json!({}), T0)
            .await
            .unwrap();
        let (source, templates) = store.load_version("story", "v1").await.unwrap().unwrap();
        assert_eq!(source, "name: x", "a version never changes once saved");
        assert_eq!(templates, json!({"a/b": "src"}));
        assert!(store.load_version("story", "v2").await.unwrap().is_none());
    })
    .await;
}
