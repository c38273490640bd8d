//! Conditions with their operands compiled, and how each tests a value.

use super::ip::{is_global, is_private};
use super::node::{JsonNode, JsonObject, View};
use super::path::lookup;
use super::value::{
    equals_literal, equals_value, fold, fold_contains, fold_ends_with, fold_eq, fold_starts_with,
    Literal, Num,
};
use super::Cidr;
use regex::Regex;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::net::IpAddr;

/// `IsGreaterThan`, `IsGreaterThanOrEquals`, `IsLessThan`, `IsLessThanOrEquals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Order {
    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Order::Greater => ordering == Ordering::Greater,
            Order::GreaterOrEqual => ordering != Ordering::Less,
            Order::Less => ordering == Ordering::Less,
            Order::LessOrEqual => ordering != Ordering::Greater,
        }
    }
}

/// The IP address conditions that take no operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpKind {
    Any,
    V4,
    V6,
    Public,
    Private,
}

impl IpKind {
    fn accepts(self, ip: IpAddr) -> bool {
        match self {
            IpKind::Any => true,
            IpKind::V4 => ip.is_ipv4(),
            IpKind::V6 => ip.is_ipv6(),
            IpKind::Public => is_global(ip),
            IpKind::Private => is_private(ip),
        }
    }
}

/// `IsIn` operands: strings in a set once the list is long, everything else in a list.
#[derive(Debug, Clone)]
pub(crate) struct LiteralSet {
    strings: StringSet,
    others: Box<[Literal]>,
}

#[derive(Debug, Clone)]
enum StringSet {
    Few(Box<[Box<str>]>),
    Many(HashSet<Box<str>>),
}

impl LiteralSet {
    pub(crate) fn new(literals: Vec<Literal>) -> LiteralSet {
        let (strings, others): (Vec<_>, Vec<_>) = literals
            .into_iter()
            .partition(|l| matches!(l, Literal::Str(_)));
        let strings: Vec<Box<str>> = strings
            .into_iter()
            .filter_map(|l| match l {
                Literal::Str(s) => Some(s),
                _ => None,
            })
            .collect();
        LiteralSet {
            strings: if strings.len() > 8 {
                StringSet::Many(strings.into_iter().collect())
            } else {
                StringSet::Few(strings.into())
            },
            others: others.into(),
        }
    }

    fn contains<N: JsonNode>(&self, value: &N) -> bool {
        match value.as_str() {
            Some(s) => match &self.strings {
                StringSet::Few(items) => items.iter().any(|t| **t == *s),
                StringSet::Many(set) => set.contains(s),
            },
            None => self.others.iter().any(|l| equals_literal(value, l)),
        }
    }
}

/// A condition on one value, with its operand compiled.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    Exists,
    NotNull,
    NotEmpty,
    Equals(Literal),
    /// Folded (lowercase) string operand.
    IEquals(Box<str>),
    StartsWith(Box<str>),
    IStartsWith(Box<str>),
    EndsWith(Box<str>),
    IEndsWith(Box<str>),
    Contains(Box<str>),
    IContains(Box<str>),
    Has(Literal),
    IHas(Box<str>),
    In(LiteralSet),
    /// Folded strings, and the non-string operands compared as `IsIn` does.
    IIn(Box<[Box<str>]>, Box<[Literal]>),
    Ordered(Order, Num),
    Ip(IpKind),
    InCidr(Box<[Cidr]>),
    Regex(Regex),
}

