//! The Simple Detection forms of Panther's alert functions: `AlertTitle` (`title()`),
//! `AlertContext` (`alert_context()`), `GroupBy` (`dedup()`) and `DynamicSeverities`
//! (`severity()`).
//!
//! Panther leaves some details unpublished; warden's choices:
//! - a `{field}` whose key is missing or null renders as `<unknown>`; strings render as they are,
//!   other values as JSON, several values (`[*]`) joined by `, `;
//! - `GroupBy` values render the same way and are joined by `:`;
//! - `DynamicSeverities` are tried in order and the first whose `Conditions` all hold wins;
//!   `ChangeTo: DEFAULT` keeps the rule's `Severity`.

use super::node::{JsonNode, View};
use super::path::Path;
use super::Clause;
use crate::detect::Severity;
use serde_json::{Map, Value};

/// What renders for a missing or null field.
pub const UNKNOWN: &str = "<unknown>";
/// Panther caps `title()` and `dedup()` output at this many characters.
pub const MAX_STRING_CHARS: usize = 1000;
const TRUNCATED: &str = "... (truncated)";

/// `AlertTitle`: text with `{key.path}` placeholders; `{{` and `}}` are literal braces.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Box<[Part]>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(Box<str>),
    Field(Path),
}

impl Template {
    /// Parses a title template; a placeholder is a `KeyPath`.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            literal.push_str(&rest[..i]);
            let brace = &rest[i..];
            if let Some(after) = brace.strip_prefix("{{") {
                literal.push('{');
                rest = after;
            } else if let Some(after) = brace.strip_prefix("}}") {
                literal.push('}');
                rest = after;
            } else if brace.starts_with('}') {
                return Err("a `}` without its `{`; write `}}` for a literal brace".to_owned());
            } else {
                let close = brace.find('}').ok_or_else(|| {
                    "a `{` is never closed; write `{{` for a literal brace".to_owned()
                })?;
                let field = brace[1..close].trim();
                if field.is_empty() {
                    return Err("`{}` names no field; write `{key.path}`".to_owned());
                }
                let path = Path::parse(field).map_err(|e| format!("in `{{{field}}}`: {e}"))?;
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal).into()));
                }
                parts.push(Part::Field(path));
                rest = &brace[close + 1..];
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal.into()));
        }
        Ok(Template {
            parts: parts.into(),
        })
    }

    /// Renders the template against an event.
    pub fn render<N: JsonNode>(&self, event: &N) -> String {
        let mut out = String::new();
        for part in self.parts.iter() {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(path) => render_path(path, event, &mut out),
            }
        }
        out
    }
}

/// Appends what `path` selects, as a title shows it.
fn render_path<N: JsonNode>(path: &Path, event: &N, out: &mut String) {
    let mut first = true;
    path.any(event, |value| {
        if !first {
            out.push_str(", ");
        }
        first = false;
        render_value(value, out);
        false
    });
    if first {
        out.push_str(UNKNOWN);
    }
}

fn render_value<N: JsonNode>(value: &N, out: &mut String) {
    match value.view() {
        View::Null => out.push_str(UNKNOWN),
        View::String(s) => out.push_str(s),
        _ => out.push_str(&value.to_value().to_string()),
    }
}

/// Cuts `text` to Panther's 1000 characters, ending `... (truncated)` when it was longer.
pub fn truncate(text: String) -> String {
    if text.chars().count() <= MAX_STRING_CHARS {
        return text;
    }
    let keep = MAX_STRING_CHARS - TRUNCATED.len();
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(TRUNCATED);
    out
}

/// A rule's compiled alert functions.
#[derive(Debug, Clone, Default)]
pub struct AlertSpec {
    pub(crate) title: Option<Template>,
    pub(crate) context: Vec<(String, Path)>,
    pub(crate) group_by: Vec<Path>,
    /// `None` severity: `ChangeTo: DEFAULT`.
    pub(crate) severities: Vec<(Option<Severity>, Vec<Clause>)>,
}

impl AlertSpec {
    /// Whether the rule has an `AlertTitle`.
    pub fn has_title(&self) -> bool {
        self.title.is_some()
    }

    /// The rendered `AlertTitle`, capped at 1000 characters; `None` without one.
    pub fn title<N: JsonNode>(&self, event: &N) -> Option<String> {
        self.title.as_ref().map(|t| truncate(t.render(event)))
    }

    /// The `GroupBy` values joined by `:`; `None` without `GroupBy`.
    pub fn group_by<N: JsonNode>(&self, event: &N) -> Option<String> {
        if self.group_by.is_empty() {
            return None;
        }
        let mut out = String::new();
        for (i, path) in self.group_by.iter().enumerate() {
            if i > 0 {
                out.push(':');
            }
            render_path(path, event, &mut out);
        }
        Some(truncate(out))
    }

    /// `AlertContext` as a JSON object; a missing key is `null`, a `[*]` path a list.
    pub fn context<N: JsonNode>(&self, event: &N) -> Map<String, Value> {
        self.context
            .iter()
            .map(|(name, path)| (name.clone(), path.select(event)))
            .collect()
    }

    /// The first `DynamicSeverities` entry whose conditions all hold: `Some(None)` for
    /// `DEFAULT`, `None` when no entry applies.
    pub fn severity<N: JsonNode>(&self, event: &N) -> Option<Option<Severity>> {
        self.severities
            .iter()
            .find(|(_, conditions)| conditions.iter().all(|c| c.eval(event)))
            .map(|(severity, _)| *severity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn titles_render_fields_by_key_path_case_insensitively() {
        let t =
            Template::parse("Root [{userIdentity.accountId}] from {{{sourceIPAddress}}}").unwrap();
        let event = json!({"useridentity": {"accountId": 12}, "sourceIPAddress": "1.2.3.4"});
        assert_eq!(t.render(&event), "Root [12] from {1.2.3.4}");
    }

    #[test]
    fn missing_and_null_fields_render_as_unknown_and_lists_join() {
        let t = Template::parse("{a} {b} {c[*].d} {e}").unwrap();
        let event = json!({"b": null, "c": [{"d": "x"}, {"d": true}], "e": ["p", 1]});
        assert_eq!(t.render(&event), "<unknown> <unknown> x, true [\"p\",1]");
    }

    #[test]
    fn bad_templates_are_rejected() {
        for bad in ["{a", "a}", "{}", "{a..b}"] {
            assert!(Template::parse(bad).is_err(), "{bad} parsed");
        }
        assert_eq!(
            Template::parse("plain").unwrap().render(&json!({})),
            "plain"
        );
    }

    #[test]
    fn long_titles_are_truncated_like_panther() {
        let long = "x".repeat(1500);
        let cut = truncate(long);
        assert_eq!(cut.chars().count(), MAX_STRING_CHARS);
        assert!(cut.ends_with("... (truncated)"));
        assert_eq!(truncate("short".into()), "short");
    }
}
