//! Writing the imported story as YAML people read: block style, keys in the order given, scalars
//! quoted only where YAML would read them otherwise, and comments kept where they belong (above
//! the key they are about).

/// A YAML value with comments on mapping entries.
#[derive(Debug, Clone, PartialEq)]
pub enum Y {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as JSON wrote it.
    Num(String),
    /// A string (quoted when needed).
    Str(String),
    /// A block sequence.
    Seq(Vec<Y>),
    /// A block mapping, in insertion order.
    Map(Vec<Entry>),
}

/// One `key: value` with the comment lines written above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Y,
    /// Comment lines (without `# `), written above the key.
    pub comments: Vec<String>,
}

impl Y {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Y {
        Y::Str(s.into())
    }

    /// An empty mapping to fill with [`Y::set`].
    pub fn map() -> Y {
        Y::Map(Vec::new())
    }

    /// Appends `key: value` to a mapping (replacing an existing key in place).
    pub fn set(&mut self, key: impl Into<String>, value: Y) -> &mut Entry {
        let Y::Map(entries) = self else {
            panic!("set on a non-mapping");
        };
        let key = key.into();
        if let Some(i) = entries.iter().position(|e| e.key == key) {
            entries[i].value = value;
            return &mut entries[i];
        }
        entries.push(Entry {
            key,
            value,
            comments: Vec::new(),
        });
        entries.last_mut().expect("just pushed")
    }

    /// The entry under `key`, in a mapping.
    pub fn entry_mut(&mut self, key: &str) -> Option<&mut Entry> {
        match self {
            Y::Map(entries) => entries.iter_mut().find(|e| e.key == key),
            _ => None,
        }
    }

    /// JSON → YAML, keys in the JSON's order.
    pub fn from_json(value: &serde_json::Value) -> Y {
        use serde_json::Value;
        match value {
            Value::Null => Y::Null,
            Value::Bool(b) => Y::Bool(*b),
            Value::Number(n) => Y::Num(n.to_string()),
            Value::String(s) => Y::Str(s.clone()),
            Value::Array(items) => Y::Seq(items.iter().map(Y::from_json).collect()),
            Value::Object(map) => Y::Map(
                map.iter()
                    .map(|(k, v)| Entry {
                        key: k.clone(),
                        value: Y::from_json(v),
                        comments: Vec::new(),
                    })
                    .collect(),
            ),
        }
    }
}

/// Writes a document: `header` comment lines, then `root` (a mapping).
pub fn write_document(header: &[String], root: &Y) -> String {
    let mut out = String::new();
    for line in header {
        push_comment(&mut out, 0, line);
    }
    match root {
        Y::Map(entries) => write_entries(&mut out, 0, entries),
        other => {
            write_inline_or_block(&mut out, 0, other);
        }
    }
    out
}

fn push_comment(out: &mut String, indent: usize, text: &str) {
    for line in text.lines() {
        out.push_str(&" ".repeat(indent));
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
}

fn write_entries(out: &mut String, indent: usize, entries: &[Entry]) {
    for entry in entries {
        for comment in &entry.comments {
            push_comment(out, indent, comment);
        }
        out.push_str(&" ".repeat(indent));
        out.push_str(&key(&entry.key));
        out.push(':');
        write_value(out, indent, &entry.value);
    }
}

/// Writes what follows `key:` (or `- `): a scalar on the same line, or a block below.
fn write_value(out: &mut String, indent: usize, value: &Y) {
    match value {
        Y::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            write_entries(out, indent + 2, entries);
        }
        Y::Seq(items) if !items.is_empty() => {
            out.push('\n');
            write_items(out, indent + 2, items);
        }
        Y::Str(s) if block_literal_ok(s) => {
            out.push_str(if s.ends_with('\n') { " |\n" } else { " |-\n" });
            for line in s.lines() {
                if !line.is_empty() {
                    out.push_str(&" ".repeat(indent + 2));
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn write_items(out: &mut String, indent: usize, items: &[Y]) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Y::Map(entries) if !entries.is_empty() => {
                // The first key on the dash's line, the rest aligned under it.
                let mut first = String::new();
                write_entries(&mut first, indent + 2, entries);
                out.push(' ');
                out.push_str(first.trim_start());
            }
            other => write_value(out, indent, other),
        }
    }
}

fn write_inline_or_block(out: &mut String, indent: usize, value: &Y) {
    write_value(out, indent, value);
}

/// A key, plain when it is a simple name.
fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && plain_ok(k)
    {
        k.to_owned()
    } else {
        quote(k)
    }
}

/// A scalar on one line.
fn scalar(value: &Y) -> String {
    match value {
        Y::Null => "null".to_owned(),
        Y::Bool(b) => b.to_string(),
        Y::Num(n) => n.clone(),
        Y::Str(s) if plain_ok(s) => s.clone(),
        Y::Str(s) => quote(s),
        Y::Map(_) => "{}".to_owned(),
        Y::Seq(_) => "[]".to_owned(),
    }
}

/// A multi-line string that a `|` block keeps exactly: no line starting with a space (the first
/// would change the indentation), no trailing spaces, tabs or control characters, at most one
/// final newline.
fn block_literal_ok(s: &str) -> bool {
    s.contains('\n')
        && !s.contains('\r')
        && !s.trim_end_matches('\n').is_empty()
        && !s.ends_with("\n\n")
        && !s.starts_with('\n')
        && s.lines().all(|l| {
            !l.starts_with(' ')
                && !l.ends_with(' ')
                && !l
                    .chars()
                    .any(|c| c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}'))
        })
}

/// Whether `s` reads back as the same string when written plain.
fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.trim() != s
        || s.contains(['\n', '\r', '\t', '\u{feff}', '\u{2028}', '\u{2029}'])
        || s.chars().any(char::is_control)
    {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first)
        && !(first == '-' && s.len() > 1 && !s[1..].starts_with(' ') && looks_like_word(&s[1..]))
    {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    ) || lower.starts_with(".inf")
        || lower.starts_with("-.inf")
        || lower == ".nan"
    {
        return false;
    }
    // Anything that could be a number (in any YAML version) is quoted.
    !looks_numeric(s)
}

