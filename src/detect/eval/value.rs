//! Values written in rules and how they compare with event values.
//!
//! Panther runs Simple Detections as Python, so comparisons follow Python: `1 == 1.0`,
//! `True == 1`, and a string never equals a number. Case-insensitive forms compare Unicode
//! lowercase. Nothing here allocates except the rare non-ASCII case-insensitive substring search.

use super::node::{JsonNode, JsonObject, View};
use serde_json::Number;
use std::cmp::Ordering;
use std::fmt;

/// A scalar written in a rule: a `Value:`, or an item of `Values:`.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string (quoted, or plain text that the YAML 1.2 core schema reads as a string).
    Str(Box<str>),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
}

impl Literal {
    /// The string, when the literal is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Literal::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => write!(f, "{s:?}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => write!(f, "{x}"),
            Literal::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A number as Python compares it: integers exactly, anything with a float as a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn of_number(n: &Number) -> Num {
        if let Some(i) = n.as_i64() {
            Num::Int(i128::from(i))
        } else if let Some(u) = n.as_u64() {
            Num::Int(i128::from(u))
        } else {
            Num::Float(n.as_f64().unwrap_or(f64::NAN))
        }
    }

    /// A number, or a boolean (Python's `True` is `1`).
    pub(crate) fn of_value<N: JsonNode>(value: &N) -> Option<Num> {
        match value.view() {
            View::Number(n) => Some(Num::of_number(n)),
            View::Bool(b) => Some(Num::Int(i128::from(b))),
            _ => None,
        }
    }

