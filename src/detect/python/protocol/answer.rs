//! What a worker answers, read straight into typed values: an `eval` answer is mostly `0`s and
//! a few matches whose `alert_context` is a copy of event fields, and reading it through a
//! `serde_json::Value` (then copying the context out) cost warden as much as writing the
//! events did.

use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::fmt;

/// An answer to one kind of request. Any answer may instead be `{"fatal": "..."}`: the worker
/// could not handle the message at all.
pub trait Answer: DeserializeOwned {
    /// The worker's `fatal` message, if that is what it answered.
    fn fatal(&self) -> Option<&str>;
}

/// The answer to `load`.
#[derive(Debug, Default, Deserialize)]
pub struct LoadAnswer {
    /// Each item (rule id, helper or model name) that did not load, and why.
    #[serde(default)]
    pub errors: Vec<LoadError>,
    #[serde(default)]
    fatal: Option<String>,
}

/// An item that did not load.
#[derive(Debug, Deserialize)]
pub struct LoadError {
    /// The rule id, helper or model name.
    #[serde(default)]
    pub id: String,
    /// What went wrong, where.
    #[serde(flatten)]
    pub error: PyError,
}

/// The answer to `eval`: per event, one result per rule.
#[derive(Debug, Default, Deserialize)]
pub struct EvalAnswer {
    /// `None` when the worker answered `fatal`.
    #[serde(default)]
    pub results: Option<Vec<Vec<Outcome>>>,
    #[serde(default)]
    fatal: Option<String>,
}

/// The answer to `test`.
#[derive(Debug, Deserialize)]
pub struct TestAnswer {
    /// The rule on the test's event; `None` when the worker answered `fatal`.
    #[serde(default)]
    pub result: Option<Outcome>,
    #[serde(default)]
    fatal: Option<String>,
}

impl Answer for LoadAnswer {
    fn fatal(&self) -> Option<&str> {
        self.fatal.as_deref()
    }
}

impl Answer for EvalAnswer {
    fn fatal(&self) -> Option<&str> {
        self.fatal.as_deref()
    }
}

impl Answer for TestAnswer {
    fn fatal(&self) -> Option<&str> {
        self.fatal.as_deref()
    }
}

/// A problem in user code, where Python saw it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PyError {
    /// What happened, e.g. "`rule` raised KeyError: 'x'".
    #[serde(default = "unknown_error")]
    pub message: String,
    /// The user file it points at, when known.
    #[serde(default)]
    pub path: Option<String>,
    /// The line in that file, when known.
    #[serde(default)]
    pub line: Option<u32>,
    /// The 1-based column, when Python gives one (syntax errors, imports).
    #[serde(default)]
    pub column: Option<u32>,
}

fn unknown_error() -> String {
    "unknown error".to_owned()
}

impl PyError {
    /// An error not tied to user code (a worker that died or did not answer).
    pub fn engine(message: impl Into<String>) -> PyError {
        PyError {
            message: message.into(),
            path: None,
            line: None,
            column: None,
        }
    }
}

impl fmt::Display for PyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line) {
            (Some(path), Some(line)) => write!(f, "{path}:{line}: {}", self.message),
            (Some(path), None) => write!(f, "{path}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// What Panther's optional functions returned for a matching event (`None`: not defined, or
/// returned `None`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Outputs {
    /// `title()`, at most 1,000 characters.
    pub title: Option<String>,
    /// `dedup()`, at most 1,000 characters.
    pub dedup: Option<String>,
    /// `severity()`, upper-case, `DEFAULT` already replaced by the rule's `Severity`.
    pub severity: Option<String>,
    /// `alert_context()`.
    pub alert_context: Option<Map<String, Value>>,
    /// `description()`.
    pub description: Option<String>,
    /// `reference()`.
    pub reference: Option<String>,
    /// `runbook()`.
    pub runbook: Option<String>,
    /// `destinations()`.
    pub destinations: Option<Vec<String>>,
}

/// One rule on one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `rule()` returned `True`.
    pub matched: bool,
    /// The optional functions' results, when matched.
    pub outputs: Outputs,
    /// `rule()` raised (then `matched` is false), or an optional function did (then the alert
    /// uses Panther's defaults for what failed), or the call ran past its deadline.
    pub error: Option<PyError>,
}

impl Outcome {
    /// The outcome of every call a failed exchange was carrying.
    pub fn failed(error: PyError) -> Outcome {
        Outcome {
            matched: false,
            outputs: Outputs::default(),
            error: Some(error),
        }
    }
}

/// A result on the wire is `0` (no match), or an object with `match` and/or `error`.
impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Outcome, D::Error> {
        deserializer.deserialize_any(OutcomeVisitor)
    }
}

struct OutcomeVisitor;

impl<'de> Visitor<'de> for OutcomeVisitor {
    type Value = Outcome;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0 or an object with `match` and/or `error`")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Outcome, E> {
        Ok(Outcome {
            matched: false,
            outputs: Outputs::default(),
            error: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Outcome, A::Error> {
        let mut outcome = self.visit_u64::<A::Error>(0)?;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "match" => {
                    outcome.matched = true;
                    outcome.outputs = map.next_value()?;
                }
                "error" => outcome.error = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outcome(value: Value) -> Outcome {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn results_read_as_no_match_match_and_error() {
        assert!(!outcome(json!(0)).matched);
        let hit = outcome(json!({"match": {"title": "t", "severity": "HIGH",
            "alert_context": {"a": 1}, "destinations": ["soc"], "runbook": null}}));
        assert!(hit.matched && hit.error.is_none());
        assert_eq!(hit.outputs.title.as_deref(), Some("t"));
        assert_eq!(hit.outputs.severity.as_deref(), Some("HIGH"));
        assert_eq!(hit.outputs.alert_context.unwrap()["a"], 1);
        assert_eq!(hit.outputs.destinations, Some(vec!["soc".to_owned()]));
        assert_eq!(hit.outputs.runbook, None);
        let raised = outcome(json!({"error": {"message": "`rule` raised KeyError: 'x'",
            "path": "r.py", "line": 3, "column": null}}));
        assert!(!raised.matched);
        assert_eq!(
            raised.error.unwrap().to_string(),
            "r.py:3: `rule` raised KeyError: 'x'"
        );
        let partly = outcome(json!({"match": {}, "error": {"message": "`title` raised"}}));
        assert!(partly.matched && partly.error.is_some());
    }

    #[test]
    fn a_fatal_answer_reads_as_fatal() {
        let answer: EvalAnswer = serde_json::from_str(r#"{"fatal": "KeyError: 'op'"}"#).unwrap();
        assert_eq!(answer.fatal(), Some("KeyError: 'op'"));
        assert!(answer.results.is_none());
        let load: LoadAnswer = serde_json::from_str(
            r#"{"errors": [{"id": "R", "message": "m", "path": "r.py", "line": 2, "column": 5}]}"#,
        )
        .unwrap();
        assert_eq!(load.errors[0].id, "R");
        assert_eq!(load.errors[0].error.column, Some(5));
    }
}
