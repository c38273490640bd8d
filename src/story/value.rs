//! Field types shared by every action kind: templates, JSON with templates inside, durations,
//! regular expressions and HTTP status lists. Each knows its position and reports its own mistakes
//! with a specific code.

use crate::diagnostic::{Code, Span};
use crate::template;
use crate::yaml::de::coded;
use crate::yaml::Spanned;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserialize, Deserializer};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// A string field rendered with minijinja: `"{{ vt_lookup.body.data.id }}"`. Compiled as it is
/// read; a syntax error is kept (not raised) so validation can report every bad template at once.
#[derive(Clone)]
pub struct Template {
    /// The template text as written.
    pub source: String,
    /// Where the text starts.
    pub span: Span,
    compiled: Result<Arc<template::Compiled>, template::Error>,
}

impl Template {
    /// Compiles `source`, keeping any syntax error for later reporting.
    pub fn new(source: String, span: Span) -> Self {
        let compiled = template::compile(&source).map(Arc::new);
        Template {
            source,
            span,
            compiled,
        }
    }

    /// The compiled template, or the syntax error it has.
    pub fn compiled(&self) -> Result<&template::Compiled, &template::Error> {
        self.compiled.as_deref()
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({:?} at {})", self.source, self.span)
    }
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Spanned::<String>::deserialize(deserializer)?;
        Ok(Template::new(text.value, text.span))
    }
}

impl JsonSchema for Template {
    fn schema_name() -> Cow<'static, str> {
        "Template".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Text with minijinja expressions, e.g. \"{{ receive_alert.body.alertId }}\". A field that is exactly one {{ expression }} keeps the expression's JSON type."
        })
    }
}

/// Any JSON value whose strings are templates: request bodies, payloads, integration inputs.
/// Objects keep their key order so request bodies go out as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Dynamic {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(serde_json::Number),
    /// A string, rendered as a template.
    Template(Template),
    /// A list.
    Array(Vec<Dynamic>),
    /// A mapping; keys are literal, values are rendered.
    Object(Vec<(String, Dynamic)>),
}

impl Dynamic {
    /// Calls `f` on every template inside, depth first, in source order.
    pub fn each_template<'a>(&'a self, f: &mut dyn FnMut(&'a Template)) {
        match self {
            Dynamic::Template(t) => f(t),
            Dynamic::Array(items) => items.iter().for_each(|i| i.each_template(f)),
            Dynamic::Object(entries) => entries.iter().for_each(|(_, v)| v.each_template(f)),
            Dynamic::Null | Dynamic::Bool(_) | Dynamic::Number(_) => {}
        }
    }

    /// The value as JSON with templates left as their source text.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Dynamic::Null => Value::Null,
            Dynamic::Bool(b) => Value::Bool(*b),
            Dynamic::Number(n) => Value::Number(n.clone()),
            Dynamic::Template(t) => Value::String(t.source.clone()),
            Dynamic::Array(items) => Value::Array(items.iter().map(Dynamic::to_json).collect()),
            Dynamic::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Dynamic {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Each level asks for `Spanned` so string leaves know where they are.
        let shape = Spanned::<Shape>::deserialize(deserializer)?;
        Ok(match shape.value {
            Shape::Null => Dynamic::Null,
            Shape::Bool(b) => Dynamic::Bool(b),
            Shape::Number(n) => Dynamic::Number(n),
            Shape::String(s) => Dynamic::Template(Template::new(s, shape.span)),
            Shape::Array(items) => Dynamic::Array(items),
            Shape::Object(entries) => Dynamic::Object(entries),
        })
    }
}

impl JsonSchema for Dynamic {
    fn schema_name() -> Cow<'static, str> {
        "Dynamic".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Any JSON value; every string inside is a template."
        })
    }
}

