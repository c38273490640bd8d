//! Conditions on one key: which operand each takes, and the list comprehensions.

use super::{Fields, Kind, Place};
use crate::detect::eval::{fold, Cidr, Expr, LiteralSet, Path, Quantifier, Test};
use crate::detect::rule::Compiler;
use crate::diagnostic::{Code, Diagnostic};
use crate::yaml::{resolve_plain, Node, NodeKind, Resolved};

impl Compiler<'_> {
    /// `AlwaysTrue`/`AlwaysFalse` take nothing else.
    pub(super) fn absolute(
        &mut self,
        node: &Node,
        name: &str,
        fields: &Fields,
        place: Place,
    ) -> bool {
        let mut ok = true;
        let extra = fields
            .specifiers
            .iter()
            .chain(&fields.value)
            .chain(&fields.values)
            .chain(&fields.expressions);
        for (key, _) in extra {
            self.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    key.span,
                    format!("`{name}` takes no `{}`", key.name),
                )
                .with_hint(format!(
                    "remove `{}`; `{name}` does not look at the event",
                    key.name
                )),
            );
            ok = false;
        }
        if place == Place::Filter {
            self.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    node.span,
                    format!("InlineFilters cannot use `{name}`"),
                )
                .with_hint("move this expression to `Detection`"),
            );
            ok = false;
        }
        ok
    }

    pub(super) fn elements(
        &mut self,
        node: &Node,
        name: &str,
        fields: &Fields,
        place: Place,
        path: Option<Path>,
        quantifier: Quantifier,
    ) -> Option<Expr> {
        let mut ok = true;
        if place == Place::Filter {
            self.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    node.span,
                    format!("InlineFilters cannot use the list comprehension `{name}`"),
                )
                .with_hint("move this expression to `Detection`"),
            );
            ok = false;
        }
        for (key, _) in fields.value.iter().chain(&fields.values) {
            self.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    key.span,
                    format!("`{name}` takes `Expressions:`, not `{}`", key.name),
                )
                .with_hint("list the expressions each element must match under `Expressions:`"),
            );
            ok = false;
        }
        ok &= self.need_key(node, name, fields);
        let Some((key, value)) = fields.expressions else {
            self.push(
                Diagnostic::new(Code::MissingKey, node.span, format!("`{name}` needs `Expressions:`"))
                    .with_hint("list the match expressions each element must satisfy; their keys are relative to the element"),
            );
            return None;
        };
        let body = self.exprs(key, value, Place::Detection)?;
        let path = path?;
        ok.then_some(Expr::Elements {
            path,
            quantifier,
            body,
        })
    }

    /// Reports a missing key specifier; true when there is one.
    pub(super) fn need_key(&mut self, node: &Node, name: &str, fields: &Fields) -> bool {
        if !fields.specifiers.is_empty() {
            return true;
        }
        self.push(
            Diagnostic::new(Code::MissingKey, node.span, format!("`{name}` needs a key"))
                .with_hint("add `KeyPath: a.b.c` (or `Key`, `DeepKey`, `Enrichment`)"),
        );
        false
    }

    /// The operand of a condition on one key.
    pub(super) fn operand(
        &mut self,
        node: &Node,
        name: &str,
        kind: Kind,
        folded: bool,
        fields: &Fields,
        has_key: bool,
    ) -> Option<Test> {
        if !has_key {
            self.need_key(node, name, fields);
        }
        if let Some((key, _)) = fields.expressions {
            self.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    key.span,
                    format!("`{name}` takes no `Expressions`"),
                )
                .with_hint(
                    "`Expressions` belong to AnyElement, AllElements, NoElement and OnlyOneElement",
                ),
            );
            return None;
        }
        match kind {
            Kind::Exists | Kind::NotNull | Kind::NotEmpty | Kind::Ip(_) => {
                self.no_operand(name, fields)?;
                Some(match kind {
                    Kind::Exists => Test::Exists,
                    Kind::NotNull => Test::NotNull,
                    Kind::NotEmpty => Test::NotEmpty,
                    Kind::Ip(ip) => Test::Ip(ip),
                    _ => unreachable!("matched above"),
                })
            }
            Kind::InCidr => self.cidrs(node, name, fields).map(Test::InCidr),
            Kind::In => {
                let values = self.values_only(node, name, fields)?;
                let literals = self.literals(values)?;
                Some(if folded {
                    let (strings, others): (Vec<_>, Vec<_>) =
                        literals.into_iter().partition(|l| l.as_str().is_some());
                    let folded = strings
                        .iter()
                        .filter_map(|l| l.as_str().map(|s| fold(s).into()))
                        .collect();
                    Test::IIn(folded, others.into())
                } else {
                    Test::In(LiteralSet::new(literals))
                })
            }
            _ => {
                let value = self.value_only(node, name, fields)?;
                self.value_test(name, kind, folded, value)
            }
        }
    }

    /// Unary conditions take no operand; `Value: true` is tolerated (Panther's own rules write it).
    pub(super) fn no_operand(&mut self, name: &str, fields: &Fields) -> Option<()> {
        let mut ok = true;
        if let Some((key, value)) = fields.value {
            let tolerated = matches!(&value.kind, NodeKind::Plain(t) if resolve_plain(t) == Resolved::Bool(true));
            if !tolerated {
                self.push(
                    Diagnostic::new(Code::InvalidOption, key.span, format!("`{name}` takes no `Value`"))
                        .with_hint("remove `Value:`; to negate a condition use its opposite (e.g. IsIPAddressPublic) or wrap it in `None:`"),
                );
                ok = false;
            }
        }
        if let Some((key, _)) = fields.values {
            self.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    key.span,
                    format!("`{name}` takes no `Values`"),
                )
                .with_hint("remove `Values:`"),
            );
            ok = false;
        }
        ok.then_some(())
    }

    pub(super) fn value_only<'n>(
        &mut self,
        node: &Node,
        name: &str,
        fields: &Fields<'n>,
    ) -> Option<&'n Node> {
        match (fields.value, fields.values) {
            (Some((_, value)), None) => Some(value),
            (Some(_), Some((key, _))) => {
                self.push(
                    Diagnostic::new(
                        Code::KindConflict,
                        key.span,
                        format!("`{name}` has both `Value` and `Values`"),
                    )
                    .with_hint(
                        "keep `Value:`; `Values:` is for IsIn/IsNotIn, or for two keys to compare",
                    ),
                );
                None
            }
            (None, Some((key, _))) => {
                self.push(
                    Diagnostic::new(Code::MissingKey, key.span, format!("`{name}` takes `Value:`, not `Values:`"))
                        .with_hint("with a key specifier, give one `Value:`; to compare two keys, drop the key specifier and list both under `Values:`; for a list of values use IsIn"),
                );
                None
            }
            (None, None) => {
                self.push(
                    Diagnostic::new(
                        Code::MissingKey,
                        node.span,
                        format!("`{name}` needs a `Value:`"),
                    )
                    .with_hint("add the value to compare with, e.g. `Value: SUCCESS`"),
                );
                None
            }
        }
    }

    pub(super) fn values_only<'n>(
        &mut self,
        node: &Node,
        name: &str,
        fields: &Fields<'n>,
    ) -> Option<&'n [Node]> {
        if let Some((key, _)) = fields.value {
            self.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    key.span,
                    format!("`{name}` takes `Values:` (a list), not `Value:`"),
                )
                .with_hint("write `Values: [a, b]`; for a single value use Equals"),
            );
            return None;
        }
        let Some((key, values)) = fields.values else {
            self.push(
                Diagnostic::new(
                    Code::MissingKey,
                    node.span,
                    format!("`{name}` needs `Values:`"),
                )
                .with_hint("list the values, e.g. `Values: [CreateTrail, UpdateTrail]`"),
            );
            return None;
        };
        values
            .expect_list(&key.name, "a list")
            .map_err(|error| self.push(error))
            .ok()
    }

    pub(super) fn cidrs(
        &mut self,
        node: &Node,
        name: &str,
        fields: &Fields,
    ) -> Option<Box<[Cidr]>> {
        let items: Vec<&Node> = match (fields.value, fields.values) {
            (Some((_, value)), None) => vec![value],
            (None, Some(_)) => self.values_only(node, name, fields)?.iter().collect(),
            _ => {
                self.value_only(node, name, fields)?;
                return None;
            }
        };
        let mut ranges = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            let Some(text) = self.operand_text(item) else {
                ok = false;
                continue;
            };
            match Cidr::parse(&text) {
                Ok(range) => ranges.push(range),
                Err(error) => {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidOption,
                            item.span,
                            format!("`{text}` is not a CIDR range: {error}"),
                        )
                        .with_hint("write a range such as `10.0.0.0/8` or `2001:db8::/32`"),
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| ranges.into())
    }
}
