//! The imperative shell: claim due steps, execute them concurrently, commit their results in
//! batches (group commit), keep leases alive, sleep until the next due step or a wake-up.
//!
//! Invariants: a step's result is recorded only under the lease it was claimed with (fencing);
//! its events, state and receivers' steps commit in one transaction; side effects happen before
//! that commit, so an outbound call is at-least-once and carries a stable idempotency key.

mod commit;
mod step;

use super::Engine;
use crate::escape::Escaped;
use crate::run::{millis, new_run_id};
use crate::store::{ClaimedStep, Dialect, Queue, WorkerLock};
use commit::Committers;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use step::process;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// Runner tuning.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// This worker's name in leases.
    pub owner: String,
    /// How long a claim lasts before others may take the step; renewed while it runs.
    pub lease: Duration,
    /// Steps executing at once.
    pub max_in_flight: usize,
    /// Steps claimed per statement.
    pub claim_batch: u32,
    /// How long shutdown waits for in-flight steps before leaving them to lease expiry.
    pub drain_timeout: Duration,
    /// How many times a step may be lost with its worker (its lease expired while it ran) before
    /// it fails with class `poisoned` instead of running again. Lost leases are counted apart
    /// from the action's attempts, so a crash never spends its retry budget.
    pub poison_limit: u32,
}

/// Steps executing at once by default. Most steps wait on a vendor or the database, so many in
/// flight keep both busy: on `warden bench runner` (2 cores), 256 drained 1.2–1.6× faster than
/// 64 on both backends.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            owner: format!("worker-{}", new_run_id()),
            lease: Duration::from_secs(30),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            claim_batch: 64,
            drain_timeout: Duration::from_secs(30),
            poison_limit: 20,
        }
    }
}

/// How often a Postgres runner looks for workers that died (their liveness lock released) to take
/// their steps over; an idle runner sleeps at most this long. Recovery after a crash takes about
/// this long, whatever the lease.
const REAP_EVERY: Duration = Duration::from_secs(1);

/// This runner's liveness: registered at its first claim, held until it is dropped.
#[derive(Default)]
struct Liveness {
    lock: Option<WorkerLock>,
    last_reap: Option<Instant>,
}

/// Claims, executes and commits steps.
pub struct Runner {
    engine: Arc<Engine>,
    config: RunnerConfig,
    commits: Committers,
    in_flight: Arc<Semaphore>,
    leases: Arc<Mutex<HashMap<i64, i64>>>,
    liveness: tokio::sync::Mutex<Liveness>,
}

impl Runner {
    /// A runner with its committer task started.
    pub fn new(engine: Arc<Engine>, config: RunnerConfig) -> Runner {
        let commits = Committers::start(&engine);
        Runner {
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            engine,
            config,
            commits,
            leases: Arc::default(),
            liveness: tokio::sync::Mutex::default(),
        }
    }

    /// Claims the steps due now and runs them to their next commit; returns how many it ran.
    /// Tests call this (or [`Runner::run_until_idle`]) instead of [`Runner::run`].
    pub async fn run_once(&self) -> Result<usize, crate::store::Error> {
        let limit = self
            .config
            .claim_batch
            .min(self.config.max_in_flight as u32);
        let steps = self.claim(limit).await?;
        let count = steps.len();
        if count > 0 {
            if let Some(batch) = self.batch(steps).await {
                batch.await;
            }
        }
        Ok(count)
    }

    /// Runs due steps until none is due at the clock's current time.
    pub async fn run_until_idle(&self) -> Result<usize, crate::store::Error> {
        let mut total = 0;
        loop {
            let ran = self.run_once().await?;
            if ran == 0 {
                return Ok(total);
            }
            total += ran;
        }
    }

    async fn claim(&self, limit: u32) -> Result<Vec<ClaimedStep>, crate::store::Error> {
        self.find_dead_workers().await?;
        let now = self.engine.clock.now();
        let lease_until = now.saturating_add(millis(self.config.lease));
        self.engine
            .store
            .claim(&self.config.owner, now, lease_until, limit)
            .await
    }

