//! A Panther rule file: its model, and [`check_rule`], which reads one and reports every mistake
//! with its position. Pure: the caller supplies the source.
//!
//! Keys follow `panther_analysis_tool`'s `RULE_SCHEMA`, which rejects unknown keys
//! (`ignore_extra_keys=False`); so does warden, with a did-you-mean. Simple Detections (a
//! `Detection:` list) are compiled; Python rules (`Filename:`) are read with their metadata and
//! their file name (the loader reads the Python); derived rules (`BaseDetection:`) and
//! correlation rules load as [`Unsupported`], by name, and other analysis files (policies,
//! queries, data models, …) as [`RuleFile::Other`].

mod alert;
mod expr;
mod fields;
mod read;
mod top_level;

pub use expr::condition_names;

pub(super) use expr::Place;
pub(super) use fields::{read_at_least, read_name};
pub(super) use top_level::{check_file, entry, missing, require};

use crate::detect::eval::{AlertSpec, Failure, JsonNode, Matcher};
use crate::detect::Severity;
use crate::diagnostic::{Diagnostic, Span};
use crate::yaml::{from_node, Node, Spanned};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

/// `rule` (streaming) or `scheduled_rule` (over a scheduled query's rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalysisType {
    /// `AnalysisType: rule`.
    Rule,
    /// `AnalysisType: scheduled_rule`.
    ScheduledRule,
}

/// What a file holds.
#[derive(Debug, Clone)]
pub enum RuleFile {
    /// A Simple Detection warden evaluates.
    Rule(Box<Rule>),
    /// A rule warden recognises but does not run.
    Unsupported(Unsupported),
    /// Another kind of analysis file (policy, query, data model, …), with its `AnalysisType`.
    Other(String),
}

/// A rule (or scheduled query) warden does not run, named so reports can list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The `RuleID` (a scheduled query's `QueryName`).
    pub id: String,
    /// Where the id is.
    pub id_span: Span,
    /// What is unsupported, e.g. `correlation rules`.
    pub feature: String,
    /// How many tests the file has.
    pub tests: usize,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unsupported: {} ({})", self.feature, self.id)
    }
}

/// A `Mocks` entry of a test (kept for fidelity; Simple Detections call no helpers).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Mock {
    /// The mocked function's name.
    #[serde(rename = "objectName")]
    pub object_name: String,
    /// What it returns.
    #[serde(rename = "returnValue")]
    pub return_value: Value,
}

/// One unit test of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTest {
    /// `Name`.
    pub name: String,
    /// `ExpectedResult`.
    pub expected: bool,
    /// `Log`: the event.
    pub log: Value,
    /// `Mocks`.
    pub mocks: Vec<Mock>,
    /// Where the test starts in the file.
    pub span: Span,
}

/// What makes a rule a Python rule: its `Filename`, and the code the loader read for it.
#[derive(Debug, Clone)]
pub struct PythonRule {
    /// `Filename`, relative to the rule's `.yml`.
    pub filename: String,
    /// Where the `Filename` value is.
    pub filename_span: Span,
    /// The module, its helpers and data models; `None` until the loader has read them.
    pub code: Option<std::sync::Arc<crate::detect::python::PythonCode>>,
}

/// A validated, compiled rule: a Simple Detection, or a Python rule (`python`) whose metadata
/// means what the Simple Detection's does and whose functions run in [`crate::detect::python`].
#[derive(Debug, Clone)]
pub struct Rule {
    /// `RuleID`.
    pub id: String,
    /// Where the `RuleID` is.
    pub id_span: Span,
    /// `rule` or `scheduled_rule`.
    pub analysis_type: AnalysisType,
    /// `DisplayName`.
    pub display_name: Option<String>,
    /// `Enabled`.
    pub enabled: bool,
    /// `LogTypes` (streaming rules).
    pub log_types: Vec<String>,
    /// `ScheduledQueries` (scheduled rules): the `QueryName`s whose rows the rule reads, each with
    /// its position for the loader's reference check.
    pub scheduled_queries: Vec<Spanned<String>>,
    /// `Severity`.
    pub severity: Severity,
    /// `Description`, or empty.
    pub description: String,
    /// `Runbook`, or empty.
    pub runbook: String,
    /// `Reference`, or empty.
    pub reference: String,
    /// `Tags`.
    pub tags: Vec<String>,
    /// `Reports`, in file order.
    pub reports: Vec<(String, Vec<String>)>,
    /// `SummaryAttributes`.
    pub summary_attributes: Vec<String>,
    /// `OutputIds`: destination overrides.
    pub output_ids: Vec<String>,
    /// `DedupPeriodMinutes`, default 60.
    pub dedup_period_minutes: u32,
    /// `Threshold`, default 1.
    pub threshold: u32,
    /// `CreateAlert`, default true; false makes a signal.
    pub create_alert: bool,
    /// `Tests`.
    pub tests: Vec<RuleTest>,
    /// `Some` for a Python rule (`Filename:`): then the expression methods below do not apply
    /// (its matcher is empty) and the detector asks the Python pool instead.
    pub python: Option<PythonRule>,
    matcher: Matcher,
    alert: AlertSpec,
}

