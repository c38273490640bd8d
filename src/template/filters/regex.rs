//! Regular expressions: `regex_replace`, `regex_match`, `regex_extract`,
//! with patterns compiled under size limits through `pattern`'s shared cache.

use minijinja::value::Value;
use minijinja::{Error, State};
use regex::Regex;

use super::{charge, fail};

/// Longest regex pattern accepted, in bytes.
const MAX_PATTERN_LEN: usize = 4096;

/// Compiles `pattern` with size limits, through the runtime's shared cache.
fn regex(filter: &str, pattern: &str) -> Result<Regex, Error> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(fail(format!(
            "{filter}: pattern is longer than {MAX_PATTERN_LEN} bytes"
        )));
    }
    // The one builder and its size limits (a hostile `\w{1000}{1000}` fails, not eats memory).
    crate::pattern::compile_regex_cached(pattern, false).map_err(|e| {
        let why = match e {
            regex::Error::CompiledTooBig(_) => "it compiles too large".to_owned(),
            other => crate::pattern::regex_error_summary(&other),
        };
        fail(format!("{filter}: invalid pattern `{pattern}`: {why}"))
    })
}

/// `text | regex_replace(pattern, replacement)`: replaces every match;
/// `$1` / `${name}` in `replacement` refer to capture groups.
pub(super) fn regex_replace(
    state: &State,
    text: &str,
    pattern: &str,
    replacement: &str,
) -> Result<String, Error> {
    charge(state, text.len())?;
    Ok(regex("regex_replace", pattern)?
        .replace_all(text, replacement)
        .into_owned())
}

/// `text | regex_match(pattern)`: true if the pattern matches anywhere in
/// `text` (anchor with `^…$` for a whole-string match).
pub(super) fn regex_match(state: &State, text: &str, pattern: &str) -> Result<bool, Error> {
    charge(state, text.len())?;
    Ok(regex("regex_match", pattern)?.is_match(text))
}

/// `text | regex_extract(pattern)`: capture group 1 of the first match, or
/// the whole match when the pattern has no group; none when nothing matches.
pub(super) fn regex_extract(state: &State, text: &str, pattern: &str) -> Result<Value, Error> {
    charge(state, text.len())?;
    let Some(caps) = regex("regex_extract", pattern)?.captures(text) else {
        return Ok(Value::from(()));
    };
    let found = caps.get(1).or_else(|| caps.get(0));
    Ok(found.map_or_else(|| Value::from(()), |m| Value::from(m.as_str())))
}
