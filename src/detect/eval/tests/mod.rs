//! Every condition family, compiled from YAML the way rules are written: `scalars` (equality,
//! strings, numbers, IP addresses, the regex extension), `collections` (`Has`, `IsIn`, list
//! comprehensions), `keys` (what a key specifier reaches, and whether anything is there) and
//! `rules` (combinators, the rule's verdict and its alert functions).

mod collections;
mod keys;
mod rules;
mod scalars;

use crate::detect::event;
use crate::detect::rule::{check_rule, Rule, RuleFile};
use serde_json::Value;

/// A `Test.Rule` on `Test.Log` at `Low`, with the keys in `extra`.
fn rule_with(extra: &str) -> Rule {
    let source = format!(
        "AnalysisType: rule\nRuleID: Test.Rule\nEnabled: true\nLogTypes: [Test.Log]\nSeverity: Low\n{extra}"
    );
    match check_rule(&source) {
        Ok(RuleFile::Rule(rule)) => *rule,
        Ok(other) => panic!("not a rule: {other:?}"),
        Err(diagnostics) => panic!("{source}\n{diagnostics:#?}"),
    }
}

/// Whether one `Detection` expression (a YAML flow mapping) holds for `event`, asserting that the
/// hot path's [`Event`] gets the same verdict.
fn holds(expression: &str, event: &Value) -> bool {
    let rule = rule_with(&format!("Detection:\n  - {expression}\n"));
    let verdict = rule.matches(event);
    let text = event.to_string();
    let mut parser = event::Parser::new();
    let parsed = parser.parse(&text).unwrap();
    assert_eq!(
        rule.matches(parsed.root()),
        verdict,
        "{expression} on the Event {text}"
    );
    verdict
}

/// Asserts an expression's verdict on each (event, expected) pair.
fn check(expression: &str, cases: &[(Value, bool)]) {
    for (event, expected) in cases {
        assert_eq!(
            holds(expression, event),
            *expected,
            "{expression} on {event}"
        );
    }
}
