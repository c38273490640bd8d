//! The detection stage: Panther rules (Simple Detections) compiled once and evaluated against
//! JSON events.
//!
//! - [`rule`] reads a rule file (Panther's YAML keys; every mistake reported with its position
//!   and a stable code) into a [`Rule`]: metadata, unit tests, compiled expressions.
//! - [`eval`] is the evaluator: pure, allocation-free lookups, Panther's semantics (documented
//!   there, with the few places where warden had to choose). It reads events through
//!   [`eval::JsonNode`]: a `serde_json::Value`, or on the ingest hot path an [`event::Event`],
//!   parsed without copying strings, normalised by [`normalize`] and turned into a `Value` only
//!   when a rule matches.
//! - [`scheduled`] reads `scheduled_query` files (warden's `WardenQuery` over stored rule
//!   matches), their schedules, and folds stored matches into the rows scheduled rules evaluate.
//! - [`detector`] runs the stage over a batch ([`body`] splits ingest bodies), [`alerting`] is
//!   Panther's dedup/threshold/alert-id semantics, [`routing`] and [`deliver`] send alerts,
//!   [`scheduler`] runs scheduled queries and [`okta_poll`] polls Okta's System Log.
//! - [`load`] reads rule and query files and directories; [`testing`] runs the rules' `Tests` as
//!   `panther_analysis_tool test` does.

pub mod alerting;
pub mod body;
pub mod budget;
pub mod deliver;
pub mod detector;
pub mod eval;
pub mod event;
pub mod load;
pub mod normalize;
pub mod okta_poll;
pub mod python;
pub mod routing;
pub mod rule;
pub mod scheduled;
pub mod scheduler;
pub mod testing;

pub use rule::{check_rule, AnalysisType, Mock, Rule, RuleFile, RuleTest, Unsupported};

use std::fmt;

/// An alert's severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// `INFO`
    Info,
    /// `LOW`
    Low,
    /// `MEDIUM`
    Medium,
    /// `HIGH`
    High,
    /// `CRITICAL`
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// As Panther's alerts spell it: `INFO` … `CRITICAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    /// Reads a severity in any case (`Info`, `INFO`, `info`).
    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
