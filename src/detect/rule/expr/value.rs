//! Operands: literals, numbers, strings and regexes, and comparisons between two keys.

use super::flow::flow;
use super::{Fields, Kind, Place};
use crate::detect::eval::value::Num;
use crate::detect::eval::{fold, BinaryOp, Expr, Literal, Test};
use crate::detect::rule::Compiler;
use crate::diagnostic::{Code, Diagnostic};
use crate::yaml::{resolve_plain, Key, Node, NodeKind, Resolved};

impl Compiler<'_> {
    pub(super) fn literals(&mut self, items: &[Node]) -> Option<Vec<Literal>> {
        let literals: Vec<Option<Literal>> = items.iter().map(|i| self.literal(i)).collect();
        literals.into_iter().collect()
    }

    pub(super) fn value_test(
        &mut self,
        name: &str,
        kind: Kind,
        folded: bool,
        value: &Node,
    ) -> Option<Test> {
        let text = |this: &mut Self| this.operand_text(value);
        Some(match kind {
            Kind::Equals => match self.literal(value)? {
                Literal::Str(s) if folded => Test::IEquals(fold(&s).into()),
                literal => Test::Equals(literal),
            },
            Kind::Has => match self.literal(value)? {
                Literal::Str(s) if folded => Test::IHas(fold(&s).into()),
                literal => Test::Has(literal),
            },
            Kind::StartsWith if folded => Test::IStartsWith(fold(&text(self)?).into()),
            Kind::StartsWith => Test::StartsWith(text(self)?.into()),
            Kind::EndsWith if folded => Test::IEndsWith(fold(&text(self)?).into()),
            Kind::EndsWith => Test::EndsWith(text(self)?.into()),
            Kind::Contains if folded => Test::IContains(fold(&text(self)?).into()),
            Kind::Contains => Test::Contains(text(self)?.into()),
            Kind::Ordered(order) => Test::Ordered(order, self.number(name, value)?),
            Kind::Regex => {
                let source = text(self)?;
                match crate::pattern::compile_regex(&source, false) {
                    Ok(regex) => Test::Regex(regex),
                    Err(error) => {
                        self.push(
                            Diagnostic::new(
                                Code::BadRegex,
                                value.span,
                                format!(
                                    "invalid regex `{source}`: {}",
                                    crate::pattern::regex_error_summary(&error)
                                ),
                            )
                            .with_hint("Rust regex syntax: no look-around or backreferences; `(?i)` ignores case"),
                        );
                        return None;
                    }
                }
            }
            _ => unreachable!("unary, list and CIDR conditions are read elsewhere"),
        })
    }

    /// Two keys compared with each other: no key specifier, `Values: [{KeyPath: a}, {KeyPath: b}]`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn compare(
        &mut self,
        node: &Node,
        name: &str,
        kind: Kind,
        folded: bool,
        negate: bool,
        fields: &Fields,
        place: Place,
    ) -> Option<Expr> {
        let Some((values_key, values)) = fields.values else {
            self.need_key(node, name, fields);
            return None;
        };
        if let Some((key, _)) = fields.value {
            self.push(
                Diagnostic::new(
                    Code::MissingKey,
                    key.span,
                    format!("`{name}` with `Value:` needs a key"),
                )
                .with_hint("add `KeyPath: a.b.c` (or `Key`, `DeepKey`, `Enrichment`)"),
            );
            return None;
        }
        if place == Place::Filter {
            self.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    values_key.span,
                    "InlineFilters cannot compare two keys",
                )
                .with_hint("move this expression to `Detection`"),
            );
            return None;
        }
        let items = match values.expect_list("Values", "a list") {
            Ok(items) if items.len() == 2 => items,
            Ok(items) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidOption,
                        values.span,
                        format!("comparing keys takes exactly two key specifiers under `Values`, found {}", items.len()),
                    )
                    .with_hint("to test one key against several values, add `KeyPath:` and use IsIn"),
                );
                return None;
            }
            Err(error) => {
                self.push(error);
                return None;
            }
        };
        let left = self.key_specifier(&items[0]);
        let right = self.key_specifier(&items[1]);
        let op = match (kind, folded) {
            (Kind::Equals, false) => BinaryOp::Equals,
            (Kind::Equals, true) => BinaryOp::IEquals,
            (Kind::StartsWith, false) => BinaryOp::StartsWith,
            (Kind::StartsWith, true) => BinaryOp::IStartsWith,
            (Kind::EndsWith, false) => BinaryOp::EndsWith,
            (Kind::EndsWith, true) => BinaryOp::IEndsWith,
            (Kind::Contains, false) => BinaryOp::Contains,
            (Kind::Contains, true) => BinaryOp::IContains,
            (Kind::Has, false) => BinaryOp::Has,
            (Kind::Has, true) => BinaryOp::IHas,
            (Kind::In, false) => BinaryOp::In,
            (Kind::In, true) => BinaryOp::IIn,
            (Kind::Ordered(order), _) => BinaryOp::Ordered(order),
            _ => unreachable!("only binary conditions compare keys"),
        };
        Some(Expr::Compare {
            left: left?,
            right: right?,
            op,
            negate,
        })
    }

    pub(super) fn nonempty_text(&mut self, key: &Key, node: &Node) -> Option<String> {
        let text = self.operand_text(node)?;
        if text.is_empty() {
            self.push(Diagnostic::new(
                Code::InvalidValue,
                node.span,
                format!("`{}` is empty", key.name),
            ));
            return None;
        }
        Some(text)
    }

    /// A scalar as text, as written (`Value: 123` is `123`); null and collections are errors.
    pub(super) fn operand_text(&mut self, node: &Node) -> Option<String> {
        match &node.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Plain(t) if resolve_plain(t) != Resolved::Null => Some(t.clone()),
            _ => {
                self.push(Diagnostic::new(
                    Code::InvalidValue,
                    node.span,
                    format!("expected a string, found {}", node.describe()),
                ));
                None
            }
        }
    }

    /// A `Value` or an item of `Values`: a string, number or boolean, never null.
    pub(super) fn literal(&mut self, node: &Node) -> Option<Literal> {
        let literal = match &node.kind {
            NodeKind::Str(s) => Some(Literal::Str(s.as_str().into())),
            NodeKind::Plain(t) => match resolve_plain(t) {
                Resolved::Str(s) => Some(Literal::Str(s.into())),
                Resolved::Int(i) => Some(Literal::Int(i)),
                Resolved::Float(f) => Some(Literal::Float(f)),
                Resolved::Bool(b) => Some(Literal::Bool(b)),
                Resolved::Null => {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidValue,
                            node.span,
                            "a value to compare with cannot be null",
                        )
                        .with_hint("to match a null or missing key use `Condition: IsNull`"),
                    );
                    return None;
                }
            },
            _ => None,
        };
        if literal.is_none() {
            self.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    node.span,
                    format!("expected a string, number or boolean, found {}", node.describe()),
                )
                .with_hint("to compare two keys, drop the key specifier and list both keys under `Values:`"),
            );
        }
        literal
    }

    pub(super) fn number(&mut self, name: &str, node: &Node) -> Option<Num> {
        let number = match &node.kind {
            NodeKind::Plain(t) => match resolve_plain(t) {
                Resolved::Int(i) => Some(Num::Int(i128::from(i))),
                Resolved::Float(f) => Some(Num::Float(f)),
                Resolved::Str(s) => Num::parse(s),
                _ => None,
            },
            NodeKind::Str(s) => Num::parse(s),
            _ => None,
        };
        if number.is_none() {
            self.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    node.span,
                    format!(
                        "`{name}` compares numbers, but `{}` is not a number",
                        flow(node)
                    ),
                )
                .with_hint("write the value as a number, e.g. `Value: 50`"),
            );
        }
        number
    }
}
