//! `trigger`: passes its event on when its rules match, otherwise along `.no_match`.

use super::check::{check_non_empty, out_of_range, CheckContext};
use crate::diagnostic::{Code, Diagnostic};
use crate::pattern::{compile_regex, regex_error_summary};
use crate::story::value::{Dynamic, Template};
use crate::yaml::Spanned;
use schemars::JsonSchema;
use serde::Deserialize;

/// Options of a `trigger` action (Tines' Trigger, now called Condition).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct TriggerOptions {
    /// The rules to test.
    pub rules: Spanned<Vec<Rule>>,
    /// How many rules must match; `1` makes the rules an OR. Default: all of them.
    pub must_match: Option<Spanned<u32>>,
}

impl TriggerOptions {
    /// Checks what the types cannot: at least one rule, `must_match` within the rules, and the
    /// literal values (a regex that compiles, a number where a rule compares numbers). Values
    /// that are templates are only known when the rule runs.
    pub fn check(&self, _cx: &CheckContext, d: &mut Vec<Diagnostic>) {
        check_non_empty(&self.rules, "a trigger", "rule", d);
        if let Some(n) = &self.must_match {
            if n.value == 0 || n.value as usize > self.rules.len() {
                d.push(out_of_range(
                    n,
                    "must_match",
                    &format!("1..={} (the number of rules)", self.rules.len()),
                ));
            }
        }
        for rule in self.rules.iter() {
            rule.check_literals(d);
        }
    }
}

/// One test of a value.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Rule {
    /// The comparison, as Tines writes it.
    #[serde(rename = "type")]
    pub kind: Spanned<RuleKind>,
    /// A template giving the value to test, e.g. `"{{ gn_lookup.body.classification }}"`.
    pub path: Template,
    /// What to compare with. A list means "any of these".
    pub value: Dynamic,
}

/// Tines' trigger rule tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum RuleKind {
    /// The value matches the regular expression (case-insensitive).
    #[serde(rename = "regex")]
    Regex,
    /// The value does not match the regular expression (case-insensitive).
    #[serde(rename = "!regex")]
    NotRegex,
    /// Equal (numbers compare as numbers, otherwise as text).
    #[serde(rename = "field==value")]
    Equal,
    /// Not equal.
    #[serde(rename = "field!=value")]
    NotEqual,
    /// Numerically less than.
    #[serde(rename = "field<value")]
    Less,
    /// Numerically less than or equal.
    #[serde(rename = "field<=value")]
    LessOrEqual,
    /// Numerically greater than.
    #[serde(rename = "field>value")]
    Greater,
    /// Numerically greater than or equal.
    #[serde(rename = "field>=value")]
    GreaterOrEqual,
    /// The value contains `value`: a substring of a string, an element of a list, a key of a
    /// mapping.
    #[serde(rename = "in")]
    In,
    /// The value does not contain `value`.
    #[serde(rename = "not in")]
    NotIn,
}

impl Rule {
    /// Checks the literal strings of `value` (a list's items too) against the rule's kind.
    fn check_literals(&self, d: &mut Vec<Diagnostic>) {
        let literals: Vec<&Template> = match &self.value {
            Dynamic::Template(t) => vec![t],
            Dynamic::Array(items) => items
                .iter()
                .filter_map(|i| {
                    if let Dynamic::Template(t) = i {
                        Some(t)
                    } else {
                        None
                    }
                })
                .collect(),
            _ => vec![],
        };
        let literals = literals
            .into_iter()
            .filter(|t| t.compiled().is_ok_and(|c| c.is_literal()));
        use RuleKind::*;
        for t in literals {
            match self.kind.value {
                Regex | NotRegex => {
                    if let Err(error) = compile_regex(&t.source, true) {
                        d.push(
                            Diagnostic::new(Code::BadRegex, t.span, format!("invalid regular expression: {}", regex_error_summary(&error)))
                                .with_hint("regexes use Rust `regex` syntax (no look-around or back-references)"),
                        );
                    }
                }
                Less | LessOrEqual | Greater | GreaterOrEqual
                    if t.source.trim().parse::<f64>().is_err() =>
                {
                    d.push(
                        Diagnostic::new(
                            Code::InvalidOption,
                            t.span,
                            format!(
                                "`{}` compares numbers, but `{}` is not a number",
                                self.kind.value.as_str(),
                                t.source
                            ),
                        )
                        .with_hint("write the value as a number, e.g. `value: 0`"),
                    );
                }
                _ => {}
            }
        }
    }
}

impl RuleKind {
    /// The token as written in a story.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Regex => "regex",
            RuleKind::NotRegex => "!regex",
            RuleKind::Equal => "field==value",
            RuleKind::NotEqual => "field!=value",
            RuleKind::Less => "field<value",
            RuleKind::LessOrEqual => "field<=value",
            RuleKind::Greater => "field>value",
            RuleKind::GreaterOrEqual => "field>=value",
            RuleKind::In => "in",
            RuleKind::NotIn => "not in",
        }
    }

    /// Whether the rule's `value` is a regular expression.
    pub fn is_regex(self) -> bool {
        matches!(self, RuleKind::Regex | RuleKind::NotRegex)
    }
}
