//! Payload search's indexer: the background task that moves queued entry events into the search
//! index (migration 0010, [`store::SearchIndex`]) in small batches, after their webhooks were
//! acknowledged, so a webhook pays for queueing its entry event and not for indexing it.
//!
//! Indexing is work the database would otherwise give to webhooks and the runner, and nothing
//! waits for it: searches read the queue too, so they are exact whatever the indexer's lag, only
//! slower the longer the queue. So the indexer yields. While entry events arrive faster than
//! [`Policy::busy_rate`] it waits for the burst to pass, unless the queue has grown to
//! [`Policy::backlog`]; and it rests after each batch, so it never takes more than a share of the
//! database's time ([`Policy::rest`]).

use crate::engine::Engine;
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
    /// Queued entry events from which the indexer works through a burst all the same, so a
    /// search never scans more than about this many entry events one by one.
    pub backlog: u64,
}

impl Policy {
    /// A look every 250 ms; batches of 32 entry events on SQLite (a millisecond or two of its
    /// one writer, then a merge step of a few), 50 on Postgres; at most a fifth of the time;
    /// bursts above 100 runs a second wait, up to 10,000 queued entry events.
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
            backlog: 10_000,
        }
    }

    /// Whether to index now, given the queue and how many of its entry events arrived over
    /// `over`: something is queued, and entry events arrive slower than `busy_rate` or the queue
    /// has reached `backlog`.
    pub fn should_index(&self, queue: &SearchQueue, over: Duration) -> bool {
        let busy = queue.arrived as f64 > self.busy_rate as f64 * over.as_secs_f64();
        queue.queued > 0 && (!busy || queue.queued >= self.backlog)
    }
}

/// Entry events indexed in one catch-up after which the queue's statistics are refreshed.
pub const STATISTICS_AFTER: u64 = 1000;

/// The indexer: the engine's store and a [`Policy`].
pub struct Indexer {
    engine: Arc<Engine>,
    policy: Policy,
}

impl Indexer {
    /// An indexer over the engine's store.
    pub fn new(engine: Arc<Engine>, policy: Policy) -> Indexer {
        Indexer { engine, policy }
    }

    /// Looks at the queue every `interval` and indexes when [`Policy::should_index`] says so,
    /// until `shutdown`; a failure is logged and tried again at the next look.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut seen = None;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.policy.interval) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
            if let Err(error) = self.work(&mut seen, &shutdown).await {
                tracing::warn!(error = %crate::escape::Escaped(&error), "Indexing entry events for payload search failed; it is tried again shortly.");
            }
        }
    }

    /// One look: batches, each followed by its rest, for as long as the policy says to index.
    /// `seen` is the newest queued entry event's id at the previous look (0 if the queue was
    /// empty from the start, `None` before the first look).
    async fn work(
        &self,
        seen: &mut Option<i64>,
        shutdown: &watch::Receiver<bool>,
    ) -> store::Result<()> {
        let store = &self.engine.store;
        let mut looked = Instant::now()
            .checked_sub(self.policy.interval)
            .unwrap_or_else(Instant::now);
        let mut indexed = 0;
        loop {
            let queue = store.search_queue(*seen).await?;
            let over = looked.elapsed();
            looked = Instant::now();
            // The first look only marks where arrivals are counted from.
            let first = seen.is_none();
            *seen = Some(queue.newest.unwrap_or(seen.unwrap_or(0)));
            if first || !self.policy.should_index(&queue, over) {
                break;
            }
            let started = Instant::now();
            let taken = store.index_queued_entries(self.policy.batch.max(1)).await?;
            indexed += taken as u64;
            if taken < self.policy.batch {
                break;
            }
            let rest = started.elapsed() * self.policy.rest;
            if !pause(shutdown, rest.max(self.policy.pause)).await {
                break;
            }
        }
        if indexed >= STATISTICS_AFTER {
            store.analyze_queue().await?;
        }
        Ok(())
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

/// Waits `rest`; false when shutting down.
async fn pause(shutdown: &watch::Receiver<bool>, rest: Duration) -> bool {
    let mut shutdown = shutdown.clone();
    if *shutdown.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(rest) => true,
        _ = shutdown.changed() => false,
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
            !policy.should_index(&queue(0, 0), quarter),
            "nothing queued"
        );
        assert!(policy.should_index(&queue(40, 20), quarter), "80 a second");
        assert!(
            !policy.should_index(&queue(400, 125), quarter),
            "500 a second"
        );
        assert!(
            policy.should_index(&queue(10_000, 125), quarter),
            "backlog reached"
        );
        assert!(
            policy.should_index(&queue(400, 125), Duration::from_secs(2)),
            "62 a second"
        );
    }
}
