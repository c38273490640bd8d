//! Running rules' unit tests as `panther_analysis_tool test` does: each test's `Log` is the event,
//! and the verdict (every `InlineFilters` and `Detection` expression holds) must equal its
//! `ExpectedResult`. For a matching event the alert functions (title, dedup string, severity,
//! context) are computed too, as Panther's tool does; warden's cannot fail, so they only inform.

use super::eval::Failure;
use super::load::{Loaded, LoadedRule};
use super::rule::{Rule, RuleTest};
use super::Severity;
use serde_json::{Map, Value};
use std::fmt;

/// What a matching event's alert would carry.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPreview {
    /// `title()`.
    pub title: String,
    /// `dedup()`.
    pub dedup: String,
    /// `severity()`.
    pub severity: Severity,
    /// `alert_context()`.
    pub context: Map<String, Value>,
}

/// The outcome of one test.
#[derive(Debug, Clone)]
pub struct TestResult<'r> {
    /// The test.
    pub test: &'r RuleTest,
    /// The verdict.
    pub matched: bool,
    /// When the rule did not match: the first expression that was false.
    pub failure: Option<Failure>,
    /// When the rule matched: the alert it would raise.
    pub alert: Option<AlertPreview>,
}

impl TestResult<'_> {
    /// Whether the verdict is the expected one.
    pub fn passed(&self) -> bool {
        self.matched == self.test.expected
    }
}

/// Runs every test of a rule, in file order.
pub fn run(rule: &Rule) -> Vec<TestResult<'_>> {
    rule.tests
        .iter()
        .map(|test| {
            let event = &test.log;
            match rule.explain(event) {
                Ok(()) => TestResult {
                    test,
                    matched: true,
                    failure: None,
                    alert: Some(AlertPreview {
                        title: rule.title(event),
                        dedup: rule.dedup(event),
                        severity: rule.severity_for(event),
                        context: rule.alert_context(event),
                    }),
                },
                Err(failure) => TestResult {
                    test,
                    matched: false,
                    failure: Some(failure),
                    alert: None,
                },
            }
        })
        .collect()
}

/// The results of a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rules loaded and run.
    pub rules: usize,
    /// Tests whose verdict was the expected one.
    pub passed: usize,
    /// Tests whose verdict was not.
    pub failed: usize,
    /// The `RuleID`s of unsupported rules (and `QueryName`s of SQL-only scheduled queries).
    pub unsupported: Vec<String>,
    /// Scheduled queries loaded (with a `WardenQuery`).
    pub queries: usize,
    /// Files with problems.
    pub invalid_files: usize,
}

impl Summary {
    /// Whether the run passes: no failed test and no invalid file.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.invalid_files == 0
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rule{}, {} test{} passed, {} failed, {} unsupported",
            self.rules,
            if self.rules == 1 { "" } else { "s" },
            self.passed,
            if self.passed == 1 { "" } else { "s" },
            self.failed,
            self.unsupported.len(),
        )?;
        if !self.unsupported.is_empty() {
            write!(f, " ({})", self.unsupported.join(", "))?;
        }
        // Only when there are any, so rule-only directories keep their summary line.
        if self.queries > 0 {
            write!(
                f,
                ", {} scheduled quer{}",
                self.queries,
                if self.queries == 1 { "y" } else { "ies" }
            )?;
        }
        if self.invalid_files > 0 {
            write!(
                f,
                ", {} invalid file{}",
                self.invalid_files,
                if self.invalid_files == 1 { "" } else { "s" }
            )?;
        }
        Ok(())
    }
}

/// Runs every loaded rule's tests.
pub fn run_all(loaded: &Loaded) -> (Vec<(&LoadedRule, Vec<TestResult<'_>>)>, Summary) {
    let mut summary = Summary {
        rules: loaded.rules.len(),
        unsupported: loaded
            .unsupported
            .iter()
            .map(|u| u.unsupported.id.clone())
            .collect(),
        queries: loaded.queries.len(),
        invalid_files: loaded.invalid_files().count(),
        ..Summary::default()
    };
    let results: Vec<_> = loaded
        .rules
        .iter()
        .map(|loaded_rule| (loaded_rule, run(&loaded_rule.rule)))
        .collect();
    for (_, tests) in &results {
        for result in tests {
            if result.passed() {
                summary.passed += 1;
            } else {
                summary.failed += 1;
            }
        }
    }
    (results, summary)
}
