//! The detection stage at work: events in (HTTP ingest, replay, the Okta poller, scheduled
//! queries), matches and alerts out, stored in one transaction with their deliveries.
//!
//! The CPU part ([`Detector::evaluate`]) is synchronous and runs off the async threads; the
//! store part is one [`crate::store::Detections::record_matches`] call per batch, so an acknowledged batch is
//! durable: its matches, the alerts they raised and those alerts' deliveries commit together.
//!
//! Python rules run beside the Simple Detections on the same events ([`python`]): the events of
//! a batch that their log types select go to the Python pool together after the batch's Simple
//! Detections, and their matches take the same path (windows, thresholds, alerts).

mod alert;
mod ingest;
mod python;

pub use ingest::{EventError, IngestError, IngestReport};

pub use python::off_the_runtime;

use super::body::{Position, RawEvent};
use super::event::{Doc, Parser};
use super::load::LoadedRule;
use super::normalize::{new_row_id, LogType, Normalize, Normalizer};
use super::routing::Routing;
use super::rule::AnalysisType;
use super::Rule;
use crate::clock::Clock;
use crate::detect::python::AlertFields;
use crate::run::Millis;
use crate::store::{NewMatch, SqlStore};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;

/// At most this many per-event errors are reported back; the count covers them all.
const MAX_REPORTED_ERRORS: usize = 100;

/// The detection stage, shared by every source.
#[derive(Debug)]
pub struct Detector {
    rules: Vec<DetectorRule>,
    /// Streaming Simple Detections by log type.
    streaming: HashMap<String, Vec<usize>>,
    /// Scheduled Simple Detections by the query they read.
    scheduled: HashMap<String, Vec<usize>>,
    /// Streaming Python rules by log type.
    python_streaming: HashMap<String, Vec<usize>>,
    /// Scheduled Python rules by the query they read.
    python_scheduled: HashMap<String, Vec<usize>>,
    /// The Python workers, when there are Python rules.
    pool: Option<crate::detect::python::Pool>,
    by_id: HashMap<String, usize>,
    routing: Routing,
    store: SqlStore,
    clock: Arc<dyn Clock>,
    link_base: String,
    /// Signalled when deliveries were queued, to wake the delivery worker.
    pub deliveries_queued: Arc<Notify>,
}

#[derive(Debug)]
struct DetectorRule {
    rule: Rule,
    version: Option<String>,
}

/// What evaluating a batch produced.
#[derive(Debug, Default)]
pub struct Evaluated {
    /// Matches to record.
    pub matches: Vec<NewMatch>,
    /// Events evaluated.
    pub accepted: usize,
    /// Events refused, all of them.
    pub errors: Vec<EventError>,
}

impl Detector {
    /// A detector over `rules`, delivering through `routing`. A rule naming a destination
    /// (`OutputIds`) that `routing` lacks is logged: its alerts are stored, and their deliveries
    /// fail visibly (`GET /api/alerts/{id}`) rather than vanish.
    pub fn new(
        rules: Vec<LoadedRule>,
        routing: Routing,
        store: SqlStore,
        clock: Arc<dyn Clock>,
        link_base: &str,
    ) -> Detector {
        let mut detector = Detector {
            rules: Vec::new(),
            streaming: HashMap::new(),
            scheduled: HashMap::new(),
            python_streaming: HashMap::new(),
            python_scheduled: HashMap::new(),
            pool: None,
            by_id: HashMap::new(),
            routing,
            store,
            clock,
            link_base: link_base.trim_end_matches('/').to_owned(),
            deliveries_queued: Arc::default(),
        };
        for loaded in rules.into_iter().filter(|l| l.rule.enabled) {
            let rule = loaded.rule;
            for output in &rule.output_ids {
                if detector.routing.get(output).is_none() {
                    tracing::warn!(
                        rule = %rule.id,
                        file = %loaded.path,
                        destination = %output,
                        "A rule's OutputIds names a destination that is not configured."
                    );
                }
            }
            let index = detector.rules.len();
            let python = rule.python.is_some();
            let (index_by, names): (_, Vec<&str>) = match rule.analysis_type {
                AnalysisType::Rule if python => (
                    &mut detector.python_streaming,
                    rule.log_types.iter().map(String::as_str).collect(),
                ),
                AnalysisType::ScheduledRule if python => (
                    &mut detector.python_scheduled,
                    rule.scheduled_queries
                        .iter()
                        .map(|q| q.value.as_str())
                        .collect(),
                ),
                AnalysisType::Rule => (
                    &mut detector.streaming,
                    rule.log_types.iter().map(String::as_str).collect(),
                ),
                AnalysisType::ScheduledRule => (
                    &mut detector.scheduled,
                    rule.scheduled_queries
                        .iter()
                        .map(|q| q.value.as_str())
                        .collect(),
                ),
            };
            for name in names {
                index_by.entry(name.to_owned()).or_default().push(index);
            }
            detector.by_id.insert(rule.id.clone(), index);
            detector.rules.push(DetectorRule {
                rule,
                version: loaded.version,
            });
        }
        detector.pool = python::pool(detector.rules.iter().map(|r| &r.rule));
        detector
    }

