//! The detection stage at work: events in (HTTP ingest, replay, the Okta poller, scheduled
//! queries), matches and alerts out, stored in one transaction with their deliveries.
//!
//! The CPU part ([`Detector::evaluate`]) is synchronous and runs off the async threads; the
//! store part is one [`Detections::record_matches`] call per batch, so an acknowledged batch is
//! durable: its matches, the alerts they raised and those alerts' deliveries commit together.
//!
//! Python rules run beside the Simple Detections on the same events ([`python`]): the events of
//! a batch that their log types select go to the Python pool together after the batch's Simple
//! Detections, and their matches take the same path (windows, thresholds, alerts).

mod alert;
mod python;

pub use python::off_the_runtime;

use super::alerting;
use super::body::{self, BodyError, Position, RawEvent};
use super::budget::DecompressionBudget;
use super::event::{Doc, Parser};
use super::load::LoadedRule;
use super::normalize::{new_row_id, LogType, Normalize, Normalizer};
use super::routing::Routing;
use super::rule::AnalysisType;
use super::Rule;
use crate::clock::Clock;
use crate::detect::python::AlertFields;
use crate::run::Millis;
use crate::store::{self, Detections, NewMatch, RecordedMatches, SqlStore};
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

/// What an ingest did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct IngestReport {
    /// Events evaluated.
    pub accepted: usize,
    /// Events refused (not JSON, not an object).
    pub rejected: usize,
    /// Rule matches stored.
    pub matches: usize,
    /// Alerts created.
    pub alerts: Vec<String>,
    /// Why events were refused (the first 100).
    pub errors: Vec<EventError>,
}

/// One refused event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EventError {
    /// Where it was in the body.
    #[serde(flatten)]
    pub at: Position,
    /// Why.
    pub message: String,
}

/// Why an ingest failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The log type's name is not usable.
    #[error(
        "`{0}` is not a log type name (letters, digits, `.`, `_` and `-`, e.g. Okta.SystemLog)"
    )]
    BadLogType(String),
    /// The body cannot be read.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// The store failed; nothing of the batch was kept.
    #[error(transparent)]
    Store(#[from] store::Error),
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

    /// Reads a body (gzip, JSON, array or NDJSON), evaluates it and records the result. A gzip
    /// body's decompressed bytes are taken from `budget`, when given, until evaluation ends.
    pub async fn ingest_body(
        self: &Arc<Self>,
        log_type: &str,
        bytes: axum::body::Bytes,
        max_decompressed: usize,
        budget: Option<Arc<DecompressionBudget>>,
    ) -> Result<IngestReport, IngestError> {
        let log_type = parse_log_type(log_type)?;
        let now = self.clock.now();
        let detector = self.clone();
        let evaluated = tokio::task::spawn_blocking(move || {
            // Held until the text is dropped, after evaluation.
            let mut share = budget.map(|b| b.share());
            let text = body::text_within(&bytes, max_decompressed, share.as_mut())?;
            let events = body::split(&text)?;
            Ok::<_, BodyError>(detector.evaluate(&log_type, &events, now))
        })
        .await
        .expect("evaluation does not panic")?;
        self.record(evaluated, None).await
    }

    /// Evaluates raw events (split from a body or a file) and records them.
    pub async fn ingest_raw(
        &self,
        log_type: &str,
        events: &[RawEvent<'_>],
    ) -> Result<IngestReport, IngestError> {
        let log_type = parse_log_type(log_type)?;
        let now = self.clock.now();
        let evaluated = tokio::task::block_in_place(|| self.evaluate(&log_type, events, now));
        self.record(evaluated, None).await
    }

    /// Evaluates already-parsed events (the Okta poller) and records them with `checkpoint`.
    pub async fn ingest_values(
        &self,
        log_type: &str,
        events: Vec<Value>,
        checkpoint: Option<(&str, &str)>,
    ) -> Result<IngestReport, IngestError> {
        let log_type = parse_log_type(log_type)?;
        let now = self.clock.now();
        let mut evaluated = Evaluated::default();
        let rules = self.streaming_rules(&log_type);
        let mut python = self.python_batch(&self.python_streaming, log_type.name());
        let normalizer = Normalizer::new(&log_type, parse_time(now));
        for (n, mut event) in events.into_iter().enumerate() {
            let at = Position::Item(n);
            let out = &mut evaluated;
            let batch = python.as_mut();
            self.evaluate_one(&normalizer, rules, &mut event, at, out, batch, Value::clone);
        }
        if let Some(batch) = python {
            python::off_the_runtime(|| self.evaluate_python(batch, &mut evaluated));
        }
        self.record(evaluated, checkpoint).await
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

    /// Records evaluated events: their matches, alerts and deliveries in one transaction.
    pub async fn record(
        &self,
        evaluated: Evaluated,
        checkpoint: Option<(&str, &str)>,
    ) -> Result<IngestReport, IngestError> {
        let Evaluated {
            matches,
            accepted,
            errors,
        } = evaluated;
        let recorded = if matches.is_empty() && checkpoint.is_none() {
            RecordedMatches::default()
        } else {
            let now = self.clock.now();
            self.store
                .record_matches(matches, checkpoint, now, &alerting::merge, &|m, w| {
                    self.alert_for(m, w, now)
                })
                .await?
        };
        if recorded.deliveries > 0 {
            self.deliveries_queued.notify_one();
        }
        for id in &recorded.alerts {
            tracing::info!(alert_id = %id, "Alert created.");
        }
        Ok(IngestReport {
            accepted,
            rejected: errors.len(),
            matches: recorded.matches,
            alerts: recorded.alerts,
            errors: errors.into_iter().take(MAX_REPORTED_ERRORS).collect(),
        })
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

/// The Okta poller's pages go through the detector, with the poller's checkpoint in the same
/// transaction as the page's matches.
impl super::okta_poll::LogSink for Detector {
    async fn checkpoint(
        &self,
        source: &str,
    ) -> anyhow::Result<Option<super::okta_poll::Checkpoint>> {
        match self.store.checkpoint(source).await? {
            Some(text) => Ok(Some(serde_json::from_str(&text)?)),
            None => Ok(None),
        }
    }

    async fn deliver(
        &self,
        source: &str,
        events: Vec<Value>,
        checkpoint: &super::okta_poll::Checkpoint,
    ) -> anyhow::Result<()> {
        let position = serde_json::to_string(checkpoint)?;
        let report = self
            .ingest_values(
                LogType::OktaSystemLog.name(),
                events,
                Some((source, &position)),
            )
            .await?;
        tracing::debug!(
            source,
            events = report.accepted,
            matches = report.matches,
            "Okta page ingested."
        );
        Ok(())
    }
}

/// The parse time of events evaluated at `now`.
fn parse_time(now: Millis) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(now).unwrap_or_default()
}

fn parse_log_type(name: &str) -> Result<LogType, IngestError> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(LogType::parse(name))
    } else {
        Err(IngestError::BadLogType(name.chars().take(128).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_type_names_are_checked() {
        assert!(parse_log_type("Okta.SystemLog").is_ok());
        assert!(parse_log_type("Custom.My-Logs_2").is_ok());
        for bad in ["", "a/b", "a b", "é"] {
            assert!(parse_log_type(bad).is_err(), "{bad}");
        }
    }
}