enum Shape {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Dynamic>),
    Object(Vec<(String, Dynamic)>),
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;
        impl<'de> de::Visitor<'de> for ShapeVisitor {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Shape, E> {
                Ok(Shape::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Shape, E> {
                Ok(Shape::Number(i.into()))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Shape, E> {
                Ok(Shape::Number(u.into()))
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> Result<Shape, E> {
                serde_json::Number::from_f64(f)
                    .map(Shape::Number)
                    .ok_or_else(|| E::custom("infinity and NaN have no JSON form"))
            }
            fn visit_str<E>(self, s: &str) -> Result<Shape, E> {
                Ok(Shape::String(s.to_owned()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Shape::Array(items))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Shape::Object(entries))
            }
        }
        deserializer.deserialize_any(ShapeVisitor)
    }
}

/// A length of time: `30s`, `5m`, `4h`, `7d`, `1h30m`, `500ms`, or a whole number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    /// The parsed length.
    pub value: std::time::Duration,
    /// Where it was written.
    pub span: Span,
}

/// The longest duration any option accepts; longer waits are a mistake, and keep time arithmetic
/// far from overflow.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);

/// The hint every duration mistake carries.
const DURATION_HINT: &str = "write a number with a unit: 500ms, 30s, 5m, 4h, 7d (or 1h30m)";

/// Parses `30s`, `5m`, `4h`, `7d`, `1h30m`, `500ms`.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: u128 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let millis_per_unit: u128 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(number.checked_mul(millis_per_unit)?)?;
    }
    Some(std::time::Duration::from_millis(u64::try_from(total).ok()?))
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let written = Spanned::<serde_json::Value>::deserialize(deserializer)?;
        let value = match &written.value {
            serde_json::Value::Number(n) => n.as_u64().map(std::time::Duration::from_secs),
            serde_json::Value::String(s) => parse_duration(s),
            _ => None,
        };
        match value {
            Some(value) if value > MAX_DURATION => Err(coded(
                Code::BadDuration,
                format_args!("`{}` is longer than a year", display_json(&written.value)),
                "durations go up to 365d",
            )),
            Some(value) => Ok(Duration {
                value,
                span: written.span,
            }),
            None => Err(coded(
                Code::BadDuration,
                format_args!("`{}` is not a duration", display_json(&written.value)),
                DURATION_HINT,
            )),
        }
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A length of time: 500ms, 30s, 5m, 4h, 7d, 1h30m, or whole seconds.",
            "anyOf": [
                { "type": "string", "pattern": "^([0-9]+(ms|s|m|h|d|w))+$" },
                { "type": "integer", "minimum": 0 }
            ]
        })
    }
}

fn display_json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A regular expression written literally in a story (not a template).
#[derive(Clone)]
pub struct Pattern {
    /// The pattern as written.
    pub source: String,
    /// Where it was written.
    pub span: Span,
    /// The compiled expression.
    pub regex: regex::Regex,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let written = Spanned::<String>::deserialize(deserializer)?;
        match crate::pattern::compile_regex(&written.value, false) {
            Ok(regex) => Ok(Pattern {
                source: written.value,
                span: written.span,
                regex,
            }),
            Err(error) => Err(coded(
                Code::BadRegex,
                format_args!(
                    "invalid regular expression: {}",
                    crate::pattern::regex_error_summary(&error)
                ),
                "regexes use Rust `regex` syntax (no look-around or back-references)",
            )),
        }
    }
}

impl JsonSchema for Pattern {
    fn schema_name() -> Cow<'static, str> {
        "Pattern".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "regex" })
    }
}

/// HTTP statuses: single codes and inclusive ranges, e.g. `[429, "500-599"]`; `0` means a timeout
/// or a connection failure, as in Tines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList(pub Vec<(u16, u16)>);

impl StatusList {
    /// Whether `status` is in the list.
    pub fn contains(&self, status: u16) -> bool {
        self.0
            .iter()
            .any(|(low, high)| (*low..=*high).contains(&status))
    }
}

impl<'de> Deserialize<'de> for StatusList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Vec::<serde_json::Value>::deserialize(deserializer)?;
        let mut ranges = Vec::with_capacity(items.len());
        for item in items {
            let range = match &item {
                serde_json::Value::Number(n) => n
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .map(|n| (n, n)),
                serde_json::Value::String(s) => match s.split_once('-') {
                    Some((low, high)) => low.trim().parse().ok().zip(high.trim().parse().ok()),
                    None => s.trim().parse().ok().map(|n| (n, n)),
                },
                _ => None,
            };
            match range {
                Some((low, high)) if low <= high && high <= 599 => ranges.push((low, high)),
                _ => {
                    return Err(coded(
                        Code::InvalidOption,
                        format_args!("`{}` is not an HTTP status or range", display_json(&item)),
                        "write statuses like 429 or ranges like \"500-599\" (0 means a timeout)",
                    ))
                }
            }
        }
        Ok(StatusList(ranges))
    }
}

impl JsonSchema for StatusList {
    fn schema_name() -> Cow<'static, str> {
        "StatusList".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "array",
            "items": { "anyOf": [
                { "type": "integer", "minimum": 0, "maximum": 599 },
                { "type": "string", "pattern": "^[0-9]{1,3}(-[0-9]{1,3})?$" }
            ]}
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units_and_compounds() {
        let d = |s| parse_duration(s).map(|d| d.as_millis());
        assert_eq!(d("30s"), Some(30_000));
        assert_eq!(d("5m"), Some(300_000));
        assert_eq!(d("4h"), Some(14_400_000));
        assert_eq!(d("7d"), Some(604_800_000));
        assert_eq!(d("1h30m"), Some(5_400_000));
        assert_eq!(d("250ms"), Some(250));
        assert_eq!(d("4 hours"), None);
        assert_eq!(d("h"), None);
        assert_eq!(d(""), None);
        assert_eq!(d("99999999999999999999999d"), None);
    }

    #[test]
    fn status_lists_match_codes_and_ranges() {
        let list = StatusList(vec![(429, 429), (500, 599), (0, 0)]);
        assert!(list.contains(429));
        assert!(list.contains(503));
        assert!(list.contains(0));
        assert!(!list.contains(404));
    }
}
