//! Payload search's indexer: the background task that moves queued entry events into the search
//! index (migration 0010, [`store::SearchIndex`]) in small batches, after their webhooks were
//! acknowledged, so a webhook pays for queueing its entry event and not for indexing it.
//!
//! Indexing is work the database would otherwise give to webhooks and the runner, and nothing
//! waits for it: searches read the queue too, so they are exact whatever the indexer's lag, only
//! slower the longer the queue. So the indexer yields. While entry events arrive faster than
//! [`Policy::busy_rate`], or this process's runner finishes steps faster than
//! [`Policy::busy_steps`], it waits for the burst to pass, unless the queue has grown to
//! [`Policy::backlog`]; and it rests after each batch, so it never takes more than a share of the
//! database's time ([`Policy::rest`]).

use crate::engine::Engine;
use crate::run::StepState;
use crate::shutdown;
use crate::store::{self, Dialect, SearchIndex as _, SearchQueue};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How the indexer runs.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Time between two looks at the queue.
    pub interval: Duration,
    /// Entry events per transaction.
    pub batch: usize,
    /// After each full batch the indexer rests this many times as long as the batch took (and at
    /// least `pause`), so it takes at most `1 / (1 + rest)` of the database's time.
    pub rest: u32,
    /// The shortest rest between two batches.
    pub pause: Duration,
    /// Entry events arriving faster than this many a second are a burst: the indexer waits.
    pub busy_rate: u64,
    /// This process's runner finishing steps faster than this many a second is busy too.
    pub busy_steps: u64,
    /// Queued entry events from which the indexer works through a burst all the same, so a
    /// search never scans more than about this many entry events one by one.
    pub backlog: u64,
}

impl Policy {
    /// A look every 250 ms; batches of 32 entry events on SQLite (a millisecond or two of its
    /// one writer, then a merge step of a few), 50 on Postgres; at most a fifth of the time;
    /// it waits while runs arrive faster than 100 a second or the runner finishes more than 200
    /// steps a second, up to 10,000 queued entry events.
    pub fn new(dialect: Dialect) -> Policy {
        Policy {
            interval: Duration::from_millis(250),
            batch: match dialect {
                Dialect::Sqlite => 32,
                Dialect::Postgres => 50,
            },
            rest: 4,
            pause: Duration::from_millis(10),
            busy_rate: 100,
            busy_steps: 200,
            backlog: 10_000,
        }
    }

    /// Whether to index now, given the queue (with how many of its entry events arrived) and how
    /// many steps this process's runner finished, both over `over`: something is queued, and
    /// neither comes faster than its busy rate, or the queue has reached `backlog`.
    pub fn should_index(&self, queue: &SearchQueue, steps: u64, over: Duration) -> bool {
        let secs = over.as_secs_f64();
        let busy = queue.arrived as f64 > self.busy_rate as f64 * secs
            || steps as f64 > self.busy_steps as f64 * secs;
        queue.queued > 0 && (!busy || queue.queued >= self.backlog)
    }
}

/// What the indexer saw at its previous look.
#[derive(Debug, Clone, Copy)]
struct Look {
    /// When.
    at: Instant,
    /// The newest queued entry event's id (0 when none was queued yet).
    newest: i64,
    /// Steps this process's runner had finished.
    steps: u64,
}

/// Entry events indexed in one catch-up after which the queue's statistics are refreshed.
pub const STATISTICS_AFTER: u64 = 1000;

/// The indexer: the engine's store and the [`Policy`] for its database.
pub struct Indexer {
    engine: Arc<Engine>,
    policy: Policy,
}

impl Indexer {
    /// An indexer over the engine's store.
    pub fn new(engine: Arc<Engine>) -> Indexer {
        let policy = Policy::new(engine.store.dialect());
        Indexer { engine, policy }
    }

    /// Looks at the queue every `interval` and indexes when [`Policy::should_index`] says so,
    /// until `shutdown`; a failure is logged and tried again at the next look. The first look
    /// only marks where arrivals and steps are counted from.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let mut last = None;
        while shutdown::wait(&shutdown, self.policy.interval).await {
            if let Err(error) = self.work(&mut last, &shutdown).await {
                tracing::warn!(error = %crate::escape::Escaped(&error), "Indexing entry events for payload search failed; it is tried again shortly.");
            }
        }
    }

    /// One look: batches, each followed by its rest, for as long as the policy says to index.
    async fn work(
        &self,
        last: &mut Option<Look>,
        shutdown: &watch::Receiver<bool>,
    ) -> store::Result<()> {
        let store = &self.engine.store;
        let mut indexed = 0;
        loop {
            let queue = store.search_queue(last.map(|l| l.newest)).await?;
            let now = Look {
                at: Instant::now(),
                newest: queue.newest.or(last.map(|l| l.newest)).unwrap_or(0),
                steps: self.steps_finished(),
            };
            let go = last.is_some_and(|last| {
                let steps = now.steps.saturating_sub(last.steps);
                self.policy
                    .should_index(&queue, steps, now.at.duration_since(last.at))
            });
            *last = Some(now);
            if !go {
                break;
            }
            let started = Instant::now();
            let taken = store.index_queued_entries(self.policy.batch.max(1)).await?;
            indexed += taken as u64;
            if taken < self.policy.batch {
                break;
            }
            let rest = started.elapsed() * self.policy.rest;
            if !shutdown::wait(shutdown, rest.max(self.policy.pause)).await {
                break;
            }
        }
        if indexed >= STATISTICS_AFTER {
            store.analyze_queue().await?;
        }
        Ok(())
    }

    /// Steps this process's runner has finished, in any state.
    fn steps_finished(&self) -> u64 {
        let metrics = &self.engine.metrics;
        StepState::ALL.iter().map(|s| metrics.finished(*s)).sum()
    }

    /// Indexes everything queued, batch after batch without rest (the bench does this after
    /// seeding, with nothing else running); returns how many entry events were indexed.
    pub async fn catch_up(&self) -> store::Result<u64> {
        let store = &self.engine.store;
        let batch = self.policy.batch.max(1);
        let mut indexed = 0;
        loop {
            let taken = store.index_queued_entries(batch).await?;
            indexed += taken as u64;
            if taken < batch {
                break;
            }
        }
        if indexed >= STATISTICS_AFTER {
            store.analyze_queue().await?;
        }
        Ok(indexed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(queued: u64, arrived: u64) -> SearchQueue {
        SearchQueue {
            queued,
            newest: Some(1),
            arrived,
        }
    }

    #[test]
    fn the_indexer_waits_out_a_burst_until_the_backlog_is_reached() {
        let policy = Policy::new(Dialect::Sqlite);
        let quarter = Duration::from_millis(250);
        assert!(
            !policy.should_index(&queue(0, 0), 0, quarter),
            "nothing queued"
        );
        assert!(
            policy.should_index(&queue(40, 20), 0, quarter),
            "80 runs a second"
        );
        assert!(
            !policy.should_index(&queue(400, 125), 0, quarter),
            "500 runs a second"
        );
        assert!(
            !policy.should_index(&queue(400, 0), 100, quarter),
            "400 steps a second"
        );
        assert!(
            policy.should_index(&queue(400, 0), 25, quarter),
            "100 steps a second"
        );
        assert!(
            policy.should_index(&queue(10_000, 125), 100, quarter),
            "backlog reached"
        );
        let two = Duration::from_secs(2);
        assert!(
            policy.should_index(&queue(400, 125), 0, two),
            "62 runs a second"
        );
    }
}
