//! Python rules in the detector: the events their log types select are collected during a
//! batch and sent to the pool together; each match, and each rule error, becomes a `NewMatch`
//! like a Simple Detection's.

use super::{Detector, Evaluated};
use crate::detect::alerting::AlertType;
use crate::detect::python::{self, AlertFields, Outcome, Pool, PyError};
use crate::detect::Rule;
use crate::escape::Escaped;
use crate::run::Millis;
use crate::store::{AlertOverrides, NewMatch, WindowPolicy};
use serde_json::{json, Value};
use std::collections::HashMap;

/// `destinations()` returning this sends the alert nowhere (Panther's convention).
const SKIP: &str = "SKIP";

/// The events of one batch that Python rules read.
pub(super) struct Batch {
    rules: Vec<usize>,
    events: Vec<(Value, Millis)>,
}

impl Batch {
    /// Sets aside a normalised event and its event time.
    pub(super) fn push(&mut self, event: Value, event_time: Millis) {
        self.events.push((event, event_time));
    }
}

/// Runs `work`, which waits on Python workers, where it may block: through `block_in_place` on
/// a multi-threaded runtime, inline otherwise (a current-thread runtime, or none).
pub fn off_the_runtime<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// The pool for the enabled Python rules among `rules`, if there are any. Workers start on
/// first use.
pub(super) fn pool<'r>(rules: impl IntoIterator<Item = &'r Rule>) -> Option<Pool> {
    let library = python::library(rules);
    if library.rules.is_empty() {
        return None;
    }
    let config = python::Config::from_env();
    tracing::info!(
        rules = library.rules.len(),
        workers = config.workers,
        interpreter = %config.interpreter,
        "Python rules loaded."
    );
    Some(Pool::new(config, &library))
}

impl Detector {
    /// A batch for the Python rules `index` lists under `name` (a log type, or a scheduled
    /// query's name), or `None` when there are none.
    pub(super) fn python_batch(
        &self,
        index: &HashMap<String, Vec<usize>>,
        name: &str,
    ) -> Option<Batch> {
        let rules = index.get(name)?;
        Some(Batch {
            rules: rules.clone(),
            events: Vec::new(),
        })
    }

    /// Runs a batch's Python rules and adds their matches and errors to `out`.
    pub(super) fn evaluate_python(&self, batch: Batch, out: &mut Evaluated) {
        if batch.events.is_empty() {
            return;
        }
        let ids: Vec<String> = batch
            .rules
            .iter()
            .map(|&i| self.rules[i].rule.id.clone())
            .collect();
        let events: Vec<&Value> = batch.events.iter().map(|(e, _)| e).collect();
        let outcomes = match &self.pool {
            Some(pool) => pool.evaluate(&ids, &events),
            None => {
                let error = PyError::engine("Python is not running");
                vec![vec![Outcome::failed(error); ids.len()]; events.len()]
            }
        };
        // A rule that fails tends to fail on every event: one WARN per rule per batch, with
        // how many events failed and the first error (its alert is deduplicated too).
        let mut failures: Vec<(usize, usize, PyError)> = Vec::new();
        for ((event, time), per_rule) in batch.events.iter().zip(outcomes) {
            // The normaliser set it: the batch's log type, `ScheduledQuery.<name>` for rows.
            let log_type = event["p_log_type"].as_str().unwrap_or_default();
            for (&index, outcome) in batch.rules.iter().zip(per_rule) {
                let rule = &self.rules[index].rule;
                if outcome.matched {
                    let fields = python::alert_fields(rule, &outcome.outputs);
                    let mut m = self.new_match(rule, log_type, event, *time, fields);
                    let outputs = outcome.outputs;
                    m.first.overrides = AlertOverrides {
                        alert_type: None,
                        description: outputs.description.filter(|s| !s.is_empty()),
                        reference: outputs.reference.filter(|s| !s.is_empty()),
                        runbook: outputs.runbook.filter(|s| !s.is_empty()),
                        destinations: outputs.destinations.map(|ids| {
                            if ids.iter().any(|id| id == SKIP) {
                                Vec::new()
                            } else {
                                ids
                            }
                        }),
                    };
                    out.matches.push(m);
                }
                if let Some(error) = outcome.error {
                    out.matches
                        .push(self.error_match(rule, log_type, event, *time, &error));
                    match failures.iter_mut().find(|(i, _, _)| *i == index) {
                        Some((_, events, _)) => *events += 1,
                        None => failures.push((index, 1, error)),
                    }
                }
            }
        }
        for (index, events, first) in failures {
            let rule = &self.rules[index].rule.id;
            tracing::warn!(rule = %rule, events, first_error = %Escaped(&first), "A Python rule failed on events of a batch.");
        }
    }

    /// Panther's rule-error alert: one window per rule and kind of error (where it happened and
    /// the exception's type, not its text, which often carries the event's values).
    fn error_match(
        &self,
        rule: &Rule,
        log_type: &str,
        event: &Value,
        time: Millis,
        error: &PyError,
    ) -> NewMatch {
        let kind = match error.message.split_once(": ") {
            Some((head, _)) if head.contains(" raised ") => head,
            _ => error.message.as_str(),
        };
        let place = match (&error.path, error.line) {
            (Some(path), Some(line)) => format!("{path}:{line}"),
            (Some(path), None) => path.clone(),
            _ => String::new(),
        };
        let mut context = serde_json::Map::new();
        context.insert("error".into(), json!(error.message));
        context.insert("file".into(), json!(error.path));
        context.insert("line".into(), json!(error.line));
        let fields = AlertFields {
            title: format!("Rule {} failed: {error}", rule.id),
            dedup: format!("{}:{place}: {kind}", AlertType::RuleError.as_str()),
            severity: rule.severity,
            context,
        };
        let mut m = self.new_match(rule, log_type, event, time, fields);
        m.policy = WindowPolicy::new(rule.dedup_period_minutes, 1);
        m.first.overrides.alert_type = Some(AlertType::RuleError.as_str().to_owned());
        if let Value::Object(fields) = &mut m.event {
            fields.insert("p_rule_error".into(), json!(error.to_string()));
        }
        m
    }
}
