//! [`parse`]: saphyr-parser events to a [`Node`] tree, one document per file. Tags other than
//! the core ones, merge keys and second documents are reported, not misread; a duplicate key is
//! reported and the first occurrence kept.

use super::limits::{check_depth, check_source, Anchored, Budget, Built};
use super::node::{Key, Node, NodeKind};
use crate::diagnostic::{Code, Diagnostic, Span};
use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use std::borrow::Cow;
use std::collections::HashMap;

/// Parses one YAML document. Problems are appended to `diagnostics`; `None` means the document
/// could not be read at all (a syntax error or an exceeded limit). Duplicate keys are reported and
/// the first occurrence kept, so a single slip does not hide every other problem.
pub fn parse(source: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<Node> {
    if let Err(diagnostic) = check_source(source) {
        diagnostics.push(diagnostic);
        return None;
    }
    let mut builder = Builder {
        parser: Parser::new_from_str(source),
        anchors: HashMap::new(),
        budget: Budget::default(),
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
    budget: Budget,
    /// Problems that do not stop the document (duplicate and merge keys).
    diagnostics: &'d mut Vec<Diagnostic>,
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

    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Built<Node> {
        check_depth(depth, span)?;
        let (kind, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                (self.scalar(text, style, tag, span)?, anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq", span)?;
                (self.sequence(span, depth)?, anchor)
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map", span)?;
                (self.mapping(span, depth)?, anchor)
            }
            Event::Alias(id) => return self.alias(id, span, depth),
            other => {
                return Err(Box::new(Diagnostic::new(
                    Code::YamlSyntax,
                    span,
                    format!("unexpected YAML event {other:?}"),
                )))
            }
        };
        let node = Node { kind, span };
        if anchor != 0 {
            self.anchors.insert(anchor, Anchored::new(node.clone()));
        }
        Ok(node)
    }

    fn scalar(
        &mut self,
        text: Cow<'a, str>,
        style: ScalarStyle,
        tag: Option<Cow<'a, Tag>>,
        span: Span,
    ) -> Built<NodeKind> {
        self.budget.count(1, text.len(), span)?;
        let is_str_tag = match &tag {
            None => false,
            Some(tag) if tag.is_yaml_core_schema() && tag.suffix == "str" => true,
            Some(tag) if tag.is_yaml_core_schema() => false,
            // A non-specific `!` tag means "string" for scalars (YAML 1.2, 6.9.1).
            Some(tag) if tag.handle == "!" && tag.suffix.is_empty() => true,
            Some(tag) => return Err(Box::new(unsupported_tag(&tag.to_string(), span))),
        };
        Ok(if style == ScalarStyle::Plain && !is_str_tag {
            NodeKind::Plain(text.into_owned())
        } else {
            NodeKind::Str(text.into_owned())
        })
    }

    fn sequence(&mut self, span: Span, depth: usize) -> Built<NodeKind> {
        self.budget.count(1, 0, span)?;
        let mut items = Vec::new();
        loop {
            let (event, item_span) = self.next()?;
            if event == Event::SequenceEnd {
                break;
            }
            items.push(self.node(event, item_span, depth + 1)?);
        }
        Ok(NodeKind::Seq(items))
    }

    fn mapping(&mut self, span: Span, depth: usize) -> Built<NodeKind> {
        self.budget.count(1, 0, span)?;
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
                    .with_hint("write the keys out; anchors and aliases of whole values do work"),
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
                    .with_hint("a key may appear once in a mapping; rename or remove one of them"),
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
        Ok(NodeKind::Map(entries))
    }

    /// A copy of the anchored node, charged to the budget as if written out.
    fn alias(&mut self, id: usize, span: Span, depth: usize) -> Built<Node> {
        let anchored = self.anchors.get(&id).ok_or_else(|| {
            Box::new(Diagnostic::new(
                Code::YamlSyntax,
                span,
                "alias to an unknown anchor",
            ))
        })?;
        self.budget.repeat(anchored, depth, span)?;
        Ok(anchored.node.clone())
    }
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str, span: Span) -> Built<()> {
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