    /// As [`Num::of_value`], and also a string that spells a number (`"8"`, `" 7.5 "`): logs
    /// often carry numbers as strings, and Panther's ported rules call `float()` on them.
    pub(crate) fn of_value_lenient<N: JsonNode>(value: &N) -> Option<Num> {
        match value.as_str() {
            Some(s) => Num::parse(s),
            None => Num::of_value(value),
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Num> {
        let text = text.trim();
        if let Ok(i) = text.parse::<i128>() {
            return Some(Num::Int(i));
        }
        text.parse::<f64>().ok().map(Num::Float)
    }

    pub(crate) fn of_literal(literal: &Literal) -> Option<Num> {
        match literal {
            Literal::Int(i) => Some(Num::Int(i128::from(*i))),
            Literal::Float(f) => Some(Num::Float(*f)),
            Literal::Bool(b) => Some(Num::Int(i128::from(*b))),
            Literal::Str(_) => None,
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            // Precision loss above 2^53 only affects comparisons with a float.
            #[allow(clippy::cast_precision_loss)]
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// The order of two numbers; none when either is NaN.
    pub(crate) fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{x}"),
        }
    }
}

/// Python's `value == literal` for an event value and a rule literal.
pub(crate) fn equals_literal<N: JsonNode>(value: &N, literal: &Literal) -> bool {
    match (value.view(), literal) {
        (View::String(s), Literal::Str(t)) => s == &**t,
        (View::String(_), _) | (_, Literal::Str(_)) => false,
        _ => match (Num::of_value(value), Num::of_literal(literal)) {
            (Some(a), Some(b)) => a.compare(b) == Some(Ordering::Equal),
            _ => false,
        },
    }
}

/// Python's `a == b` for two event values: deep, numbers by value, `null == null`.
pub(crate) fn equals_value<N: JsonNode>(a: &N, b: &N) -> bool {
    match (a.view(), b.view()) {
        (View::Null, View::Null) => true,
        (View::String(x), View::String(y)) => x == y,
        (View::Array(x), View::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| equals_value(x, y))
        }
        (View::Object(x), View::Object(y)) => {
            x.len() == y.len()
                && x.entries()
                    .all(|(k, v)| y.get(k).is_some_and(|w| equals_value(v, w)))
        }
        _ => match (Num::of_value(a), Num::of_value(b)) {
            (Some(x), Some(y)) => x.compare(y) == Some(Ordering::Equal),
            _ => false,
        },
    }
}

/// Lowercases the way the case-insensitive conditions compare: per character, Unicode.
pub fn fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// `fold(text) == folded`, without allocating.
pub(crate) fn fold_eq(text: &str, folded: &str) -> bool {
    if text.is_ascii() && folded.is_ascii() {
        return text.eq_ignore_ascii_case(folded);
    }
    text.chars().flat_map(char::to_lowercase).eq(folded.chars())
}

/// `fold(text).starts_with(folded)`, without allocating.
pub(crate) fn fold_starts_with(text: &str, folded: &str) -> bool {
    if text.is_ascii() && folded.is_ascii() {
        return text.len() >= folded.len()
            && text.as_bytes()[..folded.len()].eq_ignore_ascii_case(folded.as_bytes());
    }
    let mut lowered = text.chars().flat_map(char::to_lowercase);
    folded.chars().all(|c| lowered.next() == Some(c))
}

/// `fold(text).ends_with(folded)`, without allocating.
pub(crate) fn fold_ends_with(text: &str, folded: &str) -> bool {
    if text.is_ascii() && folded.is_ascii() {
        return text.len() >= folded.len()
            && text.as_bytes()[text.len() - folded.len()..]
                .eq_ignore_ascii_case(folded.as_bytes());
    }
    let mut lowered = text.chars().rev().flat_map(|c| c.to_lowercase().rev());
    folded.chars().rev().all(|c| lowered.next() == Some(c))
}

/// `fold(text).contains(folded)`; allocates only when either side is not ASCII.
pub(crate) fn fold_contains(text: &str, folded: &str) -> bool {
    if folded.is_empty() {
        return true;
    }
    if text.is_ascii() && folded.is_ascii() {
        let needle = folded.as_bytes();
        return text
            .as_bytes()
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle));
    }
    fold(text).contains(folded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn equality_follows_python() {
        assert!(equals_literal(&json!(8), &Literal::Float(8.0)));
        assert!(equals_literal(&json!(8.0), &Literal::Int(8)));
        assert!(equals_literal(&json!(true), &Literal::Int(1)));
        assert!(equals_literal(&json!(0), &Literal::Bool(false)));
        assert!(equals_literal(&json!(false), &Literal::Bool(false)));
        assert!(!equals_literal(&json!("8"), &Literal::Int(8)));
        assert!(!equals_literal(&json!(8), &Literal::Str("8".into())));
        assert!(!equals_literal(&Value::Null, &Literal::Bool(false)));
        assert!(equals_literal(
            &json!(u64::MAX),
            &Literal::Float(u64::MAX as f64)
        ));
        assert!(!equals_literal(
            &json!(9_007_199_254_740_993_i64),
            &Literal::Int(9_007_199_254_740_992)
        ));
    }

    #[test]
    fn deep_equality_compares_structure_and_numbers_by_value() {
        assert!(equals_value(
            &json!({"a": [1, "x"]}),
            &json!({"a": [1.0, "x"]})
        ));
        assert!(!equals_value(&json!({"a": [1]}), &json!({"a": [1, 2]})));
        assert!(equals_value(&Value::Null, &Value::Null));
        assert!(!equals_value(&json!("1"), &json!(1)));
    }

    #[test]
    fn numbers_parse_from_strings_only_when_asked() {
        assert_eq!(Num::of_value(&json!("8")), None);
        assert_eq!(Num::of_value_lenient(&json!(" 8 ")), Some(Num::Int(8)));
        assert_eq!(Num::of_value_lenient(&json!("7.5")), Some(Num::Float(7.5)));
        assert_eq!(Num::of_value_lenient(&json!("eight")), None);
        assert_eq!(
            Num::Int(3).compare(Num::Float(2.5)),
            Some(Ordering::Greater)
        );
        assert_eq!(Num::Float(f64::NAN).compare(Num::Int(1)), None);
    }

    #[test]
    fn case_folding_compares_without_allocating_and_handles_unicode() {
        assert!(fold_eq("DOWNLOAD", "download"));
        assert!(!fold_eq("DOWNLOADS", "download"));
        assert!(fold_eq("ÉCOLE", "école"));
        assert!(fold_starts_with("Administrator", "admin"));
        assert!(fold_starts_with("ÉCOLE normale", "école"));
        assert!(!fold_starts_with("ad", "admin"));
        assert!(fold_ends_with("Super ADMINISTRATOR", "administrator"));
        assert!(fold_ends_with("grande ÉCOLE", "école"));
        assert!(!fold_ends_with("or", "administrator"));
        assert!(fold_contains(
            "Organization Administrator, App",
            "administrator"
        ));
        assert!(fold_contains("la grande ÉCOLE ici", "école"));
        assert!(!fold_contains("viewer", "administrator"));
        assert!(fold_contains("anything", ""));
    }
}
