//! Process metrics, rendered in Prometheus' text format by `GET /metrics`.

use crate::run::StepState;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the step-latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// Counters shared by the runner and the API.
#[derive(Debug, Default)]
pub struct Metrics {
    // One counter per step state, so a new state cannot index past the end.
    steps_finished: [AtomicU64; StepState::ALL.len()],
    steps_retried: AtomicU64,
    steps_fenced: AtomicU64,
    steps_poisoned: AtomicU64,
    runs_created: AtomicU64,
    runs_deduplicated: AtomicU64,
    webhooks_rejected: AtomicU64,
    events_ingested: AtomicU64,
    events_rejected: AtomicU64,
    pruned_runs: AtomicU64,
    pruned_matches: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

impl Metrics {
    /// A step ended its lease in `state` after `latency` (claim to commit).
    pub fn step_finished(&self, state: StepState, latency: Duration) {
        let index = StepState::ALL.iter().position(|s| *s == state).unwrap_or(0);
        self.steps_finished[index].fetch_add(1, Ordering::Relaxed);
        let seconds = latency.as_secs_f64();
        for (bucket, bound) in self.latency_buckets.iter().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// A step was scheduled for another attempt.
    pub fn step_retried(&self) {
        self.steps_retried.fetch_add(1, Ordering::Relaxed);
    }

    /// A completion lost its lease.
    pub fn step_fenced(&self) {
        self.steps_fenced.fetch_add(1, Ordering::Relaxed);
    }

    /// A step was failed as poisoned: lost with its worker as many times as the poison limit.
    pub fn step_poisoned(&self) {
        self.steps_poisoned.fetch_add(1, Ordering::Relaxed);
    }

    /// A webhook created a run (or matched an earlier one by its dedupe key).
    pub fn run_created(&self, duplicate: bool) {
        if duplicate {
            self.runs_deduplicated.fetch_add(1, Ordering::Relaxed);
        } else {
            self.runs_created.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A webhook request was refused.
    pub fn webhook_rejected(&self) {
        self.webhooks_rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// An ingest evaluated `accepted` events and refused `rejected`.
    pub fn events_ingested(&self, accepted: usize, rejected: usize) {
        self.events_ingested
            .fetch_add(accepted as u64, Ordering::Relaxed);
        self.events_rejected
            .fetch_add(rejected as u64, Ordering::Relaxed);
    }

    /// A retention sweep deleted `runs` finished runs and `matches` rule matches.
    pub fn pruned(&self, runs: u64, matches: u64) {
        self.pruned_runs.fetch_add(runs, Ordering::Relaxed);
        self.pruned_matches.fetch_add(matches, Ordering::Relaxed);
    }

    /// Steps finished so far in `state`.
    pub fn finished(&self, state: StepState) -> u64 {
        let index = StepState::ALL.iter().position(|s| *s == state).unwrap_or(0);
        self.steps_finished[index].load(Ordering::Relaxed)
    }

    /// The Prometheus exposition, with the queue depth read from the store.
    pub fn render(&self, queue_depth: &[(StepState, i64)]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP warden_steps_total Step leases ended, by resulting state (this process)."
        );
        let _ = writeln!(out, "# TYPE warden_steps_total counter");
        for (state, counter) in StepState::ALL.iter().zip(&self.steps_finished) {
            let _ = writeln!(
                out,
                "warden_steps_total{{state=\"{}\"}} {}",
                state.as_str(),
                counter.load(Ordering::Relaxed)
            );
        }
        counter(
            &mut out,
            "warden_step_retries_total",
            "Steps scheduled for another attempt.",
            &self.steps_retried,
        );
        counter(
            &mut out,
            "warden_step_fenced_total",
            "Completions refused because the lease was lost.",
            &self.steps_fenced,
        );
        counter(
            &mut out,
            "warden_steps_poisoned_total",
            "Steps failed as poisoned: lost with their worker as many times as the poison limit.",
            &self.steps_poisoned,
        );
        counter(
            &mut out,
            "warden_runs_created_total",
            "Runs created by webhooks.",
            &self.runs_created,
        );
        counter(
            &mut out,
            "warden_runs_deduplicated_total",
            "Webhook deliveries matched to an earlier run.",
            &self.runs_deduplicated,
        );
        counter(
            &mut out,
            "warden_webhooks_rejected_total",
            "Webhook requests refused (4xx).",
            &self.webhooks_rejected,
        );
        counter(
            &mut out,
            "warden_events_ingested_total",
            "Log events evaluated by the detection stage.",
            &self.events_ingested,
        );
        counter(
            &mut out,
            "warden_events_rejected_total",
            "Log events refused by the detection stage (not a JSON object).",
            &self.events_rejected,
        );
        counter(
            &mut out,
            "warden_pruned_runs_total",
            "Finished runs deleted by retention, with their steps, events and prompts.",
            &self.pruned_runs,
        );
        counter(
            &mut out,
            "warden_pruned_matches_total",
            "Rule matches deleted by retention.",
            &self.pruned_matches,
        );
        let _ = writeln!(
            out,
            "# HELP warden_queue_depth Open steps in the store, by state."
        );
        let _ = writeln!(out, "# TYPE warden_queue_depth gauge");
        for state in [StepState::Pending, StepState::Running, StepState::Waiting] {
            let count = queue_depth
                .iter()
                .find(|(s, _)| *s == state)
                .map_or(0, |(_, c)| *c);
            let _ = writeln!(
                out,
                "warden_queue_depth{{state=\"{}\"}} {count}",
                state.as_str()
            );
        }
        let _ = writeln!(out, "# HELP warden_step_duration_seconds Time from claiming a step to committing its result.");
        let _ = writeln!(out, "# TYPE warden_step_duration_seconds histogram");
        for (bucket, bound) in self.latency_buckets.iter().zip(LATENCY_BUCKETS) {
            let _ = writeln!(
                out,
                "warden_step_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "warden_step_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "warden_step_duration_seconds_sum {}",
            self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "warden_step_duration_seconds_count {count}");
        out
    }
}

fn counter(out: &mut String, name: &str, help: &str, value: &AtomicU64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = Metrics::default();
        metrics.step_finished(StepState::Succeeded, Duration::from_millis(3));
        metrics.step_finished(StepState::Failed, Duration::from_secs(2));
        let text = metrics.render(&[(StepState::Pending, 4)]);
        assert!(
            text.contains("warden_step_duration_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("warden_step_duration_seconds_bucket{le=\"5\"} 2"),
            "{text}"
        );
        assert!(text.contains("warden_step_duration_seconds_count 2"));
        assert!(text.contains("warden_steps_total{state=\"failed\"} 1"));
        assert!(text.contains("warden_queue_depth{state=\"pending\"} 4"));
    }
}
