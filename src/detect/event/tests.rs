//! [`Event`] against `serde_json::Value`: parsing, normalisation and every shipped rule agree.

use super::*;
use crate::detect::load;
use crate::detect::normalize::{normalize, LogType};
use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::json;
use std::path::PathBuf;

/// Parses `text` both ways: the same value, or the same error; and the fast reader takes every
/// text `serde_json` accepts.
fn assert_parses_like_serde_json(text: &str) {
    let expected = serde_json::from_str::<Value>(text).map_err(|e| e.to_string());
    let mut parser = Parser::new();
    let parsed = parser.parse(text).map(|doc| doc.to_value());
    assert_eq!(parsed.map_err(|e| e.to_string()), expected, "{text:?}");
    let read = read::read(text, &Bump::new(), &mut read::Stacks::default()).is_some();
    assert_eq!(read, expected.is_ok(), "{text:?}");
}

#[test]
fn parsing_agrees_with_serde_json_on_valid_and_invalid_text() {
    let texts = [
        r#"{"a": 1, "b": [true, false, null], "c": {"d": "e"}}"#,
        " \t\r\n{ \"spaced\" : [ 1 , 2 ] } \n",
        r#"{"escapes": "q\" b\\ s\/ \b\f\n\r\t \u00e9 \u20AC \ud83d\ude00 end", "k\u0041": 1}"#,
        r#"{"é": "ÉCOLE", "emoji": "😀"}"#,
        r#"[0, 7, 18446744073709551615, 18446744073709551616, 12345678901234567890123]"#,
        r#"[-0, -1, -9223372036854775808, -9223372036854775809, 1.5, -2.25e-3, 1E2, 1e400]"#,
        r#"[48.8916, 2.7939, -119.688, 0.1, 1e-400, 123456789.123456789e5]"#,
        r#"[-0.0, 0.0, 1234567890.123456789, 9999999999.999999999, 0.000000000000000001]"#,
        r#"[0.0000000000000000001, 12345678901234567890.5, 0.30000000000000004, -1.5]"#,
        r#"{"a": 1, "b": 2, "a": 3, "B": 4, "b": 5}"#,
        r#""top-level string""#,
        "42",
        "true",
        "null",
        "[]",
        "{}",
        // Rejected, with `serde_json`'s message.
        "",
        " ",
        "{",
        r#"{"a": 1,}"#,
        "[1, 2,]",
        r#"{"a" 1}"#,
        r#"{a: 1}"#,
        "[01]",
        "[1.]",
        "[1e]",
        "[-]",
        "[.5]",
        "[+1]",
        "tru",
        "nul",
        "[true false]",
        r#"{"a": 1} x"#,
        r#"{"a": 1}{"b": 2}"#,
        "\"control \u{1} char\"",
        r#""bad \x escape""#,
        r#""lone \ud800 surrogate""#,
        r#""lone \udc00 trailing""#,
        r#""pair \ud800\u0041 broken""#,
        r#""short \u12""#,
        r#""unterminated"#,
        "\u{feff}{}",
    ];
    for text in texts {
        assert_parses_like_serde_json(text);
    }
}

#[test]
fn nesting_is_limited_as_serde_json_limits_it() {
    for depth in [126, 127, 128, 129, 300] {
        assert_parses_like_serde_json(&format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        assert_parses_like_serde_json(&objects);
    }
}

#[test]
fn strings_without_escapes_are_borrowed_from_the_text() {
    let text = r#"{"plain": "text", "escaped": "a\nb"}"#;
    let mut parser = Parser::new();
    let doc = parser.parse(text).unwrap();
    let Event::Object(fields) = *doc.root() else {
        panic!("{doc:?}");
    };
    let in_text = |s: &str| text.as_bytes().as_ptr_range().contains(&s.as_ptr());
    assert!(matches!(fields[0], ("plain", Event::String("text"))));
    assert!(in_text(fields[0].0) && in_text(fields[1].0));
    let Event::String(plain) = fields[0].1 else {
        panic!("{fields:?}");
    };
    assert!(in_text(plain));
    let Event::String(escaped) = fields[1].1 else {
        panic!("{fields:?}");
    };
    assert_eq!(escaped, "a\nb");
    assert!(!in_text(escaped));
}

#[test]
fn a_parser_reads_one_text_after_another() {
    let mut parser = Parser::new();
    for text in [r#"{"a": [1, "x"]}"#, "[]", r#"{"b": {"c": null}}"#, "{"] {
        let expected = serde_json::from_str::<Value>(text).map_err(|e| e.to_string());
        let parsed = parser.parse(text).map(|doc| doc.to_value());
        assert_eq!(parsed.map_err(|e| e.to_string()), expected, "{text}");
    }
}

fn rule_paths() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    vec![
        root.join("rules"),
        root.join("tests/fixtures/conformance/panther-simple-detections"),
    ]
}

