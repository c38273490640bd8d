//! The filters and tests a template calls, found in its source, and whether the environment has
//! them: minijinja resolves both only when a render reaches them, so an unknown name in a branch
//! not taken would otherwise pass validation and fail a run later.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use minijinja::ErrorKind;

use super::environment::env;

/// A name a template calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Callable {
    /// `value | name`, `{% filter name %}`.
    Filter,
    /// `value is name`, `value is not name`.
    Test,
}

impl Callable {
    /// `filter` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Callable::Filter => "filter",
            Callable::Test => "test",
        }
    }

    /// The names the environment offers, for suggestions: Warden's own and minijinja's
    /// builtins (a builtin missing here is still accepted; only the suggestion lacks it).
    pub fn known_names(self) -> &'static [&'static str] {
        match self {
            Callable::Filter => &[
                // Warden's (filters::register).
                "json",
                "from_json",
                "b64encode",
                "b64decode",
                "sha256",
                "regex_replace",
                "regex_match",
                "regex_extract",
                "date",
                "timestamp",
                "jsonpath",
                "first_or_none",
                "slack_escape",
                "markdown_escape",
                "path_segment",
                "required",
                // minijinja's builtins.
                "abs",
                "attr",
                "batch",
                "bool",
                "capitalize",
                "count",
                "d",
                "default",
                "dictsort",
                "e",
                "escape",
                "first",
                "float",
                "groupby",
                "indent",
                "int",
                "items",
                "join",
                "last",
                "length",
                "lines",
                "list",
                "lower",
                "map",
                "max",
                "min",
                "pprint",
                "reject",
                "rejectattr",
                "replace",
                "reverse",
                "round",
                "safe",
                "select",
                "selectattr",
                "slice",
                "sort",
                "split",
                "string",
                "sum",
                "title",
                "tojson",
                "trim",
                "unique",
                "upper",
                "urlencode",
            ],
            Callable::Test => &[
                "boolean",
                "defined",
                "divisibleby",
                "endingwith",
                "eq",
                "equalto",
                "escaped",
                "even",
                "false",
                "filter",
                "float",
                "ge",
                "gt",
                "in",
                "integer",
                "iterable",
                "le",
                "lower",
                "lt",
                "mapping",
                "ne",
                "none",
                "number",
                "odd",
                "safe",
                "sameas",
                "sequence",
                "startingwith",
                "string",
                "test",
                "true",
                "undefined",
                "upper",
            ],
        }
    }
}

/// Whether the environment has filter or test `name`: asked once per name by rendering a probe
/// that calls it, since minijinja offers no lookup.
pub fn is_known(kind: Callable, name: &str) -> bool {
    static KNOWN: OnceLock<Mutex<HashMap<(Callable, String), bool>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Mutex::default);
    let key = (kind, name.to_owned());
    if let Some(answer) = known.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return *answer;
    }
    let probe = match kind {
        Callable::Filter => format!("{{{{ 1 | {name} }}}}"),
        Callable::Test => format!("{{{{ 1 is {name} }}}}"),
    };
    let unknown = match kind {
        Callable::Filter => ErrorKind::UnknownFilter,
        Callable::Test => ErrorKind::UnknownTest,
    };
    let answer = match env().template_from_str(&probe) {
        Ok(template) => !matches!(template.render(()), Err(e) if e.kind() == unknown),
        // Not a valid identifier in that place: the syntax check reports it.
        Err(_) => true,
    };
    // Probes are few (names written in stories), so the cache stays small.
    known
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, answer);
    answer
}

/// The filters and tests `source` calls, in order of first appearance, each once. Reads the
/// insides of `{{ }}` and `{% %}` (skipping string literals, comments and `raw` blocks).
pub fn called(source: &str) -> Vec<(Callable, String)> {
    let mut found: Vec<(Callable, String)> = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let close = match after.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            Some('#') => {
                rest = after.find("#}").map_or("", |end| &after[end + 2..]);
                continue;
            }
            _ => {
                rest = after;
                continue;
            }
        };
        let inner = &after[1..];
        let end = block_end(inner, close);
        let block = &inner[..end];
        rest = inner.get(end + close.len()..).unwrap_or("");
        if close == "%}" {
            let words: Vec<&str> = block.split_whitespace().take(2).collect();
            match words.first().map(|w| w.trim_start_matches(['-', '+'])) {
                Some("raw") => {
                    rest = rest.find("endraw").map_or("", |end| &rest[end..]);
                    continue;
                }
                Some("filter") => {
                    if let Some(name) = words.get(1).map(|w| identifier(w)) {
                        push(&mut found, Callable::Filter, name);
                    }
                }
                _ => {}
            }
        }
        scan_expression(block, &mut found);
    }
    found
}

