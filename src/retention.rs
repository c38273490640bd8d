//! Retention: the background sweep that deletes finished runs and rule matches past their age
//! (`Settings::retention`), in small batches with a pause between them, so neither the runner
//! nor ingest waits on the database for long (on SQLite they share its one writer).

use crate::engine::Engine;
use crate::run::{millis, Millis};
use crate::shutdown;
use crate::store::{self, Retention as _};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long finished runs and rule matches are kept by default: 30 days. Never lower this
/// below [`MINIMUM_ADVISED`]: the shipped Bypass-MFA scheduled query counts four weeks of stored
/// matches.
pub const DEFAULT_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Four weeks: what the scheduled queries shipped in `rules/` read back; a shorter retention is
/// allowed (with a WARN at start) but makes them miss matches.
pub const MINIMUM_ADVISED: Duration = Duration::from_secs(28 * 24 * 3600);

/// How the sweep runs.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Runs that finished, and matches whose event time is, longer ago than this are deleted.
    pub age: Duration,
    /// Time between sweeps (the first comes one interval after start).
    pub interval: Duration,
    /// Runs (or matches) per transaction.
    pub batch: usize,
    /// Pause between two batches, leaving the writer to the runner and ingest.
    pub pause: Duration,
}

impl Policy {
    /// Keeps everything for `age`; hourly sweeps of 500 rows per transaction, 100 ms apart.
    pub fn new(age: Duration) -> Policy {
        Policy {
            age,
            interval: Duration::from_secs(3600),
            batch: 500,
            pause: Duration::from_millis(100),
        }
    }
}

/// What one sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Finished runs (with their steps, events, prompts and prompt links).
    pub runs: u64,
    /// Rule matches.
    pub matches: u64,
}

/// The instant before which finished runs and matches are deleted, at `now`.
pub fn cutoff(now: Millis, age: Duration) -> Millis {
    now.saturating_sub(millis(age))
}

/// The sweeper: the engine's store, clock and metrics, and a [`Policy`].
pub struct Pruner {
    engine: Arc<Engine>,
    policy: Policy,
}

impl Pruner {
    /// A sweeper over the engine's store.
    pub fn new(engine: Arc<Engine>, policy: Policy) -> Pruner {
        Pruner { engine, policy }
    }

    /// Sweeps every `interval` until `shutdown`; a failed sweep is logged and tried again at the
    /// next one.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        while shutdown::wait(&shutdown, self.policy.interval).await {
            if let Err(error) = self.sweep(&shutdown).await {
                tracing::warn!(error = %crate::escape::Escaped(&error), "A retention sweep failed; it runs again at the next interval.");
            }
        }
    }

    /// Deletes everything past its age, batch by batch, until a batch comes back short or
    /// `shutdown` is set; counts and logs what went.
    pub async fn sweep(&self, shutdown: &watch::Receiver<bool>) -> store::Result<Pruned> {
        let store = &self.engine.store;
        let (age, batch) = (self.policy.age, self.policy.batch.max(1));
        let mut pruned = Pruned::default();
        loop {
            let now = self.engine.clock.now();
            let runs = store.prune_runs(cutoff(now, age), now, batch).await?;
            pruned.runs += runs;
            self.engine.metrics.pruned(runs, 0);
            if runs < batch as u64 || !shutdown::wait(shutdown, self.policy.pause).await {
                break;
            }
        }
        loop {
            let now = self.engine.clock.now();
            let matches = store.prune_matches(cutoff(now, age), batch).await?;
            pruned.matches += matches;
            self.engine.metrics.pruned(0, matches);
            if matches < batch as u64 || !shutdown::wait(shutdown, self.policy.pause).await {
                break;
            }
        }
        if pruned != Pruned::default() {
            tracing::info!(
                runs = pruned.runs,
                matches = pruned.matches,
                retention_days = age.as_secs() / 86_400,
                "Pruned finished runs and rule matches past retention."
            );
        }
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_the_age_before_now() {
        let day = 86_400_000;
        assert_eq!(cutoff(40 * day, Duration::from_secs(30 * 86_400)), 10 * day);
    }

    #[test]
    fn the_default_keeps_the_four_weeks_threshold_queries_read() {
        assert!(DEFAULT_AGE >= MINIMUM_ADVISED);
    }
}
