//! Reading typed structs: positions, unknown keys, wrong types, coded errors.

use super::*;
use crate::diagnostic::{Code, Span};
use crate::yaml::parse;
use serde::de;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Options {
    url: Spanned<String>,
    #[serde(default)]
    retries: u32,
    method: Option<Method>,
    enabled: Option<bool>,
    tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "UPPERCASE")]
enum Method {
    Get,
    Post,
}

fn read<T: DeserializeOwned>(source: &str) -> (Option<T>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let node = parse(source, &mut diagnostics).unwrap();
    let value = from_node(&node, &mut diagnostics);
    (value, diagnostics)
}

#[test]
fn spanned_values_carry_their_position() {
    let (options, diagnostics) = read::<Options>("retries: 2\nurl: https://x\n");
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let options = options.unwrap();
    assert_eq!(options.url.value, "https://x");
    assert_eq!(options.url.span, Span::new(2, 6));
    assert_eq!(options.retries, 2);
}

#[test]
fn every_unknown_key_is_reported_and_the_struct_still_builds() {
    let (options, diagnostics) = read::<Options>("url: x\nmethd: GET\nretires: 3\nbanana: 1\n");
    assert!(options.is_some());
    let messages: Vec<_> = diagnostics
        .iter()
        .map(|d| (d.code, d.span.line, d.hint.clone().unwrap()))
        .collect();
    assert_eq!(
        messages,
        vec![
            (Code::UnknownKey, 2, "did you mean `method`?".to_owned()),
            (Code::UnknownKey, 3, "did you mean `retries`?".to_owned()),
            (
                Code::UnknownKey,
                4,
                "expected one of: url, retries, method, enabled, tags".to_owned()
            ),
        ]
    );
}

#[test]
fn wrong_types_point_at_the_value() {
    let (options, diagnostics) = read::<Options>("url: x\nretries: many\n");
    assert!(options.is_none());
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].code, Code::InvalidValue);
    assert_eq!(diagnostics[0].span, Span::new(2, 10));
    assert!(
        diagnostics[0].message.contains("found a string"),
        "{}",
        diagnostics[0].message
    );
}

#[test]
fn yaml_1_1_booleans_get_a_hint() {
    let (_, diagnostics) = read::<Options>("url: x\nenabled: yes\n");
    assert_eq!(diagnostics[0].code, Code::InvalidValue);
    assert!(diagnostics[0].hint.as_deref().unwrap().contains("YAML 1.2"));
}

#[test]
fn missing_keys_are_reported() {
    let (_, diagnostics) = read::<Options>("retries: 1\n");
    assert_eq!(diagnostics[0].code, Code::MissingKey);
    assert_eq!(diagnostics[0].message, "missing required key `url`");
}

#[test]
fn unknown_enum_values_suggest_the_closest() {
    let (_, diagnostics) = read::<Options>("url: x\nmethod: GTE\n");
    assert_eq!(diagnostics[0].code, Code::InvalidValue);
    assert_eq!(diagnostics[0].span, Span::new(2, 9));
    assert_eq!(diagnostics[0].hint.as_deref(), Some("did you mean `GET`?"));
}

#[test]
fn plain_scalars_read_as_strings_keep_their_text() {
    let (tags, _) = read::<Vec<String>>("[1.10, 0x1F, true]");
    assert_eq!(tags.unwrap(), vec!["1.10", "0x1F", "true"]);
}

#[test]
fn coded_errors_keep_their_code_and_hint() {
    struct Odd;
    impl<'de> Deserialize<'de> for Odd {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let _ = String::deserialize(d)?;
            Err(coded(Code::BadDuration, "bad duration `x`", "write 5m"))
        }
    }
    let (_, diagnostics) = read::<Vec<Odd>>("- a\n- b\n");
    assert_eq!(diagnostics[0].code, Code::BadDuration);
    assert_eq!(diagnostics[0].message, "bad duration `x`");
    assert_eq!(diagnostics[0].hint.as_deref(), Some("write 5m"));
    assert_eq!(diagnostics[0].span, Span::new(1, 3));
}

#[test]
fn spanned_map_keys_carry_the_key_position() {
    #[derive(Deserialize)]
    struct Wrapper {
        inputs: Entries<String>,
    }
    let (wrapper, diagnostics) = read::<Wrapper>("inputs:\n  ip: 1.2.3.4\n  host: h\n");
    assert!(diagnostics.is_empty());
    let keys: Vec<_> = wrapper
        .unwrap()
        .inputs
        .0
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys[0].value, "ip");
    assert_eq!(keys[0].span, Span::new(2, 3));
    assert_eq!(keys[1].span, Span::new(3, 3));
}
