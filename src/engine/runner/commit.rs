//! Committing step results: completions queue to committer tasks that commit whatever
//! queued while the last transaction ran (group commit), and each step waits for its verdict.

use crate::actions::Effects;
use crate::engine::Engine;
use crate::escape::Escaped;
use crate::run::StepEnd;
use crate::store::{ClaimedStep, Completed, Completion, Queue};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

type Reply = oneshot::Sender<Result<Completed, String>>;

/// The committer tasks. SQLite has one writer, so one committer; Postgres commits in parallel
/// transactions. A run always goes to the same committer, so its completions stay in order.
#[derive(Clone)]
pub(super) struct Committers(Arc<[mpsc::Sender<(Completion, Reply)>]>);

impl Committers {
    pub(super) fn start(engine: &Arc<Engine>) -> Committers {
        let count = engine.store.dialect().parallel_writers();
        let senders: Vec<_> = (0..count)
            .map(|_| {
                let (sender, queue) = mpsc::channel(4096);
                tokio::spawn(commit_batches(engine.clone(), queue));
                sender
            })
            .collect();
        Committers(senders.into())
    }

    pub(super) fn for_run(&self, run_id: &str) -> &mpsc::Sender<(Completion, Reply)> {
        let hash = run_id.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        &self.0[hash % self.0.len()]
    }
}

/// Commits completions in batches: whatever queued while the last transaction ran goes into the
/// next one, so many steps share one commit (and one fsync).
async fn commit_batches(engine: Arc<Engine>, mut queue: mpsc::Receiver<(Completion, Reply)>) {
    const MAX_BATCH: usize = 256;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Every process locks runs (and then steps) in the same order, so concurrent batches on
        // Postgres queue behind each other instead of deadlocking.
        batch.sort_by(|(a, _), (b, _)| (&a.run_id, a.step_id).cmp(&(&b.run_id, b.step_id)));
        let (completions, replies): (Vec<Completion>, Vec<Reply>) = batch.drain(..).unzip();
        let mut outcome = engine
            .store
            .complete(&completions, engine.clock.now())
            .await;
        for _ in 0..5 {
            match &outcome {
                Err(error) if error.is_transient() => {
                    tracing::warn!(error = %Escaped(&error), "Commit conflicted with another transaction; retrying.");
                    tokio::time::sleep(Duration::from_millis(5 + fastrand::u64(0..20))).await;
                    outcome = engine
                        .store
                        .complete(&completions, engine.clock.now())
                        .await;
                }
                _ => break,
            }
        }
        match outcome {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(Ok(result));
                }
            }
            Err(error) if completions.len() > 1 => {
                // One bad completion must not sink its neighbours: commit each on its own.
                tracing::warn!(error = %Escaped(&error), steps = completions.len(), "A batch commit failed; committing its steps one by one.");
                for (completion, reply) in completions.iter().zip(replies) {
                    let result = engine
                        .store
                        .complete(std::slice::from_ref(completion), engine.clock.now())
                        .await;
                    let _ = reply.send(match result {
                        Ok(mut results) => results.pop().ok_or_else(|| "no result".to_owned()),
                        Err(error) => {
                            tracing::error!(error = %Escaped(&error), step_id = completion.step_id, "Committing a step's result failed; it will run again.");
                            Err(error.to_string())
                        }
                    });
                }
            }
            Err(error) => {
                tracing::error!(error = %Escaped(&error), "Committing a step's result failed; it will run again.");
                for reply in replies {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
        }
        engine.wake.notify_one();
    }
}

/// Hands a step's end to the committer and waits for the verdict; `None` when the commit failed
/// (the step keeps its lease and runs again after it expires).
pub(super) async fn commit(
    commits: &Committers,
    step: &ClaimedStep,
    end: StepEnd,
    effects: Effects,
) -> Option<Completed> {
    let completion = Completion {
        state_write: effects.state_write,
        start_runs: effects.start_runs,
        wake_steps: effects.wake_steps,
        missing_data: effects.missing_data,
        ..Completion::new(step, end)
    };
    let (reply, answer) = oneshot::channel();
    commits
        .for_run(&step.run_id)
        .send((completion, reply))
        .await
        .ok()?;
    answer.await.ok()?.ok()
}