fn parse_time() -> Timestamp {
    "2024-01-02T03:04:05.123456789Z".parse().unwrap()
}

/// Normalises `value` both ways and asserts the same result, returning the normalised event text.
fn assert_normalizes_alike(value: &Value, log_type: &LogType) -> Option<Value> {
    let mut expected = value.clone();
    let result = normalize(&mut expected, log_type, parse_time(), "row");
    let text = value.to_string();
    let mut parser = Parser::new();
    let mut doc = parser.parse(&text).unwrap();
    assert_eq!(
        normalize(&mut doc, log_type, parse_time(), "row"),
        result,
        "{text}"
    );
    assert_eq!(doc.to_value(), expected, "{log_type} {text}");
    result.is_ok().then_some(expected)
}

#[test]
fn every_rule_test_gets_the_same_verdict_and_alert_from_both_trees() {
    let loaded = load::load(&rule_paths()).unwrap();
    assert!(loaded.rules.len() > 30, "{} rules", loaded.rules.len());
    let mut tests = 0;
    for loaded_rule in &loaded.rules {
        let rule = &loaded_rule.rule;
        for test in &rule.tests {
            let text = test.log.to_string();
            let mut parser = Parser::new();
            let doc = parser.parse(&text).unwrap();
            let event = doc.root();
            let name = format!("{} / {}", rule.id, test.name);
            assert_eq!(event.to_value(), test.log, "{name}");
            assert_eq!(rule.explain(event), rule.explain(&test.log), "{name}");
            assert_eq!(rule.matches(event), rule.matches(&test.log), "{name}");
            assert_eq!(rule.title(event), rule.title(&test.log), "{name}");
            assert_eq!(rule.dedup(event), rule.dedup(&test.log), "{name}");
            assert_eq!(
                rule.severity_for(event),
                rule.severity_for(&test.log),
                "{name}"
            );
            assert_eq!(
                rule.alert_context(event),
                rule.alert_context(&test.log),
                "{name}"
            );
            for log_type in &rule.log_types {
                let log_type = LogType::parse(log_type);
                if let Some(normalized) = assert_normalizes_alike(&test.log, &log_type) {
                    let text = normalized.to_string();
                    let doc = parser.parse(&text).unwrap();
                    let verdict = rule.matches(doc.root());
                    assert_eq!(verdict, rule.matches(&normalized), "{name}");
                }
            }
            tests += 1;
        }
    }
    assert!(tests >= 72, "{tests} tests");
}

#[test]
fn okta_events_normalize_alike_as_okta_and_as_generic_json() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/okta-systemlog.ndjson");
    let text = std::fs::read_to_string(path).unwrap();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line).unwrap();
        for log_type in [LogType::OktaSystemLog, LogType::parse("Custom.Audit")] {
            assert!(assert_normalizes_alike(&value, &log_type).is_some());
        }
        let mut forged = value.clone();
        let object = forged.as_object_mut().unwrap();
        object.insert("p_log_type".into(), json!("AWS.CloudTrail"));
        object.insert("P_Any_Emails".into(), json!(["evil@example.com"]));
        object.insert("published".into(), json!(1_614_834_367_250_i64));
        assert_normalizes_alike(&forged, &LogType::OktaSystemLog);
    }
    for not_an_object in [json!([1]), json!("text"), json!(null)] {
        assert_eq!(
            assert_normalizes_alike(&not_an_object, &LogType::OktaSystemLog),
            None
        );
    }
}

/// JSON values of every kind, with keys that repeat in other cases.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[a-zA-Z\"\\\\/\u{0}-\u{1f}é😀 ]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(("[aA]{1,2}|[a-z]{1,6}|p_[a-z]{1,3}", inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_value_round_trips_through_its_text(value in value()) {
        assert_parses_like_serde_json(&value.to_string());
        assert_parses_like_serde_json(&serde_json::to_string_pretty(&value).unwrap());
    }

    #[test]
    fn any_edited_text_parses_as_serde_json_parses_it(
        value in value(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        const BYTES: &[u8] = b"{}[],:\"\\ u0123456789.eE-+tfn/\x01";
        let mut text = value.to_string().into_bytes();
        for (position, pick) in edits {
            let at = position % (text.len() + 1);
            let byte = BYTES[usize::from(pick) % BYTES.len()];
            if pick % 2 == 0 && at < text.len() {
                text[at] = byte;
            } else {
                text.insert(at, byte);
            }
        }
        if let Ok(text) = String::from_utf8(text) {
            assert_parses_like_serde_json(&text);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Decimals without exponent are read here, not by `serde_json`: the same number all the same.
    #[test]
    fn decimals_are_read_as_serde_json_reads_them(
        negative in any::<bool>(),
        int in "0|[1-9][0-9]{0,12}",
        fraction in "[0-9]{1,12}",
    ) {
        let sign = if negative { "-" } else { "" };
        assert_parses_like_serde_json(&format!("[{sign}{int}.{fraction}]"));
    }
}