/// Whether a YAML reader (1.2 core, or 1.1: `1_000`, `0b1`, `12:30`) may read `s` as a number.
fn looks_numeric(s: &str) -> bool {
    let t = s.trim_start_matches(['+', '-']);
    let radix = |prefix: &str, digit: fn(&char) -> bool| {
        t.strip_prefix(prefix)
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| digit(&c) || c == '_'))
    };
    t.replace('_', "").parse::<f64>().is_ok()
        || radix("0x", char::is_ascii_hexdigit)
        || radix("0o", |c| ('0'..='7').contains(c))
        || radix("0b", |c| matches!(c, '0' | '1'))
        || (t.contains(':')
            && t.split(':')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.')))
}

fn looks_like_word(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// A double-quoted scalar with JSON-compatible escapes.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(root: &Y) -> String {
        write_document(&[], root)
    }

    #[test]
    fn strings_are_quoted_only_where_yaml_would_misread_them() {
        for (s, plain) in [
            ("hello world", true),
            ("{{ a.b }}", false),
            ("true", false),
            ("yes", false),
            ("123", false),
            ("1.10", false),
            ("0x1f", false),
            ("1_000", false),
            ("12:30", false),
            ("1e3", false),
            ("1d", true),
            ("4h", true),
            ("abc", true),
            ("a: b", false),
            ("a #b", false),
            ("", false),
            (" lead", false),
            ("- item", false),
            ("-flag", true),
            ("https://example.com/x?y=1", true),
            ("POST", true),
        ] {
            assert_eq!(plain_ok(s), plain, "{s:?}");
        }
    }

    #[test]
    fn comments_are_written_above_their_key_at_its_indentation() {
        let mut root = Y::map();
        let mut inner = Y::map();
        inner
            .set("url", Y::str("https://x"))
            .comments
            .push("Not translated: y".into());
        root.set("a", inner);
        assert_eq!(doc(&root), "a:\n  # Not translated: y\n  url: https://x\n");
    }

    #[test]
    fn sequences_of_mappings_start_on_the_dash_line() {
        let mut rule = Y::map();
        rule.set("type", Y::str("regex"));
        rule.set("value", Y::str("^a$"));
        let mut root = Y::map();
        root.set("rules", Y::Seq(vec![rule.clone(), rule]));
        assert_eq!(
            doc(&root),
            "rules:\n  - type: regex\n    value: ^a$\n  - type: regex\n    value: ^a$\n"
        );
    }

    #[test]
    fn multi_line_text_is_a_literal_block_when_it_reads_back_the_same() {
        let mut root = Y::map();
        root.set("text", Y::str("line one\nline two"));
        root.set("spaced", Y::str(" x\ny"));
        assert_eq!(
            doc(&root),
            "text: |-\n  line one\n  line two\nspaced: \" x\\ny\"\n"
        );
    }

    /// The string as Warden's own YAML reader reads it back from `key: <written>`, and the key.
    fn read_back(key: &str, value: &str) -> (String, String) {
        let mut root = Y::map();
        root.set(key, Y::str(value));
        let text = doc(&root);
        let mut d = Vec::new();
        let node = crate::yaml::parse(&text, &mut d).unwrap_or_else(|| panic!("{text}: {d:?}"));
        assert!(d.is_empty(), "{text}: {d:?}");
        let (k, v) = &node.as_map().expect("a mapping")[0];
        (
            k.name.clone(),
            v.as_str()
                .unwrap_or_else(|| panic!("{text}: not a string"))
                .to_owned(),
        )
    }

    #[test]
    fn tricky_strings_and_keys_read_back_unchanged() {
        for s in [
            "",
            " ",
            "true",
            "NO",
            "~",
            "null",
            "1e3",
            "0o17",
            ".5",
            "-",
            "- x",
            "? x",
            ": x",
            "a: b",
            "a #b",
            "#x",
            "{{ x }}",
            "[a]",
            "&a",
            "*a",
            "!tag",
            "|",
            ">",
            "%x",
            "@x",
            "`x`",
            "'q'",
            "\"q\"",
            "line\nline",
            "line\n",
            "trail \nx",
            "\ttab",
            "é🙂",
            "\u{2028}",
            "x\r\ny",
            "a\n\n",
            "\n",
            "  indented\nx",
            "#!/bin/sh\nx",
        ] {
            assert_eq!(read_back("k", s).1, s, "{s:?}");
            assert_eq!(read_back(s, "v").0, s, "key {s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_reads_back_unchanged(s in "\\PC{0,24}|[ -~\n\t]{0,24}") {
            proptest::prop_assert_eq!(read_back("k", &s).1, s.clone());
            proptest::prop_assert_eq!(read_back(&s, "v").0, s);
        }
    }

    #[test]
    fn empty_collections_are_written_inline() {
        let mut root = Y::map();
        root.set("m", Y::map());
        root.set("s", Y::Seq(vec![]));
        assert_eq!(doc(&root), "m: {}\ns: []\n");
    }
}