/// Panther's default `DedupPeriodMinutes`.
pub const DEFAULT_DEDUP_PERIOD_MINUTES: u32 = 60;
/// Panther's default `Threshold`.
pub const DEFAULT_THRESHOLD: u32 = 1;

impl Rule {
    /// Whether the event matches: every `InlineFilters` and every `Detection` expression holds.
    pub fn matches<N: JsonNode>(&self, event: &N) -> bool {
        self.matcher.matches(event)
    }

    /// As [`Rule::matches`], naming the first expression that failed.
    pub fn explain<N: JsonNode>(&self, event: &N) -> Result<(), Failure> {
        self.matcher.explain(event)
    }

    /// The compiled expressions.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// The compiled alert functions.
    pub fn alert_spec(&self) -> &AlertSpec {
        &self.alert
    }

    /// Panther's `title()`: the rendered `AlertTitle`, else `DisplayName`, else `RuleID`.
    pub fn title<N: JsonNode>(&self, event: &N) -> String {
        self.alert
            .title(event)
            .unwrap_or_else(|| self.display_name.clone().unwrap_or_else(|| self.id.clone()))
    }

    /// Panther's `dedup()`: the `GroupBy` values; else the `AlertTitle`; else
    /// `defaultDedupString:<RuleID>`.
    pub fn dedup<N: JsonNode>(&self, event: &N) -> String {
        let grouped = self.alert.group_by(event).filter(|s| !s.is_empty());
        grouped
            .or_else(|| self.alert.title(event).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| format!("defaultDedupString:{}", self.id))
    }

    /// Panther's `alert_context()`: `AlertContext`, or an empty object.
    pub fn alert_context<N: JsonNode>(&self, event: &N) -> Map<String, Value> {
        self.alert.context(event)
    }

    /// Panther's `severity()`: the first `DynamicSeverities` entry that holds, else `Severity`.
    pub fn severity_for<N: JsonNode>(&self, event: &N) -> Severity {
        self.alert
            .severity(event)
            .flatten()
            .unwrap_or(self.severity)
    }
}

/// What reading a file needs: where diagnostics go.
pub(super) struct Compiler<'d> {
    d: &'d mut Vec<Diagnostic>,
}

impl<'d> Compiler<'d> {
    /// A compiler that appends its diagnostics to `d`.
    pub(super) fn new(d: &'d mut Vec<Diagnostic>) -> Self {
        Compiler { d }
    }

    pub(super) fn push(&mut self, diagnostic: Diagnostic) {
        self.d.push(diagnostic);
    }

    /// Reports `name` as an unknown key, suggesting the closest of `known`.
    pub(super) fn unknown_key(
        &mut self,
        span: crate::diagnostic::Span,
        name: &str,
        known: &[&str],
    ) {
        self.unknown_key_or(span, name, known, || {
            format!("expected one of: {}", known.join(", "))
        });
    }

    /// As [`Compiler::unknown_key`], with `otherwise` as the hint when nothing in `known` is
    /// close (for key lists too long to print).
    pub(super) fn unknown_key_or(
        &mut self,
        span: crate::diagnostic::Span,
        name: &str,
        known: &[&str],
        otherwise: impl FnOnce() -> String,
    ) {
        let hint =
            crate::diagnostic::did_you_mean(name, known.iter().copied()).unwrap_or_else(otherwise);
        self.push(
            Diagnostic::new(
                crate::diagnostic::Code::UnknownKey,
                span,
                format!("unknown key `{name}`"),
            )
            .with_hint(hint),
        );
    }

    pub(super) fn read<T: DeserializeOwned>(&mut self, node: &Node) -> Option<T> {
        from_node(node, self.d)
    }
}

/// Reads and validates a rule file. `Ok` is a compiled rule, an unsupported rule or another
/// analysis file; `Err` is every problem found, sorted by position.
pub fn check_rule(source: &str) -> Result<RuleFile, Vec<Diagnostic>> {
    check_file(
        source,
        "a rule",
        "start the file with `AnalysisType: rule`, `RuleID:` and `Detection:`",
        read::rule_file,
    )
}

#[cfg(test)]
mod tests;
