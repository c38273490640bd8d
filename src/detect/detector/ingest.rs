//! The detector's sources: an HTTP body, raw events (replay) and parsed events (the Okta
//! poller) are evaluated and recorded; what an ingest did comes back as an [`IngestReport`].

use super::{parse_time, python, Detector, Evaluated, MAX_REPORTED_ERRORS};
use crate::detect::body::{self, BodyError, Position, RawEvent};
use crate::detect::budget::DecompressionBudget;
use crate::detect::normalize::{LogType, Normalizer};
use crate::detect::{alerting, okta_poll};
use crate::store::{self, Detections, RecordedMatches};
use serde_json::Value;
use std::sync::Arc;

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

impl Detector {
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
}

/// The Okta poller's pages go through the detector, with the poller's checkpoint in the same
/// transaction as the page's matches.
impl okta_poll::LogSink for Detector {
    async fn checkpoint(&self, source: &str) -> anyhow::Result<Option<okta_poll::Checkpoint>> {
        match self.store.checkpoint(source).await? {
            Some(text) => Ok(Some(serde_json::from_str(&text)?)),
            None => Ok(None),
        }
    }

    async fn deliver(
        &self,
        source: &str,
        events: Vec<Value>,
        checkpoint: &okta_poll::Checkpoint,
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
