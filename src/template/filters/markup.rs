//! Escaping outside data for the markup it lands in: `slack_escape` (Slack mrkdwn),
//! `markdown_escape` (Markdown, e.g. a TheHive case description), and `path_segment` (one
//! segment of a URL path).
//!
//! Alert fields are attacker-controlled: an Okta `displayName` of
//! `<https://evil.example|Click here> <!channel>` must reach a Slack message as text, not as a
//! masked link and a channel-wide ping, and a user id of `../../x` must not move a request to
//! another path of the vendor's API.

use std::fmt::Write as _;

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

use super::fail;
use crate::template::value::{to_json, Undefined};

/// The text `{{ value }}` prints: strings as they are, numbers as numbers, everything else as
/// compact JSON (the environment's formatter). Undefined prints nothing when it may.
pub(crate) fn printed(value: &Value, undefined: Undefined) -> Result<String, Error> {
    match value.kind() {
        ValueKind::Undefined if undefined == Undefined::IsNull => Ok(String::new()),
        ValueKind::Undefined => Err(ErrorKind::UndefinedError.into()),
        ValueKind::String => Ok(value.as_str().unwrap_or_default().to_owned()),
        ValueKind::Number => Ok(value.to_string()),
        ValueKind::Bytes => {
            Ok(String::from_utf8_lossy(value.as_bytes().unwrap_or_default()).into_owned())
        }
        _ => Ok(to_json(value, undefined)?.to_string()),
    }
}

/// Slack's escaping for mrkdwn text: `&`, `<` and `>` become `&amp;`, `&lt;` and `&gt;`.
///
/// These are the only characters Slack decodes (its "Formatting text" reference, "Escaping
/// text"); they start every link, mention (`<@U…>`), special mention (`<!channel>`) and date
/// token, so escaped text cannot form one. Emphasis marks (`*`, `_`, `~`, `` ` ``) have no
/// escape in mrkdwn and are left.
pub(crate) fn escape_slack(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// `value | slack_escape`: the value as text, escaped for Slack mrkdwn.
///
/// The result is marked safe, so a prompt's message (which escapes every `{{ }}` already)
/// does not escape it twice.
pub(super) fn slack_escape(state: &State, value: &Value) -> Result<Value, Error> {
    let text = printed(value, Undefined::of(state))?;
    Ok(Value::from_safe_string(escape_slack(&text)))
}

/// Characters a backslash keeps literal in Markdown (CommonMark escapes any ASCII punctuation):
/// those that open links and images (`[ ] ( ) !`), autolinks and HTML (`< > &`), emphasis and
/// code (`* _ ~ ``), headings, quotes, bullet lists and tables (`# > - + |`), braces and the
/// backslash itself. `.`, `:`, `/` and `@` are left so addresses stay readable.
const MARKDOWN_SPECIAL: &[char] = &[
    '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '<', '>', '#', '+', '-', '!', '|', '~', '&',
];

/// `value | markdown_escape`: the value as text with Markdown's special characters
/// backslash-escaped, so it renders as the text it is (no link, image, HTML or formatting).
pub(super) fn markdown_escape(state: &State, value: &Value) -> Result<String, Error> {
    let text = printed(value, Undefined::of(state))?;
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        if MARKDOWN_SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(out)
}

/// `value | path_segment`: the value as one URL path segment.
///
/// Every byte but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is percent-encoded,
/// `/` included, so the value cannot add segments. An empty value, `.` and `..` are refused:
/// they would drop or climb a segment (URL parsers resolve `..` and its encoded forms such as
/// `%2e%2e` alike), so the step fails instead of calling another endpoint.
pub(super) fn path_segment(value: &Value) -> Result<String, Error> {
    let text = match value.kind() {
        ValueKind::String | ValueKind::Number => printed(value, Undefined::Fails)?,
        ValueKind::Undefined => return Err(ErrorKind::UndefinedError.into()),
        kind => {
            return Err(fail(format!(
                "path_segment: expected a string or a number, got {kind}"
            )))
        }
    };
    let refused = match text.as_str() {
        "" => Some("an empty value"),
        "." => Some("`.`"),
        ".." => Some("`..`"),
        _ => None,
    };
    if let Some(refused) = refused {
        return Err(fail(format!(
            "path_segment: refusing {refused} as a path segment (it would change the request's path)"
        )));
    }
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    Ok(out)
}
