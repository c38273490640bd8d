//! Parsing: positions, scalars, keys, aliases and the limits.

use super::*;
use crate::diagnostic::{Code, Diagnostic, Span};

fn parse_ok(source: &str) -> Node {
    let mut diagnostics = Vec::new();
    let node = parse(source, &mut diagnostics).expect("parses");
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    node
}

/// The diagnostics of a document that cannot be read at all.
fn parse_err(source: &str) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    assert!(parse(source, &mut diagnostics).is_none());
    diagnostics
}

#[test]
fn expect_list_gives_the_items_or_says_what_was_found() {
    let node = parse_ok("rules: [a, b]\nmatchers: {a: 1}\n");
    let items = node
        .get("rules")
        .unwrap()
        .expect_list("rules", "a list")
        .unwrap();
    assert_eq!(items.len(), 2);
    let error = node
        .get("matchers")
        .unwrap()
        .expect_list("matchers", "a list of matchers")
        .unwrap_err();
    assert_eq!(error.code, Code::InvalidValue);
    assert_eq!(error.span, Span::new(2, 11));
    assert_eq!(
        error.message,
        "`matchers` must be a list of matchers, found a mapping"
    );
}

#[test]
fn positions_are_one_based_lines_and_columns() {
    let node = parse_ok("a: 1\nbb:\n  c: [x, 'y']\n");
    let entries = node.as_map().unwrap();
    assert_eq!(entries[0].0.span, Span::new(1, 1));
    assert_eq!(entries[1].0.span, Span::new(2, 1));
    let inner = &entries[1].1;
    assert_eq!(inner.span, Span::new(3, 3));
    let seq = inner.get("c").unwrap();
    assert_eq!(seq.span, Span::new(3, 6));
    match &seq.kind {
        NodeKind::Seq(items) => {
            assert_eq!(items[0].span, Span::new(3, 7));
            assert_eq!(items[1].span, Span::new(3, 10));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn plain_scalars_follow_the_yaml_1_2_core_schema() {
    assert_eq!(resolve_plain("yes"), Resolved::Str("yes"));
    assert_eq!(resolve_plain("on"), Resolved::Str("on"));
    assert_eq!(resolve_plain("True"), Resolved::Bool(true));
    assert_eq!(resolve_plain("~"), Resolved::Null);
    assert_eq!(resolve_plain("0o17"), Resolved::Int(15));
    assert_eq!(resolve_plain("0x1F"), Resolved::Int(31));
    assert_eq!(resolve_plain("017"), Resolved::Int(17));
    assert_eq!(resolve_plain("-12"), Resolved::Int(-12));
    assert_eq!(resolve_plain("1.5e3"), Resolved::Float(1500.0));
    assert_eq!(resolve_plain(".5"), Resolved::Float(0.5));
    assert_eq!(resolve_plain("1_000"), Resolved::Str("1_000"));
    assert_eq!(resolve_plain("."), Resolved::Str("."));
    assert_eq!(resolve_plain("1.2.3"), Resolved::Str("1.2.3"));
    assert_eq!(resolve_plain("2020-11-25"), Resolved::Str("2020-11-25"));
}

#[test]
fn quoted_scalars_stay_strings() {
    let node = parse_ok("a: '1'\nb: !!str true\nc: 1\n");
    assert_eq!(node.get("a").unwrap().kind, NodeKind::Str("1".into()));
    assert_eq!(node.get("b").unwrap().kind, NodeKind::Str("true".into()));
    assert_eq!(node.get("c").unwrap().kind, NodeKind::Plain("1".into()));
}

#[test]
fn duplicate_keys_are_reported_and_the_first_kept() {
    let mut diagnostics = Vec::new();
    let node = parse("a: 1\nb: 2\na: 3\n", &mut diagnostics).unwrap();
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].code, Code::DuplicateKey);
    assert_eq!(diagnostics[0].span, Span::new(3, 1));
    assert_eq!(node.get("a").unwrap().kind, NodeKind::Plain("1".into()));
}

#[test]
fn aliases_expand_to_their_anchor() {
    let node = parse_ok("base: &h {x: 1}\nother: *h\n");
    assert_eq!(
        node.get("other").unwrap().get("x").unwrap().kind,
        NodeKind::Plain("1".into())
    );
}

#[test]
fn billion_laughs_is_rejected_fast() {
    let mut source = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let prev = i - 1;
        source.push_str(&format!(
            "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    let diagnostics = parse_err(&source);
    assert_eq!(diagnostics[0].code, Code::YamlLimit);
}

#[test]
fn aliases_of_long_strings_hit_the_byte_budget() {
    let mut source = format!("a: &a \"{}\"\nb: [", "x".repeat(1 << 20));
    source.push_str(&vec!["*a"; 40].join(", "));
    source.push_str("]\n");
    let diagnostics = parse_err(&source);
    assert!(
        diagnostics[0].message.contains("bytes of text"),
        "{diagnostics:?}"
    );
}

#[test]
fn aliases_cannot_nest_past_the_depth_limit() {
    let mut source = String::from("a0: &a0 [[[[[[[[[[x]]]]]]]]]]\n");
    for i in 1..12 {
        source.push_str(&format!("a{i}: &a{i} [[[[[[[[[[*a{}]]]]]]]]]]\n", i - 1));
    }
    let diagnostics = parse_err(&source);
    assert!(
        diagnostics[0].message.contains("through an alias"),
        "{diagnostics:?}"
    );
}

#[test]
fn deep_nesting_is_rejected() {
    let source = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let diagnostics = parse_err(&source);
    assert_eq!(diagnostics[0].code, Code::YamlLimit);
}

#[test]
fn syntax_errors_carry_a_position() {
    let diagnostics = parse_err("a: [1, 2\nb: 3\n");
    assert_eq!(diagnostics[0].code, Code::YamlSyntax);
    assert!(diagnostics[0].span.line >= 1);
}

#[test]
fn second_document_is_rejected() {
    let diagnostics = parse_err("a: 1\n---\nb: 2\n");
    assert_eq!(diagnostics[0].code, Code::UnsupportedYaml);
    assert_eq!(diagnostics[0].span.line, 2);
}

#[test]
fn unknown_tags_and_merge_keys_are_reported() {
    let diagnostics = parse_err("a: !Ref x\n");
    assert_eq!(diagnostics[0].code, Code::UnsupportedYaml);
    let mut diagnostics = Vec::new();
    parse("b: &b {x: 1}\nc:\n  <<: *b\n", &mut diagnostics).unwrap();
    assert_eq!(diagnostics[0].code, Code::UnsupportedYaml);
    assert_eq!(diagnostics[0].span, Span::new(3, 3));
}

#[test]
fn empty_document_is_null() {
    assert!(parse_ok("").is_null());
    assert!(parse_ok("# only a comment\n").is_null());
}