    /// Registers this worker as alive (first call), and on Postgres at most every [`REAP_EVERY`]
    /// makes the steps of dead workers due, so they are taken over now rather than after their
    /// lease (the claim still counts a lost lease and bumps the fencing token).
    async fn find_dead_workers(&self) -> Result<(), crate::store::Error> {
        let mut liveness = self.liveness.lock().await;
        let store = &self.engine.store;
        let due = liveness
            .last_reap
            .is_none_or(|at| at.elapsed() >= REAP_EVERY);
        let mut lost = false;
        if let (true, Some(lock)) = (due, liveness.lock.as_mut()) {
            lost = !lock.is_alive().await;
        }
        if lost {
            tracing::warn!(owner = %self.config.owner, "The liveness lock's connection dropped; registering again.");
            liveness.lock = None;
        }
        if liveness.lock.is_none() {
            let now = self.engine.clock.now();
            liveness.lock = Some(store.register_worker(&self.config.owner, now).await?);
            liveness.last_reap = Some(Instant::now());
        } else if due {
            store.reap_dead_workers(self.engine.clock.now()).await?;
            liveness.last_reap = Some(Instant::now());
        }
        Ok(())
    }

    /// The longest an idle runner sleeps: on Postgres, until its next look for dead workers.
    fn max_sleep(&self) -> Duration {
        match self.engine.store.dialect() {
            Dialect::Postgres => REAP_EVERY,
            Dialect::Sqlite => Duration::from_secs(5),
        }
    }

