//! The Simple Detection evaluator: match expressions compiled once into a tree, then evaluated
//! against JSON events. Pure: no I/O, no sqlx/reqwest/axum.
//!
//! Compilation (in [`crate::detect::rule`]) splits key paths, lowercases case-insensitive
//! operands, parses numbers, CIDR ranges and regexes, and builds sets for long `IsIn` lists.
//! Evaluation walks the event in place: key lookup is exact first, then ASCII case-insensitive, at
//! every level, and never allocates.
//!
//! # Semantics
//!
//! Where Panther documents the behaviour, this follows it; the rest (marked *warden*) is chosen to
//! agree with every test in the conformance corpus and with the Python rules Panther ported.
//!
//! - A missing key, or a step through a non-object, is **missing**, never an error.
//! - **Positive conditions are false on a missing key. Every negated condition is exactly the
//!   negation of its positive form**, so `DoesNotEqual`, `IsNotIn`, `DoesNotHave`, `IsNull`,
//!   `DoesNotExist`, `IsNullOrEmpty`, … are true on a missing key (pinned: `IsNull`, `IsNotIn`).
//! - `Exists` is true for an explicit `null`. `IsNullOrEmpty` is true for missing, `null`, `""`,
//!   `[]` and `{}` (not for `false` or `0`).
//! - Equality is Python's: numbers by value (`1 == 1.0`), booleans are `0`/`1`, a string never
//!   equals a number, lists and objects compare deeply.
//! - `IsGreaterThan` & co. compare numbers, booleans and strings that spell a number (*warden*:
//!   logs often carry numbers as strings); anything else is false.
//! - String conditions (`StartsWith`, `EndsWith`, `Contains`) apply to strings only. `Has` /
//!   `DoesNotHave` is Python's `in`: a substring of a string, an element of a list, a key of an
//!   object. The `I…` forms (`IEquals`, `IContains`, `IStartsWith`, `IIsIn`, …) compare Unicode
//!   lowercase; only `IEquals` is attested in Panther's public material.
//! - `IsIPAddressPrivate`/`IsIPAddressPublic` are Python's `is_private`/`is_global` (see [`ip`]).
//!   `IsIPAddressInCIDR` takes a CIDR (or several under `Values`).
//! - *warden*: a path with `[*]` or `[?key==value]` selects several values; a condition is true
//!   if **any** selected value satisfies it, and its negation if none does.
//! - List comprehensions (`AnyElement`, `AllElements`, `OnlyOneElement`, `NoElement`) evaluate
//!   their `Expressions` (all must hold) against each element of the list at the key. *warden*: a
//!   missing key or a non-list is no list: `NoElement` is true, the others false; an empty list
//!   makes `AllElements` true (Python's `all([])`).
//! - Multi-key comparisons (`Condition` with `Values: [{KeyPath: a}, {KeyPath: b}]`) compare the
//!   two keys' values with the condition's operator; missing on either side makes the positive
//!   form false.
//! - Combinators: `All` (an empty list is true), `Any`, `OnlyOne` (exactly one), `None`.
//! - Verdict = every `InlineFilters` expression AND every `Detection` expression.
//!
//! # Extensions (not Panther)
//!
//! - `Condition: WardenMatchesRegex` / `WardenDoesNotMatchRegex` with a `Value:` regex (Rust
//!   `regex` syntax: no look-around or backreferences; `(?i)` for case-insensitive). Panther has
//!   no regex condition.
//! - `KeyPath` filter steps `[?key==value]`: e.g. `target[?type==User].alternateId` picks the
//!   target whose `type` is `User`, whatever its position.

pub mod alert;
mod condition;
pub mod ip;
pub mod node;
pub mod path;
pub mod value;

pub use alert::{AlertSpec, Template};
pub use ip::Cidr;
pub use node::{JsonNode, JsonObject, View};
pub use path::{lookup, Path};
pub use value::{fold, Literal};

pub(crate) use condition::{BinaryOp, IpKind, LiteralSet, Order, Test};

use crate::diagnostic::Span;
use std::fmt;

/// A compiled match expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    All(Box<[Expr]>),
    Any(Box<[Expr]>),
    OnlyOne(Box<[Expr]>),
    NoneOf(Box<[Expr]>),
    /// `AlwaysTrue` / `AlwaysFalse`.
    Const(bool),
    /// A condition on one key's value(s); `negate` turns `Equals` into `DoesNotEqual`.
    Test {
        path: Path,
        test: Test,
        negate: bool,
    },
    /// A condition between two keys' values.
    Compare {
        left: Path,
        right: Path,
        op: BinaryOp,
        negate: bool,
    },
    /// A list comprehension over the list at `path`; `body` must all hold for an element.
    Elements {
        path: Path,
        quantifier: Quantifier,
        body: Box<[Expr]>,
    },
}

impl Expr {
    pub(crate) fn eval<N: JsonNode>(&self, event: &N) -> bool {
        match self {
            Expr::All(items) => items.iter().all(|e| e.eval(event)),
            Expr::Any(items) => items.iter().any(|e| e.eval(event)),
            Expr::OnlyOne(items) => {
                let mut seen = 0;
                for item in items.iter() {
                    if item.eval(event) {
                        seen += 1;
                        if seen > 1 {
                            return false;
                        }
                    }
                }
                seen == 1
            }
            Expr::NoneOf(items) => !items.iter().any(|e| e.eval(event)),
            Expr::Const(b) => *b,
            Expr::Test { path, test, negate } => path.any(event, |v| test.matches(v)) != *negate,
            Expr::Compare {
                left,
                right,
                op,
                negate,
            } => left.any(event, |l| right.any(event, |r| op.matches(l, r))) != *negate,
            Expr::Elements {
                path,
                quantifier,
                body,
            } => quantifier.eval(path, body, event),
        }
    }
}

