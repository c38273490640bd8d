//! Operating on runs at the store: a retry is recorded once even when two race, and a
//! cancellation fences out the completion of a step that was executing.

use super::{each_backend, new_run, T0};
use warden::run::{RunStatus, StepEnd, StepState};
use warden::store::{Completed, Completion, Operations, Queue, Retried, Runs};

fn failed() -> StepEnd {
    StepEnd::Done {
        state: StepState::Failed,
        error: Some(serde_json::json!({"message": "boom"})),
        emitted: Vec::new(),
        unhandled_failure: true,
    }
}

#[tokio::test]
async fn two_retries_racing_record_one() {
    each_backend(|store| async move {
        store.create_runs(&[new_run("r", None)], T0).await.unwrap();
        let claimed = store.claim("w", T0, T0 + 1_000, 10).await.unwrap();
        let completion = Completion::new(&claimed[0], failed());
        store.complete(&[completion], T0).await.unwrap();
        let run = store.run("r").await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Failed);

        let step = claimed[0].id;
        let (a, b) = tokio::join!(
            store.retry_step("r", step, "api", T0 + 1),
            store.retry_step("r", step, "dev", T0 + 1)
        );
        let results = [a.unwrap(), b.unwrap()];
        let new: Vec<i64> = results
            .iter()
            .filter_map(|r| match r {
                Retried::New(step) => Some(step.id),
                _ => None,
            })
            .collect();
        assert_eq!(new.len(), 1, "{results:?}");
        assert!(
            results.contains(&Retried::AlreadyRetried(new[0])),
            "{results:?}"
        );
        let run = store.run("r").await.unwrap().unwrap();
        assert_eq!((run.status, run.finished_at), (RunStatus::Running, None));
        assert_eq!(store.run_history("r").await.unwrap().len(), 1);

        // The retry runs and succeeds: the run ends succeeded, its failure taken back.
        let claimed = store.claim("w", T0 + 1, T0 + 1_000, 10).await.unwrap();
        assert_eq!(claimed.iter().map(|s| s.id).collect::<Vec<_>>(), new);
        let succeeded = StepEnd::Done {
            state: StepState::Succeeded,
            error: None,
            emitted: Vec::new(),
            unhandled_failure: false,
        };
        let completion = Completion::new(&claimed[0], succeeded);
        let result = store.complete(&[completion], T0 + 2).await.unwrap();
        assert_eq!(result, [Completed::Recorded(Some(RunStatus::Succeeded))]);
    })
    .await;
}

#[tokio::test]
async fn a_cancel_fences_out_the_step_executing() {
    each_backend(|store| async move {
        store.create_runs(&[new_run("r", None)], T0).await.unwrap();
        let claimed = store.claim("w", T0, T0 + 1_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        store.cancel_run("r", "api", T0 + 1).await.unwrap();

        let end = StepEnd::Done {
            state: StepState::Succeeded,
            error: None,
            emitted: vec![warden::run::Emitted {
                link: "default",
                payload: serde_json::json!({}),
                receivers: vec!["next".into()],
            }],
            unhandled_failure: false,
        };
        let result = store
            .complete(&[Completion::new(&claimed[0], end)], T0 + 2)
            .await
            .unwrap();
        assert_eq!(result, [Completed::Fenced]);
        let steps = store.run_steps("r").await.unwrap();
        assert_eq!(
            steps.len(),
            2,
            "the entry step and the cancelled one: {steps:?}"
        );
        assert_eq!(steps[1].state, StepState::Cancelled);
        assert!(store
            .claim("w", T0 + 5_000, T0 + 6_000, 10)
            .await
            .unwrap()
            .is_empty());
        let run = store.run("r").await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Cancelled);
    })
    .await;
}