impl Test {
    pub(crate) fn matches<N: JsonNode>(&self, value: &N) -> bool {
        let text = || value.as_str();
        match self {
            Test::Exists => true,
            Test::NotNull => !matches!(value.view(), View::Null),
            Test::NotEmpty => match value.view() {
                View::Null => false,
                View::String(s) => !s.is_empty(),
                View::Array(items) => !items.is_empty(),
                View::Object(map) => !map.is_empty(),
                View::Bool(_) | View::Number(_) => true,
            },
            Test::Equals(literal) => equals_literal(value, literal),
            Test::IEquals(folded) => text().is_some_and(|s| fold_eq(s, folded)),
            Test::StartsWith(p) => text().is_some_and(|s| s.starts_with(&**p)),
            Test::IStartsWith(p) => text().is_some_and(|s| fold_starts_with(s, p)),
            Test::EndsWith(p) => text().is_some_and(|s| s.ends_with(&**p)),
            Test::IEndsWith(p) => text().is_some_and(|s| fold_ends_with(s, p)),
            Test::Contains(p) => text().is_some_and(|s| s.contains(&**p)),
            Test::IContains(p) => text().is_some_and(|s| fold_contains(s, p)),
            Test::Has(literal) => match value.view() {
                View::String(s) => literal.as_str().is_some_and(|n| s.contains(n)),
                View::Array(items) => items.iter().any(|i| equals_literal(i, literal)),
                View::Object(map) => literal.as_str().is_some_and(|k| lookup(map, k).is_some()),
                _ => false,
            },
            Test::IHas(folded) => match value.view() {
                View::String(s) => fold_contains(s, folded),
                View::Array(items) => items
                    .iter()
                    .any(|i| i.as_str().is_some_and(|s| fold_eq(s, folded))),
                View::Object(map) => map.entries().any(|(k, _)| fold_eq(k, folded)),
                _ => false,
            },
            Test::In(set) => set.contains(value),
            Test::IIn(folded, others) => match value.as_str() {
                Some(s) => folded.iter().any(|f| fold_eq(s, f)),
                None => others.iter().any(|l| equals_literal(value, l)),
            },
            Test::Ordered(order, operand) => Num::of_value_lenient(value)
                .and_then(|n| n.compare(*operand))
                .is_some_and(|o| order.accepts(o)),
            Test::Ip(kind) => parse_ip(value).is_some_and(|ip| kind.accepts(ip)),
            Test::InCidr(ranges) => {
                parse_ip(value).is_some_and(|ip| ranges.iter().any(|r| r.contains(ip)))
            }
            Test::Regex(regex) => text().is_some_and(|s| regex.is_match(s)),
        }
    }
}

fn parse_ip<N: JsonNode>(value: &N) -> Option<IpAddr> {
    value.as_str()?.parse().ok()
}

/// The operator of a multi-key comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Equals,
    IEquals,
    StartsWith,
    IStartsWith,
    EndsWith,
    IEndsWith,
    Contains,
    IContains,
    Has,
    IHas,
    In,
    IIn,
    Ordered(Order),
}

impl BinaryOp {
    pub(crate) fn matches<N: JsonNode>(self, left: &N, right: &N) -> bool {
        let strings = || Some((left.as_str()?, right.as_str()?));
        let folded = |f: fn(&str, &str) -> bool| strings().is_some_and(|(l, r)| f(l, &fold(r)));
        match self {
            BinaryOp::Equals => equals_value(left, right),
            BinaryOp::IEquals => match strings() {
                Some((l, r)) => fold_eq(l, &fold(r)),
                None => equals_value(left, right),
            },
            BinaryOp::StartsWith => strings().is_some_and(|(l, r)| l.starts_with(r)),
            BinaryOp::IStartsWith => folded(fold_starts_with),
            BinaryOp::EndsWith => strings().is_some_and(|(l, r)| l.ends_with(r)),
            BinaryOp::IEndsWith => folded(fold_ends_with),
            BinaryOp::Contains => strings().is_some_and(|(l, r)| l.contains(r)),
            BinaryOp::IContains => folded(fold_contains),
            BinaryOp::Has => BinaryOp::In.matches(right, left),
            BinaryOp::IHas => BinaryOp::IIn.matches(right, left),
            BinaryOp::In => match right.view() {
                View::Array(items) => items.iter().any(|i| equals_value(left, i)),
                View::String(r) => left.as_str().is_some_and(|l| r.contains(l)),
                View::Object(map) => left.as_str().is_some_and(|k| lookup(map, k).is_some()),
                _ => false,
            },
            BinaryOp::IIn => match (left.view(), right.view()) {
                (View::String(l), View::Array(items)) => {
                    let l = fold(l);
                    items
                        .iter()
                        .any(|i| i.as_str().is_some_and(|s| fold_eq(s, &l)))
                }
                (View::String(l), View::String(r)) => fold_contains(r, &fold(l)),
                _ => BinaryOp::In.matches(left, right),
            },
            BinaryOp::Ordered(order) => {
                match (Num::of_value_lenient(left), Num::of_value_lenient(right)) {
                    (Some(l), Some(r)) => l.compare(r).is_some_and(|o| order.accepts(o)),
                    _ => false,
                }
            }
        }
    }
}
