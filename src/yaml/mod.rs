//! YAML with exact positions, for every file a user writes (stories, integration templates,
//! rules).
//!
//! `saphyr-parser` events are built into a [`Node`] tree that keeps each node's line and column.
//! Parsing is bounded: source size, nesting depth and the number of nodes after alias expansion
//! all have limits, so a hostile file ("billion laughs") is rejected in microseconds rather than
//! exhausting memory. Plain scalars keep their text and are resolved lazily with the YAML 1.2 core
//! schema (`yes` is a string, `0o17` an integer), so a field that wants a string gets exactly what
//! was written.
//!
//! [`de`] deserializes typed structs from a tree while collecting diagnostics.

pub mod de;

use crate::diagnostic::{Code, Diagnostic, Span};
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

pub use de::{from_node, Entries, Spanned};

/// The largest source accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 4 * 1024 * 1024;
/// The deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 64;
/// The most nodes a document may have once aliases are expanded.
pub const MAX_NODES: usize = 250_000;
/// The most scalar bytes a document may hold once aliases are expanded.
pub const MAX_EXPANDED_BYTES: usize = 16 * 1024 * 1024;

/// A YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub kind: NodeKind,
    /// Where the node starts in the source.
    pub span: Span,
}

/// The content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A plain (unquoted) scalar, resolved on use with the YAML 1.2 core schema.
    Plain(String),
    /// A quoted or block scalar, or one tagged `!!str`: always a string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order. Keys are scalars; duplicates were reported and dropped.
    Map(Vec<(Key, Node)>),
}

/// A mapping key: its text and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key's text.
    pub name: String,
    /// Where the key is.
    pub span: Span,
}

/// A plain scalar resolved with the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved<'a> {
    /// `null`, `Null`, `NULL`, `~` or empty.
    Null,
    /// `true`/`false` in the three spellings the core schema allows.
    Bool(bool),
    /// A decimal, `0o` octal or `0x` hexadecimal integer that fits in 64 bits.
    Int(i64),
    /// A float, including `.inf`, `-.inf` and `.nan`.
    Float(f64),
    /// Anything else.
    Str(&'a str),
}

/// Resolves a plain scalar's text per the YAML 1.2 core schema (section 10.3.2).
pub fn resolve_plain(text: &str) -> Resolved<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    if let Some(octal) = text.strip_prefix("0o") {
        if !octal.is_empty() && octal.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            if let Ok(n) = i64::from_str_radix(octal, 8) {
                return Resolved::Int(n);
            }
        }
        return Resolved::Str(text);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Ok(n) = i64::from_str_radix(hex, 16) {
                return Resolved::Int(n);
            }
        }
        return Resolved::Str(text);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = text.parse::<i64>() {
            return Resolved::Int(n);
        }
    }
    if is_core_float(digits) {
        if let Ok(f) = text.parse::<f64>() {
            return Resolved::Float(f);
        }
    }
    Resolved::Str(text)
}