    /// A detector with no rules and no destinations (every event is accepted, nothing matches).
    pub fn without_rules(store: SqlStore, clock: Arc<dyn Clock>) -> Detector {
        Detector::new(
            Vec::new(),
            Routing::default(),
            store,
            clock,
            "http://127.0.0.1",
        )
    }

    /// The store.
    pub fn store(&self) -> &SqlStore {
        &self.store
    }

    /// The destinations.
    pub fn routing(&self) -> &Routing {
        &self.routing
    }

    /// The Python workers, when there are Python rules (their tests run there too).
    pub fn python_pool(&self) -> Option<&crate::detect::python::Pool> {
        self.pool.as_ref()
    }

    /// The enabled rules.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|r| &r.rule)
    }

    /// Parses, normalises and evaluates `events` against the log type's rules. Events are read
    /// into a borrowed tree (the hot path); only a matched event becomes a `serde_json::Value`.
    pub fn evaluate(&self, log_type: &LogType, events: &[RawEvent<'_>], now: Millis) -> Evaluated {
        let mut evaluated = Evaluated::default();
        let rules = self.streaming_rules(log_type);
        let mut python = self.python_batch(&self.python_streaming, log_type.name());
        let normalizer = Normalizer::new(log_type, parse_time(now));
        // One arena for the batch, reset per event.
        let mut parser = Parser::new();
        for raw in events {
            match parser.parse(raw.json) {
                Ok(mut doc) => {
                    let out = &mut evaluated;
                    let batch = python.as_mut();
                    self.evaluate_one(
                        &normalizer,
                        rules,
                        &mut doc,
                        raw.at,
                        out,
                        batch,
                        Doc::to_value,
                    )
                }
                Err(e) => evaluated.errors.push(EventError {
                    at: raw.at,
                    message: format!("invalid JSON: {e}"),
                }),
            }
        }
        if let Some(batch) = python {
            self.evaluate_python(batch, &mut evaluated);
        }
        evaluated
    }

    fn streaming_rules(&self, log_type: &LogType) -> &[usize] {
        self.streaming
            .get(log_type.name())
            .map_or(&[], Vec::as_slice)
    }

    /// Normalises one event and evaluates `rules` (indexes into `self.rules`) on it; only a
    /// matched event is turned into a `Value` (once, whatever the number of rules matching), or
    /// one that Python rules will read, which is set aside in `python` for them.
    #[allow(clippy::too_many_arguments)]
    fn evaluate_one<N: Normalize>(
        &self,
        normalizer: &Normalizer<'_>,
        rules: &[usize],
        event: &mut N,
        at: Position,
        out: &mut Evaluated,
        python: Option<&mut python::Batch>,
        to_value: impl Fn(&N) -> Value,
    ) {
        let log_type = normalizer.log_type();
        let Ok(event_time) = normalizer.normalize(event, &new_row_id()) else {
            out.errors.push(EventError {
                at,
                message: "an event must be a JSON object".into(),
            });
            return;
        };
        out.accepted += 1;
        let mut stored: Option<Value> = None;
        for &index in rules {
            let rule = &self.rules[index].rule;
            if rule.matches(event.node()) {
                let value = stored.get_or_insert_with(|| to_value(event));
                let time = event_time.as_millisecond();
                let fields = AlertFields {
                    title: rule.title(value),
                    dedup: String::new(),
                    severity: rule.severity_for(value),
                    context: rule.alert_context(value),
                };
                let mut matched = self.new_match(rule, log_type.name(), value, time, fields);
                // Panther's dedup() sees the event with its `p_rule_*` fields.
                matched.dedup = rule.dedup(&matched.event);
                out.matches.push(matched);
            }
        }
        if let Some(batch) = python {
            let value = stored.take().unwrap_or_else(|| to_value(event));
            batch.push(value, event_time.as_millisecond());
        }
    }

    /// Whether an enabled scheduled rule reads the query `name`.
    pub fn reads_query(&self, name: &str) -> bool {
        self.scheduled.contains_key(name) || self.python_scheduled.contains_key(name)
    }

    /// Evaluates scheduled-query rows against the rules reading that query.
    pub fn evaluate_rows(&self, query_name: &str, rows: Vec<Value>, now: Millis) -> Evaluated {
        let mut evaluated = Evaluated::default();
        let log_type = LogType::parse(&format!("ScheduledQuery.{query_name}"));
        let rules = self
            .scheduled
            .get(query_name)
            .map_or(&[][..], Vec::as_slice);
        let mut python = self.python_batch(&self.python_scheduled, query_name);
        let normalizer = Normalizer::new(&log_type, parse_time(now));
        for (n, mut row) in rows.into_iter().enumerate() {
            let at = Position::Item(n);
            let out = &mut evaluated;
            let batch = python.as_mut();
            self.evaluate_one(&normalizer, rules, &mut row, at, out, batch, Value::clone);
        }
        if let Some(batch) = python {
            self.evaluate_python(batch, &mut evaluated);
        }
        evaluated
    }
}

/// The parse time of events evaluated at `now`.
fn parse_time(now: Millis) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(now).unwrap_or_default()
}
