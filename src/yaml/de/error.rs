//! [`Error`]: a deserialization error is a diagnostic still looking for its position; [`coded`]
//! lets a type choose its own code and hint.

use crate::diagnostic::{did_you_mean, Code, Diagnostic, Span};
use serde::de;
use std::fmt;

/// Builds a deserialization error with its own code and hint, for types whose mistakes deserve a
/// specific code (a duration, a regex). Only [`from_node`](super::from_node) understands the encoding.
pub fn coded<E: de::Error>(code: Code, message: impl fmt::Display, hint: impl fmt::Display) -> E {
    E::custom(format_args!(
        "\u{1}{}\u{1}{message}\u{1}{hint}",
        code.as_str()
    ))
}

/// The deserialization error: a diagnostic still looking for its position.
#[derive(Debug)]
pub struct Error {
    code: Code,
    message: String,
    hint: Option<String>,
    span: Option<Span>,
}

impl Error {
    pub(super) fn new(code: Code, message: String, hint: Option<String>) -> Self {
        Error {
            code,
            message,
            hint,
            span: None,
        }
    }

    /// The innermost node that sees an error first claims it.
    pub(super) fn at(mut self, span: Span) -> Self {
        self.span.get_or_insert(span);
        self
    }

    pub(super) fn into_diagnostic(self, fallback: Span) -> Diagnostic {
        Diagnostic::new(self.code, self.span.unwrap_or(fallback), self.message)
            .with_hint_opt(self.hint)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        let text = msg.to_string();
        if let Some(rest) = text.strip_prefix('\u{1}') {
            let mut parts = rest.splitn(3, '\u{1}');
            let code = parts.next().unwrap_or_default();
            let message = parts.next().unwrap_or_default().to_owned();
            let hint = parts.next().filter(|h| !h.is_empty()).map(str::to_owned);
            if let Some(code) = Code::ALL.iter().find(|c| c.as_str() == code) {
                return Error::new(*code, message, hint);
            }
        }
        Error::new(Code::InvalidValue, text, None)
    }

    fn invalid_type(unexpected: de::Unexpected, expected: &dyn de::Expected) -> Self {
        Error::new(
            Code::InvalidValue,
            format!(
                "expected {expected}, found {}",
                describe_unexpected(&unexpected)
            ),
            None,
        )
    }

    fn invalid_value(unexpected: de::Unexpected, expected: &dyn de::Expected) -> Self {
        Error::new(
            Code::InvalidValue,
            format!(
                "invalid value {}, expected {expected}",
                describe_unexpected(&unexpected)
            ),
            None,
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let hint = did_you_mean(variant, expected.iter().copied())
            .unwrap_or_else(|| format!("expected one of: {}", expected.join(", ")));
        Error::new(
            Code::InvalidValue,
            format!("unknown value `{variant}`"),
            Some(hint),
        )
    }

    fn missing_field(field: &'static str) -> Self {
        Error::new(
            Code::MissingKey,
            format!("missing required key `{field}`"),
            Some(format!("add `{field}:`")),
        )
    }
}

/// Serde names primitive types the Rust way (`u32`, `f64`); users read YAML.
pub(super) fn plain_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => "a boolean (true or false)".to_owned(),
        other => other.to_owned(),
    }
}

fn describe_unexpected(unexpected: &de::Unexpected) -> String {
    match unexpected {
        de::Unexpected::Str(s) => format!("the string \"{s}\""),
        de::Unexpected::Map => "a mapping".to_owned(),
        de::Unexpected::Seq => "a list".to_owned(),
        de::Unexpected::Unit => "null".to_owned(),
        other => other.to_string(),
    }
}
