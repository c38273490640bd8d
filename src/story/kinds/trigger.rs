//! `trigger`: passes its event on when its rules match, otherwise along `.no_match`.

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
