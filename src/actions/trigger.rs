//! `trigger`: decides whether an event goes on, with Tines' condition semantics (see
//! [`crate::story::kinds::trigger`]). Pure: no I/O, no state.
//!
//! Values are compared the way a Tines story author expects rather than the way JSON types
//! would: `"5"` equals `5`, `true` equals `"true"`, and a list `value` means "any of these".

use super::{render, render_dynamic, Error};
use crate::pattern::{compile_regex_cached, regex_error_summary};
use crate::story::kinds::trigger::{RuleKind, TriggerOptions};
use crate::template::Context;
use serde_json::{json, Value};
use std::cmp::Ordering;

/// The result of a trigger's rules on one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Whether enough rules matched for the event to pass (otherwise it goes to `.no_match`).
    pub matched: bool,
    /// What the trigger records: the verdict and each rule's outcome by token, without the rendered
    /// values, so a run's history shows which rule failed without copying event data again.
    pub event: Value,
}

/// Tests the rules against `ctx`. Every rule is rendered and tested (not short-circuited), so the
/// recorded event always shows each rule's outcome and a broken template is never hidden by an
/// earlier match.
pub fn evaluate(options: &TriggerOptions, ctx: &Context) -> Result<Verdict, Error> {
    let mut outcomes = Vec::with_capacity(options.rules.len());
    let mut hits = 0usize;
    for (i, rule) in options.rules.iter().enumerate() {
        let kind = rule.kind.value;
        let actual = render(&format!("rules[{i}].path"), &rule.path, ctx)?;
        let expected = render_dynamic(&format!("rules[{i}].value"), &rule.value, ctx)?;
        let matched = test(kind, &actual, &expected)
            .map_err(|message| Error::permanent(format!("`rules[{i}].value`: {message}")))?;
        hits += usize::from(matched);
        outcomes.push(json!({ "type": kind.as_str(), "matched": matched }));
    }
    let needed = options
        .must_match
        .as_ref()
        .map_or(options.rules.len(), |n| n.value as usize);
    let matched = hits >= needed;
    Ok(Verdict {
        matched,
        event: json!({ "matched": matched, "rules": outcomes }),
    })
}

/// One rule on rendered values. A list `expected` means "any of these" for the positive tokens;
/// the negated tokens are the negation of the positive one, so `field!=value: [a, b]` means
/// "neither a nor b". `Err` carries the message of a bad regular expression.
fn test(kind: RuleKind, actual: &Value, expected: &Value) -> Result<bool, String> {
    let candidates = match expected {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    let any = |f: &dyn Fn(&Value) -> Result<bool, String>| -> Result<bool, String> {
        for candidate in candidates {
            if f(candidate)? {
                return Ok(true);
            }
        }
        Ok(false)
    };
    Ok(match kind {
        RuleKind::Regex => any(&|c| regex_matches(actual, c))?,
        RuleKind::NotRegex => !any(&|c| regex_matches(actual, c))?,
        RuleKind::Equal => any(&|c| Ok(loosely_equal(actual, c)))?,
        RuleKind::NotEqual => !any(&|c| Ok(loosely_equal(actual, c)))?,
        RuleKind::Less => any(&|c| Ok(compare(actual, c) == Some(Ordering::Less)))?,
        RuleKind::LessOrEqual => any(&|c| {
            Ok(matches!(
                compare(actual, c),
                Some(Ordering::Less | Ordering::Equal)
            ))
        })?,
        RuleKind::Greater => any(&|c| Ok(compare(actual, c) == Some(Ordering::Greater)))?,
        RuleKind::GreaterOrEqual => any(&|c| {
            Ok(matches!(
                compare(actual, c),
                Some(Ordering::Greater | Ordering::Equal)
            ))
        })?,
        RuleKind::In => any(&|c| Ok(contains(actual, c)))?,
        RuleKind::NotIn => !any(&|c| Ok(contains(actual, c)))?,
    })
}

/// The text a rule sees: strings as they are, null as empty, anything else as compact JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn regex_matches(actual: &Value, pattern: &Value) -> Result<bool, String> {
    let source = text(pattern);
    let regex = compile_regex_cached(&source, true).map_err(|e| {
        format!(
            "invalid regular expression `{source}`: {}",
            regex_error_summary(&e)
        )
    })?;
    Ok(regex.is_match(&text(actual)))
}

/// A number as a rule sees it. Integers stay exact so that large ids compare correctly; anything
/// else goes through `f64`.
#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

