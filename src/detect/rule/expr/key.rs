//! Key specifiers: `Key`, `DeepKey`, `KeyPath` and `Enrichment`, compiled to paths.

use super::flow::flow;
use super::SPECIFIERS;
use crate::detect::eval::path::Segment;
use crate::detect::eval::Path;
use crate::detect::rule::Compiler;
use crate::diagnostic::{Code, Diagnostic};
use crate::yaml::{resolve_plain, Key, Node, NodeKind, Resolved};

impl Compiler<'_> {
    /// A mapping holding exactly one key specifier (`GroupBy` items, `AlertContext` values,
    /// multi-key `Values`).
    pub(in crate::detect) fn key_specifier(&mut self, node: &Node) -> Option<Path> {
        let Some(entries) = node.as_map() else {
            self.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    node.span,
                    format!(
                        "expected a key specifier (a mapping), found {}",
                        node.describe()
                    ),
                )
                .with_hint("write `{KeyPath: a.b.c}` (or `Key`, `DeepKey`, `Enrichment`)"),
            );
            return None;
        };
        let mut found: Option<(&Key, &Node)> = None;
        let mut ok = true;
        for (key, value) in entries {
            if !SPECIFIERS.contains(&key.name.as_str()) {
                self.unknown_key(key.span, &key.name, SPECIFIERS);
                ok = false;
            } else if let Some((first, _)) = found {
                self.push(
                    Diagnostic::new(
                        Code::KindConflict,
                        key.span,
                        format!("key specifier has both `{}` and `{}`", first.name, key.name),
                    )
                    .with_hint("keep one of `Key`, `DeepKey`, `KeyPath`, `Enrichment`"),
                );
                ok = false;
            } else {
                found = Some((key, value));
            }
        }
        let Some((key, value)) = found else {
            if ok {
                self.push(
                    Diagnostic::new(Code::MissingKey, node.span, "key specifier names no key")
                        .with_hint("write `{KeyPath: a.b.c}` (or `Key`, `DeepKey`, `Enrichment`)"),
                );
            }
            return None;
        };
        let path = self.specifier(key, value);
        path.filter(|_| ok)
    }

    /// `Key`, `DeepKey`, `KeyPath` or `Enrichment`, compiled to a path.
    pub(super) fn specifier(&mut self, key: &Key, node: &Node) -> Option<Path> {
        match key.name.as_str() {
            "Key" => {
                let name = self.nonempty_text(key, node)?;
                Some(Path::key(&name))
            }
            "KeyPath" => self.key_path_text(key, node),
            "DeepKey" => self.deep_key(node),
            _ => self.enrichment(node),
        }
    }

    /// A `KeyPath` written as the bare string value of `key`.
    pub(in crate::detect) fn key_path_text(&mut self, key: &Key, node: &Node) -> Option<Path> {
        let text = self.nonempty_text(key, node)?;
        self.key_path(&text, node)
            .map(|segments| Path::new(segments, text))
    }

    pub(super) fn key_path(&mut self, text: &str, node: &Node) -> Option<Vec<Segment>> {
        match Path::parse(text) {
            Ok(path) => Some(path.segments().to_vec()),
            Err(error) => {
                self.push(
                    Diagnostic::new(Code::InvalidValue, node.span, format!("invalid KeyPath `{text}`: {error}"))
                        .with_hint("separate keys with `.`; `[0]` is an index, `[*]` every element, e.g. `target[0].alternateId`"),
                );
                None
            }
        }
    }

    pub(super) fn deep_key(&mut self, node: &Node) -> Option<Path> {
        let Some(items) = node.as_list().filter(|items| !items.is_empty()) else {
            self.push(
                node.wrong_shape("DeepKey", "a non-empty list of keys")
                    .with_hint("write `DeepKey: [a, b, 0]`, or `KeyPath: a.b[0]`"),
            );
            return None;
        };
        let mut segments = Vec::with_capacity(items.len());
        for item in items {
            let segment = match &item.kind {
                NodeKind::Str(s) => Some(Segment::Key(s.as_str().into())),
                NodeKind::Plain(t) => match resolve_plain(t) {
                    Resolved::Str(s) => Some(Segment::Key(s.into())),
                    Resolved::Int(index) => Some(Segment::Index {
                        index,
                        key: t.as_str().into(),
                    }),
                    _ => None,
                },
                _ => None,
            };
            match segment {
                Some(segment) => segments.push(segment),
                None => {
                    self.push(Diagnostic::new(
                        Code::InvalidValue,
                        item.span,
                        format!("`DeepKey` items are keys (strings) or list indexes (integers), found {}", item.describe()),
                    ));
                    return None;
                }
            }
        }
        Some(Path::new(segments, flow(node)))
    }

    /// `Enrichment: {Table, Selector, FieldPath}` reads `p_enrichment.<Table>.<Selector>.<FieldPath>`
    /// from the event, where the lookup-table stage leaves its result.
    pub(super) fn enrichment(&mut self, node: &Node) -> Option<Path> {
        const FIELDS: &[&str] = &["Table", "Selector", "FieldPath"];
        let Some(entries) = node.as_map() else {
            self.push(
                Diagnostic::new(Code::InvalidValue, node.span, format!("`Enrichment` must be a mapping, found {}", node.describe()))
                    .with_hint("write `Enrichment: {Table: ipinfo_location, Selector: srcAddr, FieldPath: city}`"),
            );
            return None;
        };
        let mut parts: [Option<String>; 3] = Default::default();
        let mut ok = true;
        for (key, value) in entries {
            match FIELDS.iter().position(|f| *f == key.name) {
                Some(i) => {
                    parts[i] = self.nonempty_text(key, value);
                    ok &= parts[i].is_some();
                }
                None => {
                    self.unknown_key(key.span, &key.name, FIELDS);
                    ok = false;
                }
            }
        }
        for (part, field) in parts.iter().zip(FIELDS) {
            if part.is_none() && !entries.iter().any(|(k, _)| k.name == *field) {
                self.push(
                    Diagnostic::new(
                        Code::MissingKey,
                        node.span,
                        format!("`Enrichment` has no `{field}`"),
                    )
                    .with_hint("an Enrichment names its `Table`, `Selector` and `FieldPath`"),
                );
                ok = false;
            }
        }
        let [Some(table), Some(selector), Some(field_path)] = parts else {
            return None;
        };
        let mut segments = vec![
            Segment::Key("p_enrichment".into()),
            Segment::Key(table.as_str().into()),
            Segment::Key(selector.as_str().into()),
        ];
        segments.extend(self.key_path(&field_path, node)?);
        ok.then(|| {
            Path::new(
                segments,
                format!("p_enrichment.{table}.{selector}.{field_path}"),
            )
        })
    }
}