fn all_hold<N: JsonNode>(body: &[Expr], element: &N) -> bool {
    body.iter().all(|e| e.eval(element))
}

/// `AnyElement`, `AllElements`, `OnlyOneElement`, `NoElement`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quantifier {
    Any,
    All,
    OnlyOne,
    NoElement,
}

impl Quantifier {
    fn eval<N: JsonNode>(self, path: &Path, body: &[Expr], event: &N) -> bool {
        match self {
            Quantifier::Any => path.any(event, |v| {
                v.as_array()
                    .is_some_and(|items| items.iter().any(|i| all_hold(body, i)))
            }),
            Quantifier::NoElement => !Quantifier::Any.eval(path, body, event),
            Quantifier::All => {
                let mut saw_list = false;
                let failed = path.any(event, |v| match v.as_array() {
                    Some(items) => {
                        saw_list = true;
                        items.iter().any(|i| !all_hold(body, i))
                    }
                    None => false,
                });
                saw_list && !failed
            }
            Quantifier::OnlyOne => {
                let mut seen = 0;
                path.any(event, |v| {
                    for item in v.as_array().unwrap_or_default() {
                        if all_hold(body, item) {
                            seen += 1;
                            if seen > 1 {
                                return true;
                            }
                        }
                    }
                    false
                });
                seen == 1
            }
        }
    }
}

/// Which list of expressions a clause belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `InlineFilters`.
    InlineFilters,
    /// `Detection`.
    Detection,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::InlineFilters => "InlineFilters",
            Section::Detection => "Detection",
        })
    }
}

/// One top-level expression of `Detection` or `InlineFilters`, with where it came from.
#[derive(Debug, Clone)]
pub struct Clause {
    pub(crate) expr: Expr,
    /// Where the expression starts in the rule file.
    pub span: Span,
    /// The expression as written, compacted to one line.
    pub text: String,
}

impl Clause {
    /// Whether the expression holds for `event`.
    pub fn eval<N: JsonNode>(&self, event: &N) -> bool {
        self.expr.eval(event)
    }

    /// What the expression's key(s) hold in `event`, for explaining a failure.
    fn found<N: JsonNode>(&self, event: &N) -> Option<String> {
        let describe = |path: &Path| match path.first(event) {
            None => format!("`{path}` is missing"),
            Some(_) if path.is_multi() => {
                format!("`{path}` selects {}", brief(&path.select(event)))
            }
            Some(value) => format!("`{path}` is {}", brief(&value.to_value())),
        };
        match &self.expr {
            Expr::Test { path, .. } | Expr::Elements { path, .. } => Some(describe(path)),
            Expr::Compare { left, right, .. } => {
                Some(format!("{} and {}", describe(left), describe(right)))
            }
            _ => None,
        }
    }
}

/// A JSON value in at most about 80 characters.
fn brief(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 80 {
        return text;
    }
    let cut: String = text.chars().take(77).collect();
    format!("{cut}...")
}

/// A rule's compiled `InlineFilters` and `Detection`.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    pub(crate) filters: Vec<Clause>,
    pub(crate) detection: Vec<Clause>,
}

/// Why a rule did not match: the first expression that was false.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `InlineFilters` or `Detection`.
    pub section: Section,
    /// The expression's 0-based index in its list.
    pub index: usize,
    /// Where the expression starts in the rule file.
    pub span: Span,
    /// The expression as written, on one line.
    pub expression: String,
    /// What the expression's key held, when it has one.
    pub found: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}[{}] at line {} is false: {}",
            self.section, self.index, self.span.line, self.expression
        )?;
        if let Some(found) = &self.found {
            write!(f, " ({found})")?;
        }
        Ok(())
    }
}

impl Matcher {
    /// The verdict: every filter and every detection expression holds.
    pub fn matches<N: JsonNode>(&self, event: &N) -> bool {
        self.filters.iter().all(|c| c.eval(event)) && self.detection.iter().all(|c| c.eval(event))
    }

    /// The verdict, and when it is false, the first expression that failed.
    pub fn explain<N: JsonNode>(&self, event: &N) -> Result<(), Failure> {
        let sections = [
            (Section::InlineFilters, &self.filters),
            (Section::Detection, &self.detection),
        ];
        for (section, clauses) in sections {
            for (index, clause) in clauses.iter().enumerate() {
                if !clause.eval(event) {
                    return Err(Failure {
                        section,
                        index,
                        span: clause.span,
                        expression: clause.text.clone(),
                        found: clause.found(event),
                    });
                }
            }
        }
        Ok(())
    }

    /// The compiled `InlineFilters`.
    pub fn filters(&self) -> &[Clause] {
        &self.filters
    }

    /// The compiled `Detection`.
    pub fn detection(&self) -> &[Clause] {
        &self.detection
    }
}

#[cfg(test)]
mod tests;