/// The number a value stands for: a JSON number, or a string that is entirely a finite number
/// (surrounding whitespace allowed). `"inf"` and `"NaN"` are text, not numbers.
fn number(value: &Value) -> Option<Num> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(|i| Num::Int(i.into()))
            .or_else(|| n.as_u64().map(|u| Num::Int(u.into())))
            .or_else(|| n.as_f64().map(Num::Float)),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(i) = s.parse::<i128>() {
                return Some(Num::Int(i));
            }
            let looks_numeric = !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
            s.parse::<f64>()
                .ok()
                .filter(|f| looks_numeric && f.is_finite())
                .map(Num::Float)
        }
        _ => None,
    }
}

/// Orders two values numerically; `None` when either side is not a number.
fn compare(actual: &Value, expected: &Value) -> Option<Ordering> {
    match (number(actual)?, number(expected)?) {
        (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
        (a, b) => as_f64(a).partial_cmp(&as_f64(b)),
    }
}

fn as_f64(n: Num) -> f64 {
    match n {
        // Precision loss is accepted here: only reached when the other side is fractional.
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    }
}

/// `field==value`: numerically when both sides are numbers, otherwise by text.
fn loosely_equal(actual: &Value, expected: &Value) -> bool {
    match compare(actual, expected) {
        Some(order) => order == Ordering::Equal,
        None => text(actual) == text(expected),
    }
}

/// `in`: a substring of a string (or of a number's or bool's text), an element of a list, a key
/// of a mapping. Null contains nothing.
fn contains(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::Null => false,
        Value::Array(items) => items.iter().any(|item| loosely_equal(item, needle)),
        Value::Object(map) => map.contains_key(&text(needle)),
        scalar => text(scalar).contains(&text(needle)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::actions::transform::tests::ctx;

    fn options(yaml: &str) -> TriggerOptions {
        crate::actions::transform::tests::options(yaml)
    }

    /// One rule of `kind` comparing `alert.x` (set to `actual`) with the YAML `value`.
    fn one(kind: &str, actual: Value, value: &str) -> bool {
        let o = options(&format!(
            "rules:\n  - type: \"{kind}\"\n    path: \"{{{{ alert.x }}}}\"\n    value: {value}\n"
        ));
        evaluate(&o, &ctx(json!({ "x": actual })))
            .expect("evaluates")
            .matched
    }

    #[test]
    fn regex_is_case_insensitive_and_tests_the_text_form() {
        assert!(one("regex", json!("Malicious"), "\"^mal\""));
        assert!(!one("regex", json!("benign"), "\"^mal\""));
        assert!(one("regex", json!(42), "\"^4\\\\d$\""));
        assert!(one("regex", json!(null), "\"^$\""));
        assert!(one("regex", json!({"a": 1}), "'\\{\"a\":1\\}'"));
    }

    #[test]
    fn not_regex_is_the_negation_of_regex() {
        assert!(!one("!regex", json!("Malicious"), "\"^mal\""));
        assert!(one("!regex", json!("benign"), "\"^mal\""));
    }

    #[test]
    fn numeric_strings_compare_as_numbers() {
        assert!(one("field==value", json!("5"), "5"));
        assert!(one("field==value", json!(5), "\"5.0\""));
        assert!(one("field==value", json!(" 5 "), "5"));
        assert!(!one("field==value", json!("5"), "6"));
    }

    #[test]
    fn large_integers_compare_exactly() {
        assert!(!one(
            "field==value",
            json!(9_007_199_254_740_993_u64),
            "9007199254740992"
        ));
        assert!(one(
            "field==value",
            json!(9_007_199_254_740_993_u64),
            "\"9007199254740993\""
        ));
    }

    #[test]
    fn non_numbers_compare_as_text() {
        assert!(one("field==value", json!(true), "\"true\""));
        assert!(one("field==value", json!("abc"), "abc"));
        assert!(!one("field==value", json!("ABC"), "abc"));
        assert!(one("field==value", json!(null), "\"\""));
        assert!(!one("field==value", json!("inf"), "\"Infinity\""));
    }

    #[test]
    fn not_equal_is_the_negation_of_equal() {
        assert!(one("field!=value", json!("a"), "b"));
        assert!(!one("field!=value", json!("5"), "5.0"));
    }

    #[test]
    fn ordering_rules_compare_numbers() {
        assert!(one("field<value", json!(3), "5"));
        assert!(!one("field<value", json!(5), "5"));
        assert!(one("field<=value", json!("5"), "5"));
        assert!(one("field>value", json!(5.5), "\"5\""));
        assert!(!one("field>value", json!(5), "5"));
        assert!(one("field>=value", json!(5), "5.0"));
        assert!(!one("field>=value", json!(4), "5"));
    }

    #[test]
    fn ordering_a_non_number_does_not_match() {
        assert!(!one("field>value", json!("high"), "1"));
        assert!(!one("field<value", json!("high"), "1"));
        assert!(!one("field<=value", json!(null), "1"));
        assert!(!one("field>=value", json!([1]), "0"));
    }

    #[test]
    fn in_finds_substrings_elements_and_keys() {
        assert!(one("in", json!("evil.example.com"), "example"));
        assert!(!one("in", json!("evil.example.com"), "good"));
        assert!(one("in", json!(["a", 5]), "\"5\""));
        assert!(!one("in", json!(["a", "b"]), "c"));
        assert!(one("in", json!({"admin": true}), "admin"));
        assert!(!one("in", json!({"admin": true}), "true"));
        assert!(!one("in", json!(null), "\"\""));
    }

    #[test]
    fn not_in_is_the_negation_of_in() {
        assert!(one("not in", json!("evil.example.com"), "good"));
        assert!(!one("not in", json!(["a", "b"]), "a"));
        assert!(one("not in", json!(null), "x"));
    }

    #[test]
    fn a_list_value_means_any_of_these() {
        assert!(one("field==value", json!("b"), "[a, b]"));
        assert!(!one("field==value", json!("c"), "[a, b]"));
        assert!(one("regex", json!("Trojan"), "[\"^worm\", \"^troj\"]"));
        assert!(one("field>value", json!(3), "[10, 2]"));
    }

    #[test]
    fn a_negated_rule_with_a_list_means_none_of_these() {
        assert!(!one("field!=value", json!("b"), "[a, b]"));
        assert!(one("field!=value", json!("c"), "[a, b]"));
        assert!(!one("not in", json!("abc"), "[x, b]"));
    }

    #[test]
    fn a_template_value_can_give_the_list() {
        let o = options(
            "rules:\n  - type: \"field==value\"\n    path: \"{{ alert.x }}\"\n    value: \"{{ alert.allowed }}\"\n",
        );
        let verdict = evaluate(&o, &ctx(json!({"x": 2, "allowed": [1, 2]}))).unwrap();
        assert!(verdict.matched);
    }

    #[test]
    fn every_rule_must_match_by_default() {
        let o = options(
            "rules:\n  - type: \"field==value\"\n    path: \"{{ alert.a }}\"\n    value: 1\n  - type: \"field==value\"\n    path: \"{{ alert.b }}\"\n    value: 2\n",
        );
        assert!(evaluate(&o, &ctx(json!({"a": 1, "b": 2}))).unwrap().matched);
        assert!(!evaluate(&o, &ctx(json!({"a": 1, "b": 3}))).unwrap().matched);
    }

    #[test]
    fn must_match_sets_how_many_rules_are_enough() {
        let o = options(
            "must_match: 1\nrules:\n  - type: \"field==value\"\n    path: \"{{ alert.a }}\"\n    value: 1\n  - type: \"field==value\"\n    path: \"{{ alert.b }}\"\n    value: 2\n",
        );
        assert!(evaluate(&o, &ctx(json!({"a": 0, "b": 2}))).unwrap().matched);
        assert!(!evaluate(&o, &ctx(json!({"a": 0, "b": 0}))).unwrap().matched);
    }

    #[test]
    fn the_event_lists_each_rule_outcome_without_values() {
        let o = options(
            "must_match: 1\nrules:\n  - type: regex\n    path: \"{{ alert.a }}\"\n    value: secret\n  - type: \"not in\"\n    path: \"{{ alert.b }}\"\n    value: x\n",
        );
        let verdict = evaluate(&o, &ctx(json!({"a": "secret-value", "b": "x"}))).unwrap();
        assert_eq!(
            verdict.event,
            json!({"matched": true, "rules": [
                {"type": "regex", "matched": true},
                {"type": "not in", "matched": false},
            ]})
        );
    }

    #[test]
    fn a_bad_regex_from_a_template_is_permanent() {
        let o = options(
            "rules:\n  - type: regex\n    path: \"{{ alert.a }}\"\n    value: \"{{ alert.pattern }}\"\n",
        );
        let error = evaluate(&o, &ctx(json!({"a": "x", "pattern": "(unclosed"}))).unwrap_err();
        assert_eq!(error.class(), "permanent");
        assert!(error.to_string().contains("rules[0].value"), "{error}");
    }

    #[test]
    fn a_render_error_is_permanent() {
        let o = options(
            "rules:\n  - type: \"field==value\"\n    path: \"{{ alert.missing }}\"\n    value: 1\n",
        );
        let error = evaluate(&o, &ctx(json!({}))).unwrap_err();
        assert_eq!(error.class(), "permanent");
        assert!(error.to_string().contains("rules[0].path"), "{error}");
    }
}
