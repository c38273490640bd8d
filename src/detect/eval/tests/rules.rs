//! A rule as a whole: absolute conditions and combinators, InlineFilters with Detection, and the
//! alert functions (title, dedup, severity, context) with Panther's fallbacks.

use super::{check, holds, rule_with};
use crate::detect::Severity;
use serde_json::{json, Value};

#[test]
fn absolute_conditions_and_combinators() {
    assert!(holds("{Condition: AlwaysTrue}", &json!({})));
    assert!(!holds("{Condition: AlwaysFalse}", &json!({})));
    let t = "{Condition: AlwaysTrue}";
    let f = "{Condition: AlwaysFalse}";
    let cases = [
        ("All", vec![t, t], true),
        ("All", vec![t, f], false),
        ("All", vec![], true),
        ("Any", vec![f, t], true),
        ("Any", vec![f, f], false),
        ("Any", vec![], false),
        ("OnlyOne", vec![f, t, f], true),
        ("OnlyOne", vec![t, t], false),
        ("OnlyOne", vec![f], false),
        ("None", vec![f, f], true),
        ("None", vec![f, t], false),
    ];
    for (combinator, items, expected) in cases {
        let expression = format!("{{{combinator}: [{}]}}", items.join(", "));
        assert_eq!(holds(&expression, &json!({})), expected, "{expression}");
    }
    let nested = "{Any: [{All: [{Key: a, Condition: Equals, Value: 1}, {Key: b, Condition: Equals, Value: 2}]}, {None: [{Key: c, Condition: Exists}]}]}";
    check(
        nested,
        &[
            (json!({"a": 1, "b": 2, "c": 0}), true),
            (json!({"a": 1, "c": 0}), false),
            (json!({"a": 1}), true),
        ],
    );
}

#[test]
fn verdict_is_inline_filters_and_detection() {
    let rule = rule_with(
        "InlineFilters:\n  - {KeyPath: actionName, Condition: Equals, Value: Beans}\n\
         Detection:\n  - {Key: userAgent, Condition: Equals, Value: Max}\n",
    );
    assert!(rule.matches(&json!({"userAgent": "Max", "actionName": "Beans"})));
    assert!(!rule.matches(&json!({"userAgent": "Max"})));
    assert!(!rule.matches(&json!({"userAgent": "John", "actionName": "Beans"})));
    let failure = rule.explain(&json!({"userAgent": "Max"})).unwrap_err();
    assert_eq!(failure.section.to_string(), "InlineFilters");
    assert_eq!(failure.found.as_deref(), Some("`actionName` is missing"));
}

#[test]
fn alert_functions_follow_panthers_fallbacks() {
    let bare = rule_with("Detection:\n  - {Condition: AlwaysTrue}\n");
    let event = json!({"user": "alice", "n": 3});
    assert_eq!(bare.title(&event), "Test.Rule");
    assert_eq!(bare.dedup(&event), "defaultDedupString:Test.Rule");
    assert_eq!(bare.severity_for(&event), Severity::Low);
    assert!(bare.alert_context(&event).is_empty());
    let named = rule_with("DisplayName: Nice name\nDetection:\n  - {Condition: AlwaysTrue}\n");
    assert_eq!(named.title(&event), "Nice name");
    assert_eq!(named.dedup(&event), "defaultDedupString:Test.Rule");

    let full = rule_with(
        "Detection:\n  - {Condition: AlwaysTrue}\n\
         AlertTitle: '{user} did {n} things'\n\
         GroupBy:\n  - {Key: user}\n  - {KeyPath: missing.key}\n\
         AlertContext:\n  - {KeyName: who, KeyValue: {Key: USER}}\n  - {KeyName: gone, KeyValue: {KeyPath: a.b}}\n\
         DynamicSeverities:\n\
         \x20 - {ChangeTo: DEFAULT, Conditions: [{Key: n, Condition: Equals, Value: 0}]}\n\
         \x20 - {ChangeTo: critical, Conditions: [{Key: n, Condition: IsGreaterThan, Value: 2}]}\n\
         \x20 - {ChangeTo: High, Conditions: [{Condition: AlwaysTrue}]}\n",
    );
    assert_eq!(full.title(&event), "alice did 3 things");
    assert_eq!(full.dedup(&event), "alice:<unknown>");
    assert_eq!(full.severity_for(&event), Severity::Critical);
    assert_eq!(full.severity_for(&json!({"n": 1})), Severity::High);
    assert_eq!(full.severity_for(&json!({"n": 0})), Severity::Low);
    assert_eq!(
        Value::Object(full.alert_context(&event)),
        json!({"who": "alice", "gone": null})
    );
    let titled = rule_with("Detection:\n  - {Condition: AlwaysTrue}\nAlertTitle: 'Hello {user}'\n");
    assert_eq!(titled.dedup(&event), "Hello alice");
}
