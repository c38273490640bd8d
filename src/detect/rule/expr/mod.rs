//! Compiling match expressions from the YAML tree into the evaluator's tree. Every mistake is
//! reported with its position and compiling carries on, so one pass finds them all.
//!
//! Shapes are told apart by their keys (a combinator key, a key specifier, `Values` holding key
//! specifiers), never by serde's untagged enums, so positions survive.

mod flow;
mod key;
mod operand;
mod value;

use super::Compiler;
use crate::detect::eval::{Clause, Expr, IpKind, Order, Quantifier};
use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::yaml::{Key, Node, NodeKind};
use flow::flow;

/// Where an expression appears: `InlineFilters` allow a reduced grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::detect) enum Place {
    Detection,
    Filter,
}

const SPECIFIERS: &[&str] = &["Key", "DeepKey", "KeyPath", "Enrichment"];
const COMBINATORS: &[&str] = &["All", "Any", "OnlyOne", "None"];
const EXPRESSION_KEYS: &[&str] = &[
    "Key",
    "DeepKey",
    "KeyPath",
    "Enrichment",
    "Condition",
    "Value",
    "Values",
    "Expressions",
    "All",
    "Any",
    "OnlyOne",
    "None",
];

/// What a condition does, before its operand is read.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Always(bool),
    Exists,
    NotNull,
    NotEmpty,
    Ip(IpKind),
    InCidr,
    Equals,
    StartsWith,
    EndsWith,
    Contains,
    Has,
    In,
    Ordered(Order),
    Regex,
    Elements(Quantifier),
}

/// Every condition: name, kind, negated, case-insensitive.
#[rustfmt::skip]
const CONDITIONS: &[(&str, Kind, bool, bool)] = &[
    ("AlwaysTrue", Kind::Always(true), false, false),
    ("AlwaysFalse", Kind::Always(false), false, false),
    ("Exists", Kind::Exists, false, false),
    ("DoesNotExist", Kind::Exists, true, false),
    ("IsNull", Kind::NotNull, true, false),
    ("IsNotNull", Kind::NotNull, false, false),
    ("IsNullOrEmpty", Kind::NotEmpty, true, false),
    ("IsNotNullOrEmpty", Kind::NotEmpty, false, false),
    ("IsIPAddress", Kind::Ip(IpKind::Any), false, false),
    ("IsIPv4Address", Kind::Ip(IpKind::V4), false, false),
    ("IsIPv6Address", Kind::Ip(IpKind::V6), false, false),
    ("IsIPAddressPublic", Kind::Ip(IpKind::Public), false, false),
    ("IsIPAddressPrivate", Kind::Ip(IpKind::Private), false, false),
    ("IsIPAddressInCIDR", Kind::InCidr, false, false),
    ("Equals", Kind::Equals, false, false),
    ("DoesNotEqual", Kind::Equals, true, false),
    ("IEquals", Kind::Equals, false, true),
    ("IDoesNotEqual", Kind::Equals, true, true),
    ("StartsWith", Kind::StartsWith, false, false),
    ("DoesNotStartWith", Kind::StartsWith, true, false),
    ("IStartsWith", Kind::StartsWith, false, true),
    ("IDoesNotStartWith", Kind::StartsWith, true, true),
    ("EndsWith", Kind::EndsWith, false, false),
    ("DoesNotEndWith", Kind::EndsWith, true, false),
    ("IEndsWith", Kind::EndsWith, false, true),
    ("IDoesNotEndWith", Kind::EndsWith, true, true),
    ("Contains", Kind::Contains, false, false),
    ("DoesNotContain", Kind::Contains, true, false),
    ("IContains", Kind::Contains, false, true),
    ("IDoesNotContain", Kind::Contains, true, true),
    ("Has", Kind::Has, false, false),
    ("DoesNotHave", Kind::Has, true, false),
    ("IHas", Kind::Has, false, true),
    ("IDoesNotHave", Kind::Has, true, true),
    ("IsIn", Kind::In, false, false),
    ("IsNotIn", Kind::In, true, false),
    ("IIsIn", Kind::In, false, true),
    ("IIsNotIn", Kind::In, true, true),
    ("IsGreaterThan", Kind::Ordered(Order::Greater), false, false),
    ("IsGreaterThanOrEquals", Kind::Ordered(Order::GreaterOrEqual), false, false),
    ("IsGreaterThanOrEqual", Kind::Ordered(Order::GreaterOrEqual), false, false),
    ("IsLessThan", Kind::Ordered(Order::Less), false, false),
    ("IsLessThanOrEquals", Kind::Ordered(Order::LessOrEqual), false, false),
    ("IsLessThanOrEqual", Kind::Ordered(Order::LessOrEqual), false, false),
    ("AnyElement", Kind::Elements(Quantifier::Any), false, false),
    ("AllElements", Kind::Elements(Quantifier::All), false, false),
    ("NoElement", Kind::Elements(Quantifier::NoElement), false, false),
    ("OnlyOneElement", Kind::Elements(Quantifier::OnlyOne), false, false),
    ("WardenMatchesRegex", Kind::Regex, false, false),
    ("WardenDoesNotMatchRegex", Kind::Regex, true, false),
];