/// Where `close` ends the block starting at `inner`, outside string literals.
fn block_end(inner: &str, close: &str) -> usize {
    let mut literal = Literal::default();
    for (i, c) in inner.char_indices() {
        if !literal.read(c) && inner[i..].starts_with(close) {
            return i;
        }
    }
    inner.len()
}

/// Tracks string literals (`'…'`, `"…"`, backslash escapes) through an expression.
#[derive(Default)]
struct Literal {
    quote: Option<char>,
    escaped: bool,
}

impl Literal {
    /// Reads `c`; true when it belongs to a string literal, its quotes included.
    fn read(&mut self, c: char) -> bool {
        match self.quote {
            Some(q) => {
                if self.escaped {
                    self.escaped = false;
                } else if c == '\\' {
                    self.escaped = true;
                } else if c == q {
                    self.quote = None;
                }
                true
            }
            None if c == '\'' || c == '"' => {
                self.quote = Some(c);
                true
            }
            None => false,
        }
    }
}

/// Filters after `|` and tests after `is` / `is not`, outside string literals.
fn scan_expression(block: &str, found: &mut Vec<(Callable, String)>) {
    let mut literal = Literal::default();
    let mut chars = block.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if literal.read(c) {
            continue;
        }
        match c {
            '|' => {
                let name = identifier(block[i + 1..].trim_start());
                push(found, Callable::Filter, name);
            }
            'i' if block[i..].starts_with("is")
                && !block[..i].ends_with(is_identifier_char)
                && block[i + 2..].starts_with(char::is_whitespace) =>
            {
                let mut after = block[i + 2..].trim_start();
                if let Some(negated) = after.strip_prefix("not") {
                    if negated.starts_with(char::is_whitespace) {
                        after = negated.trim_start();
                    }
                }
                push(found, Callable::Test, identifier(after));
                chars.next();
            }
            _ => {}
        }
    }
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifier `text` starts with (possibly empty).
fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !is_identifier_char(c))
        .unwrap_or(text.len());
    &text[..end]
}

fn push(found: &mut Vec<(Callable, String)>, kind: Callable, name: &str) {
    if !name.is_empty() && !found.iter().any(|(k, n)| *k == kind && n == name) {
        found.push((kind, name.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(source: &str) -> Vec<String> {
        called(source)
            .into_iter()
            .map(|(kind, name)| format!("{}:{name}", kind.as_str()))
            .collect()
    }

    #[test]
    fn finds_filters_and_tests_in_expressions_and_statements() {
        assert_eq!(
            names("{{ a | lower | regex_search('x|y') }} {% if b is not defined and c is odd %}{{ d|json }}{% endif %}"),
            ["filter:lower", "filter:regex_search", "test:defined", "test:odd", "filter:json"]
        );
        assert_eq!(
            names("{% filter upper %}x{% endfilter %}{% set v = w | default('a') %}"),
            ["filter:upper", "filter:default"]
        );
    }

    #[test]
    fn ignores_strings_comments_text_and_raw_blocks() {
        assert_eq!(
            names("a | b is c {# {{ x | nope }} #} {{ 'q | nope' ~ \"is nope\" }} {% raw %}{{ y | nope }}{% endraw %}{{ this_is | ok }}"),
            ["filter:ok"]
        );
        assert!(names("{{ island is defined }}").contains(&"test:defined".to_owned()));
        assert!(!names("{{ island }}").iter().any(|n| n.starts_with("test:")));
    }

    #[test]
    fn knows_the_environment_s_names() {
        for (kind, name) in [
            (Callable::Filter, "regex_match"),
            (Callable::Filter, "lower"),
            (Callable::Filter, "required"),
            (Callable::Test, "defined"),
        ] {
            assert!(is_known(kind, name), "{name}");
        }
        assert!(!is_known(Callable::Filter, "regex_search"));
        assert!(!is_known(Callable::Test, "definde"));
    }

    #[test]
    fn every_suggested_name_exists() {
        for kind in [Callable::Filter, Callable::Test] {
            for name in kind.known_names() {
                assert!(is_known(kind, name), "{} `{name}`", kind.as_str());
            }
        }
    }
}
