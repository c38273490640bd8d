//! Reading `AlertTitle`, `AlertContext`, `GroupBy` and `DynamicSeverities`.

use super::expr::Place;
use super::Compiler;
use crate::detect::eval::{Clause, Path, Template};
use crate::detect::Severity;
use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::yaml::{Key, Node, NodeKind};

impl Compiler<'_> {
    pub(super) fn alert_title(&mut self, node: &Node) -> Option<Template> {
        let text = self.string(node, "`AlertTitle`")?;
        match Template::parse(&text) {
            Ok(template) => Some(template),
            Err(error) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidOption,
                        node.span,
                        format!("invalid AlertTitle: {error}"),
                    )
                    .with_hint("placeholders are key paths in braces, e.g. `{actor.displayName}`"),
                );
                None
            }
        }
    }

    /// `AlertContext: [{KeyName: name, KeyValue: {KeyPath: a.b}}, …]`.
    pub(super) fn alert_context(&mut self, key: &Key, node: &Node) -> Option<Vec<(String, Path)>> {
        let items = self.list(key, node)?;
        let mut context: Vec<(String, Path)> = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            let Some(fields) = self.fields(item, &["KeyName", "KeyValue"]) else {
                ok = false;
                continue;
            };
            let name = fields[0].and_then(|n| self.string(n, "`KeyName`"));
            let path = fields[1].and_then(|v| self.key_specifier(v));
            match (name, path) {
                (Some(name), Some(path)) => {
                    if context.iter().any(|(n, _)| *n == name) {
                        self.push(
                            Diagnostic::new(
                                Code::InvalidValue,
                                fields[0].map_or(item.span, |n| n.span),
                                format!("`KeyName` `{name}` appears twice in AlertContext"),
                            )
                            .with_hint("each alert context key needs its own name"),
                        );
                        ok = false;
                    } else {
                        context.push((name, path));
                    }
                }
                _ => ok = false,
            }
        }
        ok.then_some(context)
    }

    /// `GroupBy: [{KeyPath: a}, {Key: b}]`.
    pub(super) fn group_by(&mut self, key: &Key, node: &Node) -> Option<Vec<Path>> {
        let items = self.list(key, node)?;
        let paths: Vec<Option<Path>> = items.iter().map(|i| self.key_specifier(i)).collect();
        paths.into_iter().collect()
    }

    /// `DynamicSeverities: [{ChangeTo: High, Conditions: [match expressions]}]`.
    #[allow(clippy::type_complexity)]
    pub(super) fn dynamic_severities(
        &mut self,
        key: &Key,
        node: &Node,
    ) -> Option<Vec<(Option<Severity>, Vec<Clause>)>> {
        let items = self.list(key, node)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            let Some(fields) = self.fields(item, &["ChangeTo", "Conditions"]) else {
                ok = false;
                continue;
            };
            let severity = fields[0].and_then(|n| self.change_to(n));
            let conditions = match (item.as_map(), fields[1]) {
                (Some(entries), Some(conditions)) => {
                    let key = entries
                        .iter()
                        .find(|(k, _)| k.name == "Conditions")
                        .map(|(k, _)| k);
                    key.and_then(|k| self.clauses(k, conditions, Place::Detection))
                }
                _ => None,
            };
            match (severity, conditions) {
                (Some(severity), Some(conditions)) => out.push((severity, conditions)),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A severity, or `DEFAULT` (the rule's own): `Some(None)`.
    fn change_to(&mut self, node: &Node) -> Option<Option<Severity>> {
        let text = self.string(node, "`ChangeTo`")?;
        if text.eq_ignore_ascii_case("DEFAULT") {
            return Some(None);
        }
        match Severity::parse(&text) {
            Some(severity) => Some(Some(severity)),
            None => {
                self.push(severity_error(node, &text));
                None
            }
        }
    }

    /// The listed keys of a mapping, in order; reports unknown and missing keys.
    fn fields<'n>(&mut self, node: &'n Node, names: &[&str]) -> Option<Vec<Option<&'n Node>>> {
        let Some(entries) = node.as_map() else {
            self.push(Diagnostic::new(
                Code::InvalidValue,
                node.span,
                format!(
                    "expected a mapping with {}, found {}",
                    names.join(" and "),
                    node.describe()
                ),
            ));
            return None;
        };
        let mut found = vec![None; names.len()];
        let mut ok = true;
        for (key, value) in entries {
            match names.iter().position(|n| *n == key.name) {
                Some(i) => found[i] = Some(value),
                None => {
                    self.unknown_key(key.span, &key.name, names);
                    ok = false;
                }
            }
        }
        for (name, value) in names.iter().zip(&found) {
            if value.is_none() {
                self.push(
                    Diagnostic::new(
                        Code::MissingKey,
                        node.span,
                        format!("missing required key `{name}`"),
                    )
                    .with_hint(format!("add `{name}:`")),
                );
                ok = false;
            }
        }
        ok.then_some(found)
    }

    pub(in crate::detect) fn list<'n>(&mut self, key: &Key, node: &'n Node) -> Option<&'n [Node]> {
        node.expect_list(&key.name, "a list")
            .map_err(|error| self.push(error.with_hint("start each item with `- `")))
            .ok()
    }

    /// A string scalar (plain scalars as written).
    pub(in crate::detect) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Plain(t) if !node.is_null() => Some(t.clone()),
            _ => {
                self.push(Diagnostic::new(
                    Code::InvalidValue,
                    node.span,
                    format!("{what} must be a string, found {}", node.describe()),
                ));
                None
            }
        }
    }
}

pub(super) fn severity_error(node: &Node, text: &str) -> Diagnostic {
    let names = ["Info", "Low", "Medium", "High", "Critical"];
    Diagnostic::new(
        Code::InvalidValue,
        node.span,
        format!("unknown severity `{text}`"),
    )
    .with_hint(
        did_you_mean(text, names)
            .unwrap_or_else(|| "one of Info, Low, Medium, High, Critical".to_owned()),
    )
}