/// Every condition name, for documentation and did-you-mean.
pub fn condition_names() -> impl Iterator<Item = &'static str> {
    CONDITIONS.iter().map(|c| c.0)
}

/// The keys of one condition expression, as found.
#[derive(Default)]
struct Fields<'n> {
    specifiers: Vec<(&'n Key, &'n Node)>,
    condition: Option<&'n Node>,
    value: Option<(&'n Key, &'n Node)>,
    values: Option<(&'n Key, &'n Node)>,
    expressions: Option<(&'n Key, &'n Node)>,
}

impl Compiler<'_> {
    /// A list of top-level expressions (`Detection`, `InlineFilters`, `Conditions`).
    pub(in crate::detect) fn clauses(
        &mut self,
        key: &Key,
        node: &Node,
        place: Place,
    ) -> Option<Vec<Clause>> {
        let items = self.expression_list(key, node)?;
        let mut clauses = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.expr(item, place) {
                Some(expr) => clauses.push(Clause {
                    expr,
                    span: item.span,
                    text: flow(item),
                }),
                None => ok = false,
            }
        }
        ok.then_some(clauses)
    }

    fn expression_list<'n>(&mut self, key: &Key, node: &'n Node) -> Option<&'n [Node]> {
        node.expect_list(&key.name, "a list of match expressions")
            .map_err(|error| {
                self.push(error.with_hint("start each expression with `- `, e.g. `- {KeyPath: eventType, Condition: Equals, Value: x}`"));
            })
            .ok()
    }

    fn exprs(&mut self, key: &Key, node: &Node, place: Place) -> Option<Box<[Expr]>> {
        let items = self.expression_list(key, node)?;
        let compiled: Vec<Option<Expr>> = items.iter().map(|i| self.expr(i, place)).collect();
        compiled
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .map(Into::into)
    }

    fn expr(&mut self, node: &Node, place: Place) -> Option<Expr> {
        let Some(entries) = node.as_map() else {
            self.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    node.span,
                    format!("expected a match expression (a mapping), found {}", node.describe()),
                )
                .with_hint("write e.g. `{KeyPath: eventType, Condition: Equals, Value: user.session.start}`"),
            );
            return None;
        };
        if let Some((key, value)) = entries
            .iter()
            .find(|(k, _)| COMBINATORS.contains(&k.name.as_str()))
        {
            return self.combinator(entries, key, value, place);
        }
        let mut fields = Fields::default();
        for (key, value) in entries {
            match key.name.as_str() {
                "Key" | "DeepKey" | "KeyPath" | "Enrichment" => {
                    fields.specifiers.push((key, value))
                }
                "Condition" => fields.condition = Some(value),
                "Value" => fields.value = Some((key, value)),
                "Values" => fields.values = Some((key, value)),
                "Expressions" => fields.expressions = Some((key, value)),
                other => {
                    self.unknown_key(key.span, other, EXPRESSION_KEYS);
                }
            }
        }
        self.condition(node, &fields, place)
    }

    fn combinator(
        &mut self,
        entries: &[(Key, Node)],
        key: &Key,
        value: &Node,
        place: Place,
    ) -> Option<Expr> {
        let mut ok = true;
        for (other, _) in entries.iter().filter(|(k, _)| !std::ptr::eq(k, key)) {
            self.push(
                Diagnostic::new(
                    Code::UnknownKey,
                    other.span,
                    format!(
                        "unknown key `{}` beside the `{}` combinator",
                        other.name, key.name
                    ),
                )
                .with_hint(format!(
                    "a combinator holds only its list of expressions; move `{}` into one of them",
                    other.name
                )),
            );
            ok = false;
        }
        if place == Place::Filter && !matches!(key.name.as_str(), "All" | "Any") {
            self.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    key.span,
                    format!(
                        "InlineFilters allow the `All` and `Any` combinators, not `{}`",
                        key.name
                    ),
                )
                .with_hint("move this expression to `Detection`"),
            );
            ok = false;
        }
        let items = self.exprs(key, value, place)?;
        ok.then(|| match key.name.as_str() {
            "All" => Expr::All(items),
            "Any" => Expr::Any(items),
            "OnlyOne" => Expr::OnlyOne(items),
            _ => Expr::NoneOf(items),
        })
    }

    fn condition(&mut self, node: &Node, fields: &Fields, place: Place) -> Option<Expr> {
        let mut ok = true;
        if let [(first, _), (second, _), ..] = fields.specifiers.as_slice() {
            self.push(
                Diagnostic::new(
                    Code::KindConflict,
                    second.span,
                    format!(
                        "match expression has both `{}` and `{}`",
                        first.name, second.name
                    ),
                )
                .with_hint("use one key specifier: `Key`, `DeepKey`, `KeyPath` or `Enrichment`"),
            );
            ok = false;
        }
        let specifier = fields.specifiers.first().copied();
        if let Some((key, _)) = specifier {
            if place == Place::Filter && matches!(key.name.as_str(), "Key" | "DeepKey") {
                self.push(
                    Diagnostic::new(
                        Code::InvalidOption,
                        key.span,
                        format!(
                            "InlineFilters take `KeyPath` or `Enrichment`, not `{}`",
                            key.name
                        ),
                    )
                    .with_hint("write the key as `KeyPath: a.b.c`"),
                );
                ok = false;
            }
        }
        let path = match specifier {
            Some((key, value)) => {
                let path = self.specifier(key, value);
                ok &= path.is_some();
                path
            }
            None => None,
        };
        let Some(condition) = fields.condition else {
            self.push(
                Diagnostic::new(Code::MissingKey, node.span, "match expression has no `Condition`")
                    .with_hint("add `Condition:` (e.g. `Equals`), or group expressions with `All`, `Any`, `OnlyOne` or `None`"),
            );
            return None;
        };
        let Some(name) = scalar(condition) else {
            self.push(Diagnostic::new(
                Code::InvalidValue,
                condition.span,
                format!("expected a condition name, found {}", condition.describe()),
            ));
            return None;
        };
        let Some(&(name, kind, negate, folded)) = CONDITIONS.iter().find(|c| c.0 == name) else {
            let hint = did_you_mean(name, condition_names()).unwrap_or_else(|| {
                "conditions include Equals, IsIn, Contains, StartsWith, Has, Exists, IsNull, \
                 IsGreaterThan, IsIPAddressInCIDR, AnyElement and AlwaysTrue"
                    .to_owned()
            });
            self.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    condition.span,
                    format!("unknown condition `{name}`"),
                )
                .with_hint(hint),
            );
            return None;
        };
        let has_key = specifier.is_some();
        let expr = match kind {
            Kind::Always(b) => self
                .absolute(node, name, fields, place)
                .then_some(Expr::Const(b)),
            Kind::Elements(quantifier) => {
                self.elements(node, name, fields, place, path, quantifier)
            }
            Kind::In
            | Kind::Equals
            | Kind::StartsWith
            | Kind::EndsWith
            | Kind::Contains
            | Kind::Has
            | Kind::Ordered(_)
                if !has_key =>
            {
                self.compare(node, name, kind, folded, negate, fields, place)
            }
            _ => {
                let test = self.operand(node, name, kind, folded, fields, has_key);
                match (path, test) {
                    (Some(path), Some(test)) => Some(Expr::Test { path, test, negate }),
                    _ => None,
                }
            }
        };
        expr.filter(|_| ok)
    }
}

/// A plain or quoted scalar's text.
fn scalar(node: &Node) -> Option<&str> {
    match &node.kind {
        NodeKind::Str(s) | NodeKind::Plain(s) => Some(s),
        _ => None,
    }
}
