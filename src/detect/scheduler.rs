//! Running scheduled queries on their schedules: each due query reads the stored rule matches it
//! names, groups them into rows, and the scheduled rules reading it evaluate the rows; their
//! matches and alerts are recorded like any others (dedup, threshold, delivery).
//!
//! A run is claimed in the database before it starts (compare-and-set on the query's last
//! scheduled time), so processes sharing a Postgres database run each tick once. After downtime
//! the missed ticks collapse into one run: the query's lookback covers them.

use super::detector::{Detector, IngestReport};
use super::scheduled::ScheduledQuery;
use crate::clock::Clock;
use crate::run::Millis;
use crate::store::Detections;
use jiff::Timestamp;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The longest sleep between checks (schedules may also change by a restart of another process).
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Ticks skipped at most when catching up after downtime (a one-minute cron over 69 days).
const MAX_CATCH_UP_TICKS: usize = 100_000;

/// Runs scheduled queries.
#[derive(Debug, Clone)]
pub struct Scheduler {
    detector: Arc<Detector>,
    queries: Vec<ScheduledQuery>,
    clock: Arc<dyn Clock>,
}

impl Scheduler {
    /// A scheduler for the enabled `queries` that an enabled scheduled rule reads.
    pub fn new(
        detector: Arc<Detector>,
        queries: Vec<ScheduledQuery>,
        clock: Arc<dyn Clock>,
    ) -> Scheduler {
        let queries = queries
            .into_iter()
            .filter(|q| q.enabled && detector.reads_query(&q.name))
            .collect();
        Scheduler {
            detector,
            queries,
            clock,
        }
    }

    /// The queries it runs.
    pub fn queries(&self) -> &[ScheduledQuery] {
        &self.queries
    }

    /// Runs every query that is due now; returns what each run recorded.
    pub async fn run_due(&self) -> anyhow::Result<Vec<(String, IngestReport)>> {
        let mut reports = Vec::new();
        for query in &self.queries {
            if let Some(report) = self.run_if_due(query).await? {
                reports.push((query.name.clone(), report));
            }
        }
        Ok(reports)
    }

    async fn run_if_due(&self, query: &ScheduledQuery) -> anyhow::Result<Option<IngestReport>> {
        let store = self.detector.store();
        let now = self.clock.now();
        let Some(last) = store.query_last_run(&query.name).await? else {
            // First sight: the schedule starts now, so its first run is its next tick.
            store.claim_query_run(&query.name, None, now).await?;
            return Ok(None);
        };
        let due = self.due_after(query, Some(last), now);
        if due > now {
            return Ok(None);
        }
        let tick = latest_tick(query, due, now);
        if !store.claim_query_run(&query.name, Some(last), tick).await? {
            return Ok(None); // another process ran it
        }
        let now_ts = timestamp(now);
        let since = query.query.since(now_ts).as_millisecond();
        let matches = store.matches_since(query.query.rule_ids(), since).await?;
        let rows = query.query.rows(&matches, now_ts);
        // Python rules over the rows wait on worker processes: off the async threads.
        let evaluated = crate::detect::detector::off_the_runtime(|| {
            self.detector.evaluate_rows(&query.name, rows, now)
        });
        let report = self.detector.record(evaluated, None).await?;
        tracing::info!(
            query = %query.name,
            matches_read = matches.len(),
            rule_matches = report.matches,
            alerts = report.alerts.len(),
            "Scheduled query ran."
        );
        Ok(Some(report))
    }

    /// When `query` is next due: the tick after its last run (or after now, before its first).
    fn due_after(&self, query: &ScheduledQuery, last: Option<Millis>, now: Millis) -> Millis {
        let after = last.unwrap_or(now);
        query.schedule.next_after(timestamp(after)).as_millisecond()
    }

    /// Runs queries as they come due until `shutdown` turns true.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        if self.queries.is_empty() {
            return;
        }
        loop {
            if *shutdown.borrow() {
                return;
            }
            if let Err(error) = self.run_due().await {
                tracing::error!(error = %crate::escape::Escaped(format!("{error:#}")), "A scheduled query failed; it runs again at its next check.");
            }
            let sleep = self.until_next_due().await.min(MAX_SLEEP);
            if !crate::shutdown::wait(&shutdown, sleep).await {
                return;
            }
        }
    }

    async fn until_next_due(&self) -> Duration {
        let now = self.clock.now();
        let mut next = Millis::MAX;
        for query in &self.queries {
            let last = self
                .detector
                .store()
                .query_last_run(&query.name)
                .await
                .ok()
                .flatten();
            next = next.min(self.due_after(query, last, now));
        }
        Duration::from_millis(u64::try_from(next.saturating_sub(now)).unwrap_or(0))
    }
}

/// The latest tick at or before `now`, starting from the due tick `due`.
fn latest_tick(query: &ScheduledQuery, due: Millis, now: Millis) -> Millis {
    let mut tick = due;
    for _ in 0..MAX_CATCH_UP_TICKS {
        let next = query.schedule.next_after(timestamp(tick)).as_millisecond();
        if next > now {
            return tick;
        }
        tick = next;
    }
    now
}

fn timestamp(millis: Millis) -> Timestamp {
    Timestamp::from_millisecond(millis).unwrap_or(Timestamp::MAX)
}