    /// Runs until `shutdown` turns true, then stops claiming and drains in-flight steps.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut listener = match self.engine.store.listen().await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(error = %Escaped(&error), "Could not listen for wake-ups; polling every second.");
                None
            }
        };
        let heartbeat = tokio::spawn(renew_leases(
            self.engine.clone(),
            self.leases.clone(),
            self.config.lease,
        ));
        let mut tasks = JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            let free = self
                .in_flight
                .available_permits()
                .min(self.config.claim_batch as usize);
            // Under load, wait until a quarter of a batch is free rather than claiming a step or
            // two per statement.
            let batchy = tasks.is_empty() || free >= (self.config.claim_batch as usize / 4).max(1);
            let mut claimed = 0;
            if free > 0 && batchy {
                match self.claim(free as u32).await {
                    Ok(steps) if steps.is_empty() => {}
                    Ok(steps) => {
                        claimed = steps.len();
                        // Only this loop takes permits, and it claimed no more than were free.
                        let Some(batch) = self.batch(steps).await else {
                            break;
                        };
                        // The batch reads its inputs in its own task, so the next claim need
                        // not wait for that read.
                        tasks.spawn(batch);
                    }
                    Err(error) => {
                        tracing::error!(error = %Escaped(&error), "Claiming steps failed; retrying in a second.");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            if claimed == free && free > 0 {
                continue;
            }
            // With steps in flight, their completions bring the next work (and wake us); only an
            // idle runner needs to know when the next timer or lease falls due.
            // Steps just claimed (or many in flight) wake us when they finish; only a claim that
            // found nothing due needs the next timer or lease expiry to know how long to sleep.
            let sleep = if batchy && claimed == 0 {
                self.idle_wait().await.min(self.max_sleep())
            } else {
                self.max_sleep()
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.engine.wake.notified() => {}
                _ = wait_listener(&mut listener) => {}
                _ = tasks.join_next(), if !tasks.is_empty() => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!(in_flight = tasks.len(), "Draining in-flight steps.");
        let drained = tokio::time::timeout(self.config.drain_timeout, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = tasks.len(),
                "Shutdown timed out; unfinished steps will be re-claimed when their lease expires."
            );
        }
        heartbeat.abort();
    }

    /// A claimed batch ready to run: a permit taken for each step and its lease tracked for
    /// renewal. `None` when the permits' semaphore is closed.
    async fn batch(
        &self,
        steps: Vec<ClaimedStep>,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let permits = self
            .in_flight
            .clone()
            .acquire_many_owned(steps.len() as u32)
            .await
            .ok()?;
        for step in &steps {
            self.track(step);
        }
        Some(run_batch(
            self.engine.clone(),
            self.commits.clone(),
            self.leases.clone(),
            self.config.poison_limit,
            steps,
            permits,
        ))
    }

    fn track(&self, step: &ClaimedStep) {
        if let Ok(mut leases) = self.leases.lock() {
            leases.insert(step.id, step.lease_token);
        }
    }

    /// How long to sleep when nothing is due: until the next due step, at most 5 s (a safety net
    /// for clock skew between processes; wake-ups normally come first).
    async fn idle_wait(&self) -> Duration {
        match self.engine.store.next_due().await {
            Ok(Some(due)) => {
                let now = self.engine.clock.now();
                Duration::from_millis(u64::try_from(due - now).unwrap_or(0).clamp(1, 5_000))
            }
            Ok(None) => Duration::from_secs(5),
            Err(error) => {
                tracing::error!(error = %Escaped(&error), "Reading the next due time failed.");
                Duration::from_secs(1)
            }
        }
    }
}

/// Runs a claimed batch: its inputs read in one query (on failure each step reads its own), then
/// each step in a task of its own, which frees its permit and forgets its lease when it ends.
async fn run_batch(
    engine: Arc<Engine>,
    commits: Committers,
    leases: Arc<Mutex<HashMap<i64, i64>>>,
    poison_limit: u32,
    steps: Vec<ClaimedStep>,
    mut permits: OwnedSemaphorePermit,
) {
    let inputs = match engine.store.step_inputs(&steps).await {
        Ok(inputs) => inputs.into_iter().map(Some).collect(),
        Err(error) => {
            tracing::warn!(error = %Escaped(&error), "Reading step inputs failed.");
            vec![None; steps.len()]
        }
    };
    let mut running = JoinSet::new();
    for (step, input) in steps.into_iter().zip(inputs) {
        let permit = permits.split(1);
        let (engine, commits, leases) = (engine.clone(), commits.clone(), leases.clone());
        running.spawn(async move {
            let (id, token) = (step.id, step.lease_token);
            // Boxed: the step's future is large, and tokio would otherwise copy it on spawn.
            Box::pin(process(engine, commits, step, input, poison_limit)).await;
            if let Ok(mut leases) = leases.lock() {
                // A newer claim of the same step keeps its entry.
                if leases.get(&id) == Some(&token) {
                    leases.remove(&id);
                }
            }
            drop(permit);
        });
    }
    while running.join_next().await.is_some() {}
}

async fn wait_listener(listener: &mut Option<crate::store::postgres::WakeListener>) {
    match listener {
        Some(listener) => {
            if let Err(error) = listener.wait().await {
                tracing::warn!(error = %Escaped(&error), "The wake-up listener failed; reconnecting.");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        None => std::future::pending().await,
    }
}

/// Extends the leases of steps still executing, a third of the way through each lease.
async fn renew_leases(engine: Arc<Engine>, leases: Arc<Mutex<HashMap<i64, i64>>>, lease: Duration) {
    let mut tick = tokio::time::interval(lease / 3);
    loop {
        tick.tick().await;
        let held: Vec<(i64, i64)> = match leases.lock() {
            Ok(leases) => leases.iter().map(|(k, v)| (*k, *v)).collect(),
            Err(_) => continue,
        };
        let until = engine.clock.now().saturating_add(millis(lease));
        match engine.store.extend_leases(&held, until).await {
            Ok(mut lost) => {
                // A step that committed meanwhile is no longer running, but not lost.
                if let Ok(leases) = leases.lock() {
                    lost.retain(|id| leases.contains_key(id));
                }
                if !lost.is_empty() {
                    tracing::warn!(steps = ?lost, "Leases lost; their results will be discarded.");
                }
            }
            Err(error) => tracing::error!(error = %Escaped(&error), "Renewing leases failed."),
        }
    }
}
