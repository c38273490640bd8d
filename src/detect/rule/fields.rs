//! Reading single keys: the ids, severity, positive counts and unit tests.

use super::{Compiler, Mock, RuleTest};
use crate::detect::Severity;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::yaml::{Key, Node};
use serde::Deserialize;
use serde_json::Value;

/// `RuleID`/`DisplayName` may not contain `<`, `>`, `&`, `"` or `%` (Panther's regex).
fn forbidden_char(text: &str) -> Option<char> {
    text.chars()
        .find(|c| matches!(c, '<' | '>' | '&' | '"' | '%'))
}

pub(super) fn read_id(c: &mut Compiler, node: &Node) -> Option<(String, Span)> {
    let id: String = c.read(node)?;
    if id.trim().is_empty() {
        c.push(
            Diagnostic::new(Code::InvalidId, node.span, "`RuleID` is empty")
                .with_hint("name the rule, e.g. `Okta.AdminRoleAssigned`"),
        );
        return None;
    }
    if let Some(bad) = forbidden_char(&id) {
        c.push(
            Diagnostic::new(
                Code::InvalidId,
                node.span,
                format!("RuleID `{id}` contains `{bad}`"),
            )
            .with_hint("a RuleID may not contain < > & \" or %"),
        );
        return None;
    }
    Some((id, node.span))
}

/// A `DisplayName` or `QueryName` (`what`): Panther forbids the same characters as in a `RuleID`.
pub(in crate::detect) fn read_name(c: &mut Compiler, what: &str, node: &Node) -> Option<String> {
    let name: String = c.read(node)?;
    if let Some(bad) = forbidden_char(&name) {
        c.push(
            Diagnostic::new(
                Code::InvalidValue,
                node.span,
                format!("{what} `{name}` contains `{bad}`"),
            )
            .with_hint(format!("a {what} may not contain < > & \" or %")),
        );
        return None;
    }
    Some(name)
}

pub(super) fn read_severity(c: &mut Compiler, node: &Node) -> Option<Severity> {
    let text: String = c.read(node)?;
    let severity = Severity::parse(&text);
    if severity.is_none() {
        c.push(super::alert::severity_error(node, &text));
    }
    severity
}

pub(super) fn read_positive(c: &mut Compiler, key: &Key, node: &Node) -> Option<u32> {
    read_at_least(c, key, node, 1, "remove the key to use Panther's default")
}

/// An integer of at least `min`; `hint` says what to write instead.
pub(in crate::detect) fn read_at_least(
    c: &mut Compiler,
    key: &Key,
    node: &Node,
    min: u32,
    hint: &str,
) -> Option<u32> {
    let value: u32 = c.read(node)?;
    if value < min {
        c.push(
            Diagnostic::new(
                Code::InvalidOption,
                node.span,
                format!("`{}` must be at least {min}", key.name),
            )
            .with_hint(hint),
        );
        return None;
    }
    Some(value)
}

/// A test as written; required keys are checked by hand to name the test in messages.
#[derive(Deserialize)]
struct RawTest {
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "ExpectedResult")]
    expected_result: Option<bool>,
    #[serde(rename = "Log")]
    log: Option<Value>,
    #[serde(rename = "Mocks")]
    mocks: Option<Vec<Mock>>,
    /// Legacy; ignored.
    #[serde(rename = "LogType")]
    #[allow(dead_code)]
    log_type: Option<String>,
}

pub(super) fn read_tests(c: &mut Compiler, key: &Key, node: &Node) -> Option<Vec<RuleTest>> {
    let items = c.list(key, node)?;
    let mut tests = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        let Some(raw) = c.read::<RawTest>(item) else {
            ok = false;
            continue;
        };
        let label = raw
            .name
            .as_deref()
            .map_or_else(|| "a test".to_owned(), |n| format!("test `{n}`"));
        for (present, field) in [
            (raw.name.is_some(), "Name"),
            (raw.expected_result.is_some(), "ExpectedResult"),
            (raw.log.is_some(), "Log"),
        ] {
            if !present {
                c.push(
                    Diagnostic::new(
                        Code::MissingKey,
                        item.span,
                        format!("{label} has no `{field}`"),
                    )
                    .with_hint("a test has `Name`, `ExpectedResult` and `Log` (the event)"),
                );
                ok = false;
            }
        }
        if let (Some(name), Some(expected), Some(log)) = (raw.name, raw.expected_result, raw.log) {
            tests.push(RuleTest {
                name,
                expected,
                log,
                mocks: raw.mocks.unwrap_or_default(),
                span: item.span,
            });
        }
    }
    ok.then_some(tests)
}
