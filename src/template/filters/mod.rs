//! Filters and functions for Tines-formula users, on top of minijinja's
//! builtins (`default`, `lower`, `join`, `map`, `selectattr`, `int`,
//! `urlencode`…), by family: `json` (JSON text and JSONPath), `encoding`
//! (base64, SHA-256), `regex`, `time` (dates and unix seconds), `markup`
//! (escaping outside data for Slack, Markdown and URL paths) and `prompt`
//! (`prompt_url()`).
//!
//! Error messages name the filter and the problem but never the filtered
//! value, which may be a credential (arguments such as a pattern or a path,
//! normally written in the template, are quoted).

mod encoding;
mod json;
pub(super) mod markup;
mod prompt;
mod regex;
mod time;

use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind, State};

/// Registers this module's filters and functions on `env`.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("json", json::json);
    env.add_filter("from_json", json::from_json);
    env.add_filter("b64encode", encoding::b64encode);
    env.add_filter("b64decode", encoding::b64decode);
    env.add_filter("sha256", encoding::sha256);
    env.add_filter("regex_replace", regex::regex_replace);
    env.add_filter("regex_match", regex::regex_match);
    env.add_filter("regex_extract", regex::regex_extract);
    env.add_filter("date", time::date);
    env.add_filter("timestamp", time::timestamp);
    env.add_filter("jsonpath", json::jsonpath);
    env.add_filter("first_or_none", json::first_or_none);
    env.add_filter("slack_escape", markup::slack_escape);
    env.add_filter("markdown_escape", markup::markdown_escape);
    env.add_filter("path_segment", markup::path_segment);
    env.add_filter("required", required);
    env.add_function("prompt_url", prompt::prompt_url);
}

/// The detail of the error `| required` raises.
pub(super) const REQUIRED_IS_MISSING: &str = "`required` value is missing or null";

/// `value | required`: the value, or an error when it is missing (undefined) or null; where
/// missing data is tolerated, this makes one field strict again.
fn required(value: Value) -> Result<Value, Error> {
    if value.is_undefined() || value.is_none() {
        return Err(Error::new(ErrorKind::UndefinedError, REQUIRED_IS_MISSING));
    }
    Ok(value)
}

/// A filter's failure: `message` names the filter and the problem.
fn fail(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// Charges fuel for `bytes` of work done outside the engine (minijinja only
/// charges for the value a filter returns).
fn charge(state: &State, bytes: usize) -> Result<(), Error> {
    state.consume_fuel(bytes as u64 / 64 + 1)
}

#[cfg(test)]
mod tests;