/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?` without the sign.
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            !(int.is_empty() && frac.is_empty())
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = match exponent {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
        }
    };
    mantissa_ok && exponent_ok
}

impl Node {
    /// The node's entries when it is a mapping.
    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The node's items when it is a list.
    pub fn as_list(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The node's items when it is a list; otherwise [`Node::wrong_shape`]'s diagnostic, for the
    /// caller to add a hint to and report. `expected` may say more than "a list", e.g. "a list of
    /// match expressions".
    pub fn expect_list(&self, name: &str, expected: &str) -> Result<&[Node], Diagnostic> {
        self.as_list()
            .ok_or_else(|| self.wrong_shape(name, expected))
    }

    /// "`name` must be `expected`, found …" at this node: the value under the key `name` has the
    /// wrong shape (a list, a mapping, a scalar).
    pub fn wrong_shape(&self, name: &str, expected: &str) -> Diagnostic {
        Diagnostic::new(
            Code::InvalidValue,
            self.span,
            format!("`{name}` must be {expected}, found {}", self.describe()),
        )
    }

    /// The node's text when it is a string scalar (plain scalars that resolve to strings too).
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            NodeKind::Plain(s) => match resolve_plain(s) {
                Resolved::Str(s) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    /// The value under `key` when the node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The node is null (an explicit `null`/`~` or an empty value).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Plain(s) if resolve_plain(s) == Resolved::Null)
    }

    /// A short description of the node's type for messages: "a string", "a mapping", …
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Str(_) => "a string",
            NodeKind::Plain(s) => match resolve_plain(s) {
                Resolved::Null => "null",
                Resolved::Bool(_) => "a boolean",
                Resolved::Int(_) => "an integer",
                Resolved::Float(_) => "a number",
                Resolved::Str(_) => "a string",
            },
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// Converts to JSON, resolving plain scalars; non-finite floats become null as JSON has none.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Plain(s) => match resolve_plain(s) {
                Resolved::Null => Value::Null,
                Resolved::Bool(b) => Value::Bool(b),
                Resolved::Int(i) => Value::from(i),
                Resolved::Float(f) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
                Resolved::Str(s) => Value::String(s.to_owned()),
            },
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Nodes, scalar bytes and nesting height of the subtree.
    fn measure(&self) -> (usize, usize, usize) {
        match &self.kind {
            NodeKind::Plain(s) | NodeKind::Str(s) => (1, s.len(), 0),
            NodeKind::Seq(items) => items.iter().map(Node::measure).fold((1, 0, 0), |acc, m| {
                (acc.0 + m.0, acc.1 + m.1, acc.2.max(m.2 + 1))
            }),
            NodeKind::Map(entries) => {
                entries
                    .iter()
                    .map(|(k, v)| (k, v.measure()))
                    .fold((1, 0, 0), |acc, (k, m)| {
                        (
                            acc.0 + m.0 + 1,
                            acc.1 + m.1 + k.name.len(),
                            acc.2.max(m.2 + 1),
                        )
                    })
            }
        }
    }
}

/// Parses one YAML document. Problems are appended to `diagnostics`; `None` means the document
/// could not be read at all (a syntax error or an exceeded limit). Duplicate keys are reported and
/// the first occurrence kept, so a single slip does not hide every other problem.
pub fn parse(source: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<Node> {
    if source.len() > MAX_SOURCE_BYTES {
        diagnostics.push(
            Diagnostic::new(
                Code::YamlLimit,
                Span::new(1, 1),
                format!(
                    "file is {} bytes, more than the {MAX_SOURCE_BYTES}-byte limit",
                    source.len()
                ),
            )
            .with_hint("split the file; a story this large is hard to review anyway"),
        );
        return None;
    }
    let mut builder = Builder {
        parser: Parser::new_from_str(source),
        anchors: HashMap::new(),
        nodes: 0,
        bytes: 0,
        diagnostics,
    };
    match builder.document() {
        Ok(node) => Some(node),
        Err(diagnostic) => {
            builder.diagnostics.push(*diagnostic);
            None
        }
    }
}

struct Builder<'a, 'd> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Anchored nodes by anchor id, with what repeating them costs.
    anchors: HashMap<usize, Anchored>,
    nodes: usize,
    bytes: usize,
    diagnostics: &'d mut Vec<Diagnostic>,
}

type Built<T> = Result<T, Box<Diagnostic>>;

/// An anchored node and what an alias to it adds: nodes, scalar bytes and nesting depth.
#[derive(Clone)]
struct Anchored {
    node: Node,
    nodes: usize,
    bytes: usize,
    height: usize,
}

fn limit_error(span: Span, message: String) -> Box<Diagnostic> {
    Box::new(Diagnostic::new(Code::YamlLimit, span, message).with_hint(
        "aliases (`*name`) that repeat large anchors multiply the document; repeat less",
    ))
}

fn span_of(marker: &saphyr_parser::Marker) -> Span {
    Span::new(
        u32::try_from(marker.line()).unwrap_or(u32::MAX),
        u32::try_from(marker.col() + 1).unwrap_or(u32::MAX),
    )
}

fn syntax_error(error: &saphyr_parser::ScanError) -> Box<Diagnostic> {
    Box::new(
        Diagnostic::new(Code::YamlSyntax, span_of(error.marker()), error.info().to_owned())
            .with_hint("check indentation and quoting; a value with `: ` or a leading `{`, `[`, `*` or `&` needs quotes"),
    )
}

impl<'a> Builder<'a, '_> {
    fn next(&mut self) -> Built<(Event<'a>, Span)> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => Ok((event, span_of(&span.start))),
            Some(Err(error)) => Err(syntax_error(&error)),
            None => Err(Box::new(Diagnostic::new(
                Code::YamlSyntax,
                Span::new(1, 1),
                "unexpected end of input",
            ))),
        }
    }

    fn document(&mut self) -> Built<Node> {
        let mut root = None;
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) if root.is_some() => {
                    return Err(Box::new(
                        Diagnostic::new(
                            Code::UnsupportedYaml,
                            span,
                            "a second YAML document in one file",
                        )
                        .with_hint("put one story, template or rule in each file"),
                    ));
                }
                Event::DocumentStart(_) => {
                    let (event, span) = self.next()?;
                    root = Some(self.node(event, span, 0)?);
                }
                other => {
                    root = Some(self.node(other, span, 0)?);
                }
            }
        }
        Ok(root.unwrap_or(Node {
            kind: NodeKind::Plain(String::new()),
            span: Span::new(1, 1),
        }))
    }

    fn count(&mut self, nodes: usize, bytes: usize, span: Span) -> Built<()> {
        self.nodes += nodes;
        self.bytes += bytes;
        if self.nodes > MAX_NODES {
            return Err(limit_error(
                span,
                format!("document expands to more than {MAX_NODES} nodes"),
            ));
        }
        if self.bytes > MAX_EXPANDED_BYTES {
            return Err(limit_error(
                span,
                format!("document expands to more than {MAX_EXPANDED_BYTES} bytes of text"),
            ));
        }
        Ok(())
    }

    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Built<Node> {
        if depth > MAX_DEPTH {
            return Err(Box::new(
                Diagnostic::new(
                    Code::YamlLimit,
                    span,
                    format!("nesting deeper than {MAX_DEPTH} levels"),
                )
                .with_hint("flatten the structure"),
            ));
        }
        let (node, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, text.len(), span)?;
                let is_str_tag = match &tag {
                    None => false,
                    Some(tag) if tag.is_yaml_core_schema() && tag.suffix == "str" => true,
                    Some(tag) if tag.is_yaml_core_schema() => false,
                    // A non-specific `!` tag means "string" for scalars (YAML 1.2, 6.9.1).
                    Some(tag) if tag.handle == "!" && tag.suffix.is_empty() => true,
                    Some(tag) => return Err(Box::new(unsupported_tag(&tag.to_string(), span))),
                };
                let kind = if style == ScalarStyle::Plain && !is_str_tag {
                    NodeKind::Plain(text.into_owned())
                } else {
                    NodeKind::Str(text.into_owned())
                };
                (Node { kind, span }, anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq", span)?;
                self.count(1, 0, span)?;
                let mut items = Vec::new();
                loop {
                    let (event, item_span) = self.next()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(event, item_span, depth + 1)?);
                }
                (
                    Node {
                        kind: NodeKind::Seq(items),
                        span,
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map", span)?;
                self.count(1, 0, span)?;
                let mut entries: Vec<(Key, Node)> = Vec::new();
                let mut first_at: HashMap<String, Span> = HashMap::new();
                loop {
                    let (event, key_span) = self.next()?;
                    if event == Event::MappingEnd {
                        break;
                    }
                    let key_node = self.node(event, key_span, depth + 1)?;
                    let name = match &key_node.kind {
                        NodeKind::Plain(s) | NodeKind::Str(s) => s.clone(),
                        _ => {
                            return Err(Box::new(
                                Diagnostic::new(
                                    Code::UnsupportedYaml,
                                    key_span,
                                    format!(
                                        "a mapping key must be a scalar, found {}",
                                        key_node.describe()
                                    ),
                                )
                                .with_hint("use a plain string as the key"),
                            ))
                        }
                    };
                    let (event, value_span) = self.next()?;
                    let value = self.node(event, value_span, depth + 1)?;
                    if name == "<<" && matches!(key_node.kind, NodeKind::Plain(_)) {
                        self.diagnostics.push(
                            Diagnostic::new(
                                Code::UnsupportedYaml,
                                key_span,
                                "YAML merge keys (`<<`) are not part of YAML 1.2",
                            )
                            .with_hint(
                                "write the keys out; anchors and aliases of whole values do work",
                            ),
                        );
                        continue;
                    }
                    if let Some(first) = first_at.get(&name) {
                        self.diagnostics.push(
                            Diagnostic::new(
                                Code::DuplicateKey,
                                key_span,
                                format!(
                                    "duplicate key `{name}` (first at line {}, column {})",
                                    first.line, first.column
                                ),
                            )
                            .with_hint(
                                "a key may appear once in a mapping; rename or remove one of them",
                            ),
                        );
                        continue;
                    }
                    first_at.insert(name.clone(), key_span);
                    entries.push((
                        Key {
                            name,
                            span: key_span,
                        },
                        value,
                    ));
                }
                (
                    Node {
                        kind: NodeKind::Map(entries),
                        span,
                    },
                    anchor,
                )
            }
            Event::Alias(id) => {
                let anchored = self.anchors.get(&id).cloned().ok_or_else(|| {
                    Box::new(Diagnostic::new(
                        Code::YamlSyntax,
                        span,
                        "alias to an unknown anchor",
                    ))
                })?;
                if depth + anchored.height > MAX_DEPTH {
                    return Err(limit_error(
                        span,
                        format!("nesting deeper than {MAX_DEPTH} levels through an alias"),
                    ));
                }
                self.count(anchored.nodes, anchored.bytes, span)?;
                return Ok(anchored.node);
            }
            other => {
                return Err(Box::new(Diagnostic::new(
                    Code::YamlSyntax,
                    span,
                    format!("unexpected YAML event {other:?}"),
                )))
            }
        };
        if anchor != 0 {
            let (nodes, bytes, height) = node.measure();
            self.anchors.insert(
                anchor,
                Anchored {
                    node: node.clone(),
                    nodes,
                    bytes,
                    height,
                },
            );
        }
        Ok(node)
    }
}

fn check_collection_tag(tag: Option<&saphyr_parser::Tag>, expected: &str, span: Span) -> Built<()> {
    match tag {
        None => Ok(()),
        Some(tag) if tag.is_yaml_core_schema() && tag.suffix == expected => Ok(()),
        Some(tag) if tag.handle == "!" && tag.suffix.is_empty() => Ok(()),
        Some(tag) => Err(Box::new(unsupported_tag(&tag.to_string(), span))),
    }
}

fn unsupported_tag(tag: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::UnsupportedYaml,
        span,
        format!("unsupported YAML tag `{tag}`"),
    )
    .with_hint("remove the tag; only the core tags such as `!!str` are understood")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(source: &str) -> Node {
        let mut diagnostics = Vec::new();
        let node = parse(source, &mut diagnostics).expect("parses");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        node
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
        let mut source =
            String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let prev = i - 1;
            source.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let mut diagnostics = Vec::new();
        assert!(parse(&source, &mut diagnostics).is_none());
        assert_eq!(diagnostics[0].code, Code::YamlLimit);
    }

    #[test]
    fn aliases_of_long_strings_hit_the_byte_budget() {
        let mut source = format!("a: &a \"{}\"\nb: [", "x".repeat(1 << 20));
        source.push_str(&vec!["*a"; 40].join(", "));
        source.push_str("]\n");
        let mut diagnostics = Vec::new();
        assert!(parse(&source, &mut diagnostics).is_none());
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
        let mut diagnostics = Vec::new();
        assert!(parse(&source, &mut diagnostics).is_none());
        assert!(
            diagnostics[0].message.contains("through an alias"),
            "{diagnostics:?}"
        );
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let source = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let mut diagnostics = Vec::new();
        assert!(parse(&source, &mut diagnostics).is_none());
        assert_eq!(diagnostics[0].code, Code::YamlLimit);
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let mut diagnostics = Vec::new();
        assert!(parse("a: [1, 2\nb: 3\n", &mut diagnostics).is_none());
        assert_eq!(diagnostics[0].code, Code::YamlSyntax);
        assert!(diagnostics[0].span.line >= 1);
    }

    #[test]
    fn second_document_is_rejected() {
        let mut diagnostics = Vec::new();
        assert!(parse("a: 1\n---\nb: 2\n", &mut diagnostics).is_none());
        assert_eq!(diagnostics[0].code, Code::UnsupportedYaml);
        assert_eq!(diagnostics[0].span.line, 2);
    }

    #[test]
    fn unknown_tags_and_merge_keys_are_reported() {
        let mut diagnostics = Vec::new();
        assert!(parse("a: !Ref x\n", &mut diagnostics).is_none());
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
}
