//! Running rules' unit tests as `panther_analysis_tool test` does: each test's `Log` is the event,
//! and the verdict (every `InlineFilters` and `Detection` expression holds) must equal its
//! `ExpectedResult`. For a matching event the alert functions (title, dedup string, severity,
//! context) are computed too, as Panther's tool does; warden's cannot fail, so they only inform.
//!
//! A Python rule's test runs in a Python worker with its `Mocks` patched on the rule's module
//! (`objectName` → a mock returning `returnValue`), as `panther_analysis_tool` does: the test
//! fails when `rule()` raises or returns a non-bool, when the verdict differs, or when the rule
//! matched and `title`, `dedup`, `severity`, `alert_context` (or another alert function) raised
//! or returned the wrong type.

use super::eval::Failure;
use super::load::{Loaded, LoadedRule};
use super::python::{self, Pool, PyError};
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
    /// A Python rule's error: a function raised, returned the wrong type, or ran late.
    pub error: Option<PyError>,
}

impl TestResult<'_> {
    /// Whether the verdict is the expected one and nothing raised.
    pub fn passed(&self) -> bool {
        self.matched == self.test.expected && self.error.is_none()
    }
}

/// Runs every test of a rule, in file order; a Python rule's run on `pool` (an error for each
/// test when there is none).
pub fn run<'r>(rule: &'r Rule, pool: Option<&Pool>) -> Vec<TestResult<'r>> {
    if rule.python.is_some() {
        return run_python(rule, pool);
    }
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
                    error: None,
                },
                Err(failure) => TestResult {
                    test,
                    matched: false,
                    failure: Some(failure),
                    alert: None,
                    error: None,
                },
            }
        })
        .collect()
}

fn run_python<'r>(rule: &'r Rule, pool: Option<&Pool>) -> Vec<TestResult<'r>> {
    rule.tests
        .iter()
        .map(|test| {
            let outcome = match pool {
                Some(pool) => {
                    let mocks = test
                        .mocks
                        .iter()
                        .map(|m| {
                            serde_json::json!({"objectName": m.object_name, "returnValue": m.return_value})
                        })
                        .collect();
                    pool.test(&rule.id, &test.log, mocks)
                }
                None => python::Outcome::failed(PyError::engine("Python is not running")),
            };
            let alert = outcome.matched.then(|| {
                let fields = python::alert_fields(rule, &outcome.outputs);
                AlertPreview {
                    title: fields.title,
                    dedup: fields.dedup,
                    severity: fields.severity,
                    context: fields.context,
                }
            });
            TestResult {
                test,
                matched: outcome.matched,
                failure: None,
                alert,
                error: outcome.error,
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
    let library = python::library(loaded.rules.iter().map(|r| &r.rule));
    let pool = (!library.rules.is_empty()).then(|| Pool::new(python::Config::from_env(), &library));
    let results: Vec<_> = loaded
        .rules
        .iter()
        .map(|loaded_rule| (loaded_rule, run(&loaded_rule.rule, pool.as_ref())))
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
