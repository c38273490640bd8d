//! Key specifiers compiled to paths, and Panther's case-insensitive key lookup.
//!
//! A [`Path`] is split once, when the rule is compiled: `KeyPath: a.b[0].c` becomes four
//! segments. Lookups then walk the event without allocating: a key is compared exactly first and
//! then ASCII case-insensitively, at every level, as Panther's case-insensitive event does.

use super::node::{JsonNode, JsonObject, View};
use super::value::{equals_literal, Literal};
use serde_json::Value;
use std::fmt;

/// The value under `key` in `map`: an exact match if there is one, else the first key equal to it
/// ignoring ASCII case. Never allocates.
pub fn lookup<'v, O: JsonObject + ?Sized>(map: &'v O, key: &str) -> Option<&'v O::Node> {
    // Large objects may be hashed; small ones (most event levels) are cheaper to scan once, since
    // comparing lengths first rejects almost every key, and a miss (common: most rules name keys
    // other log types have) would otherwise cost a hash and then the scan anyway.
    if map.len() > 32 {
        if let Some(value) = map.get(key) {
            return Some(value);
        }
        return map
            .entries()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v);
    }
    let mut folded = None;
    for (k, v) in map.entries() {
        if k.len() != key.len() {
            continue;
        }
        if same_bytes(k.as_bytes(), key.as_bytes()) {
            return Some(v);
        }
        if folded.is_none() && k.eq_ignore_ascii_case(key) {
            folded = Some(v);
        }
    }
    folded
}

/// `a == b` for slices of one length, compared here eight bytes at a time: keys are short, and a
/// call to `memcmp` for every key of the right length costs more than the comparison.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let (mut a8, mut b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let word = |chunk: &[u8]| u64::from_ne_bytes(chunk.try_into().expect("eight bytes"));
    (&mut a8).zip(&mut b8).all(|(x, y)| word(x) == word(y))
        && a8.remainder().iter().eq(b8.remainder())
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    /// An object key.
    Key(Box<str>),
    /// A list index (negative counts from the end); on an object, the key spelled as the number.
    Index { index: i64, key: Box<str> },
    /// `[*]`: every element of a list (every value of an object).
    Wildcard,
    /// `[?key==value]` (warden extension): every list element whose `key` equals `value`.
    Filter { key: Box<str>, value: Literal },
}

impl Segment {
    fn is_multi(&self) -> bool {
        matches!(self, Segment::Wildcard | Segment::Filter { .. })
    }
}

/// A compiled key specifier (`Key`, `DeepKey`, `KeyPath` or `Enrichment`).
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    segments: Box<[Segment]>,
    /// A `[*]` or `[?…]` step: the path may select several values.
    multi: bool,
    /// The path as the rule wrote it, for messages.
    text: Box<str>,
}

impl Path {
    pub(crate) fn new(segments: Vec<Segment>, text: impl Into<Box<str>>) -> Path {
        let multi = segments.iter().any(Segment::is_multi);
        Path {
            segments: segments.into(),
            multi,
            text: text.into(),
        }
    }

    /// A single top-level key (`Key: name`), taken literally (dots are part of the name).
    pub fn key(name: &str) -> Path {
        Path::new(vec![Segment::Key(name.into())], name)
    }

    /// Parses a `KeyPath`: keys separated by `.`, each followed by any number of `[n]` (an index,
    /// negative from the end), `[*]` (every element) or `[?key==value]` (elements whose `key`
    /// equals `value`; a warden extension).
    pub fn parse(text: &str) -> Result<Path, String> {
        Ok(Path::new(parse_segments(text)?, text))
    }

    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether the path can select several values (`[*]` or a filter).
    pub fn is_multi(&self) -> bool {
        self.multi
    }

    /// The path as written in the rule.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first value the path selects.
    pub fn first<'v, N: JsonNode>(&self, root: &'v N) -> Option<&'v N> {
        if self.multi {
            let mut found = None;
            self.any(root, |v| {
                found = Some(v);
                true
            });
            return found;
        }
        let mut current = root;
        for segment in self.segments.iter() {
            current = step(current, segment)?;
        }
        Some(current)
    }

    /// Calls `f` on each value the path selects, in order, until it returns true; returns whether
    /// it did. A single-valued path calls `f` at most once; a missing value is not visited.
    pub fn any<'v, N: JsonNode>(&self, root: &'v N, mut f: impl FnMut(&'v N) -> bool) -> bool {
        if !self.multi {
            return self.first(root).is_some_and(f);
        }
        walk(&self.segments, root, &mut f)
    }

    /// Every value the path selects.
    pub fn all<'v, N: JsonNode>(&self, root: &'v N) -> Vec<&'v N> {
        let mut out = Vec::new();
        self.any(root, |v| {
            out.push(v);
            false
        });
        out
    }

    /// What the path selects as one JSON value: the value (or null) for a single-valued path, a
    /// list of every selected value for a `[*]`/filter path.
    pub fn select<N: JsonNode>(&self, root: &N) -> Value {
        if self.multi {
            Value::Array(self.all(root).into_iter().map(N::to_value).collect())
        } else {
            self.first(root).map_or(Value::Null, N::to_value)
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One single-valued step.
fn step<'v, N: JsonNode>(value: &'v N, segment: &Segment) -> Option<&'v N> {
    match (segment, value.view()) {
        (Segment::Key(key), View::Object(map)) => lookup(map, key),
        (Segment::Index { index, .. }, View::Array(items)) => element(items, *index),
        (Segment::Index { key, .. }, View::Object(map)) => lookup(map, key),
        _ => None,
    }
}

fn element<N>(items: &[N], index: i64) -> Option<&N> {
    let i = if index < 0 {
        items
            .len()
            .checked_sub(usize::try_from(index.unsigned_abs()).ok()?)?
    } else {
        usize::try_from(index).ok()?
    };
    items.get(i)
}

fn walk<'v, N: JsonNode, F: FnMut(&'v N) -> bool>(
    segments: &[Segment],
    value: &'v N,
    f: &mut F,
) -> bool {
    let Some((segment, rest)) = segments.split_first() else {
        return f(value);
    };
    match (segment, value.view()) {
        (Segment::Wildcard, View::Array(items)) => items.iter().any(|item| walk(rest, item, f)),
        (Segment::Wildcard, View::Object(map)) => {
            map.entries().any(|(_, item)| walk(rest, item, f))
        }
        (Segment::Filter { key, value: wanted }, View::Array(items)) => items.iter().any(|item| {
            let selected = item
                .as_object()
                .and_then(|map| lookup(map, key))
                .is_some_and(|v| equals_literal(v, wanted));
            selected && walk(rest, item, f)
        }),
        (Segment::Wildcard | Segment::Filter { .. }, _) => false,
        _ => match step(value, segment) {
            Some(next) => walk(rest, next, f),
            None => false,
        },
    }
}

/// Where the parser is, to reject `a..b`, `a.[0]`, `a[0]b` and a trailing `.`.
#[derive(PartialEq)]
enum Last {
    Start,
    Name,
    Bracket,
    Dot,
}

fn parse_segments(text: &str) -> Result<Vec<Segment>, String> {
    if text.is_empty() {
        return Err("the path is empty".to_owned());
    }
    let mut segments = Vec::new();
    let mut name = String::new();
    let mut last = Last::Start;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match c {
            '.' => {
                if matches!(last, Last::Start | Last::Dot) {
                    return Err("a key between two dots is empty".to_owned());
                }
                flush(&mut name, &mut segments);
                last = Last::Dot;
                rest = &rest[1..];
            }
            '[' => {
                if last == Last::Dot {
                    return Err("`[` right after `.`; write `a[0]`, not `a.[0]`".to_owned());
                }
                flush(&mut name, &mut segments);
                let close = rest
                    .find(']')
                    .ok_or_else(|| "a `[` is never closed".to_owned())?;
                segments.push(parse_bracket(&rest[1..close])?);
                last = Last::Bracket;
                rest = &rest[close + 1..];
            }
            ']' => return Err("a `]` without its `[`".to_owned()),
            _ => {
                if last == Last::Bracket {
                    return Err("expected `.` or `[` after `]`".to_owned());
                }
                name.push(c);
                last = Last::Name;
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if last == Last::Dot {
        return Err("the path ends with `.`".to_owned());
    }
    flush(&mut name, &mut segments);
    Ok(segments)
}

fn flush(name: &mut String, segments: &mut Vec<Segment>) {
    if !name.is_empty() {
        segments.push(Segment::Key(std::mem::take(name).into()));
    }
}

fn parse_bracket(inner: &str) -> Result<Segment, String> {
    let inner = inner.trim();
    if inner == "*" {
        return Ok(Segment::Wildcard);
    }
    if let Some(filter) = inner.strip_prefix('?') {
        let (key, value) = filter
            .split_once("==")
            .or_else(|| filter.split_once('='))
            .ok_or_else(|| format!("`[{inner}]` is not a filter; write `[?key==value]`"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("`[{inner}]` names no key to filter on"));
        }
        let value = value.trim();
        let literal = match unquote(value) {
            Some(s) => Literal::Str(s.into()),
            None => match crate::yaml::resolve_plain(value) {
                crate::yaml::Resolved::Str(s) => Literal::Str(s.into()),
                crate::yaml::Resolved::Int(i) => Literal::Int(i),
                crate::yaml::Resolved::Float(f) => Literal::Float(f),
                crate::yaml::Resolved::Bool(b) => Literal::Bool(b),
                crate::yaml::Resolved::Null => {
                    return Err(format!("`[{inner}]` compares with nothing; give a value"))
                }
            },
        };
        return Ok(Segment::Filter {
            key: key.into(),
            value: literal,
        });
    }
    let digits = inner.strip_prefix('-').unwrap_or(inner);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let index: i64 = inner
            .parse()
            .map_err(|_| format!("index `{inner}` is too large"))?;
        return Ok(Segment::Index {
            index,
            key: inner.into(),
        });
    }
    Err(format!(
        "`[{inner}]` is not an index; write `[0]`, `[-1]`, `[*]` or `[?key==value]`"
    ))
}

fn unquote(value: &str) -> Option<&str> {
    let quoted = |q: char| value.len() >= 2 && value.starts_with(q) && value.ends_with(q);
    (quoted('\'') || quoted('"')).then(|| &value[1..value.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(text: &str) -> Path {
        Path::parse(text).unwrap()
    }

    #[test]
    fn exact_keys_win_over_case_insensitive_ones() {
        let event = json!({"insertid": 1, "insertId": 2});
        assert_eq!(path("insertId").first(&event), Some(&json!(2)));
        assert_eq!(path("insertid").first(&event), Some(&json!(1)));
        assert_eq!(path("INSERTID").first(&event), Some(&json!(1)));
    }

    #[test]
    fn keys_match_case_insensitively_at_every_level_and_in_large_objects() {
        let mut big = serde_json::Map::new();
        for i in 0..40 {
            big.insert(format!("k{i}"), json!(i));
        }
        big.insert("enableFlowLogs".into(), json!(false));
        let event = json!({"protoPayload": {"request": big}});
        assert_eq!(
            path("protopayload.REQUEST.enableFlowlogs").first(&event),
            Some(&json!(false))
        );
        assert_eq!(
            path("protoPayload.request.k39").first(&event),
            Some(&json!(39))
        );
    }

    #[test]
    fn indexes_count_from_either_end() {
        let event = json!({"a": [{"b": 1}, {"b": 2}, {"b": 3}]});
        assert_eq!(path("a[0].b").first(&event), Some(&json!(1)));
        assert_eq!(path("a[-1].b").first(&event), Some(&json!(3)));
        assert_eq!(path("a[3].b").first(&event), None);
        assert_eq!(path("a[-4].b").first(&event), None);
        assert_eq!(path("[0]").first(&json!([7])), Some(&json!(7)));
    }

    #[test]
    fn missing_steps_and_non_objects_are_missing_not_errors() {
        let event = json!({"a": "text", "n": null, "l": [1]});
        assert_eq!(path("a.b").first(&event), None);
        assert_eq!(path("n.b").first(&event), None);
        assert_eq!(path("l.b").first(&event), None);
        assert_eq!(path("zzz").first(&event), None);
        assert_eq!(path("n").first(&event), Some(&Value::Null));
    }

    #[test]
    fn wildcards_select_every_element_and_nest() {
        let event = json!({"t": [{"ips": ["1.1.1.1", "2.2.2.2"]}, {"ips": ["3.3.3.3"]}, {"x": 1}]});
        let p = path("t[*].ips[*]");
        assert!(p.is_multi());
        assert_eq!(
            p.all(&event),
            vec![&json!("1.1.1.1"), &json!("2.2.2.2"), &json!("3.3.3.3")]
        );
        assert_eq!(p.first(&event), Some(&json!("1.1.1.1")));
        assert_eq!(
            path("t[*].ips").select(&event),
            json!([["1.1.1.1", "2.2.2.2"], ["3.3.3.3"]])
        );
        assert_eq!(path("nothing[*]").select(&event), json!([]));
    }

    #[test]
    fn filters_select_elements_by_a_key() {
        let event = json!({"target": [
            {"type": "UserGroup", "displayName": "Bypass MFA Group"},
            {"type": "User", "displayName": "Alice"},
        ]});
        assert_eq!(
            path("target[?type==User].displayName").first(&event),
            Some(&json!("Alice"))
        );
        assert_eq!(
            path("target[?TYPE = 'UserGroup'].displayName").first(&event),
            Some(&json!("Bypass MFA Group"))
        );
        assert_eq!(path("target[?type==App].displayName").first(&event), None);
        let numbers = json!({"l": [{"n": 1, "v": "a"}, {"n": 2, "v": "b"}]});
        assert_eq!(path("l[?n==2].v").first(&numbers), Some(&json!("b")));
    }

    #[test]
    fn integer_steps_on_objects_read_the_key_spelled_as_the_number() {
        let event = json!({"m": {"0": "zero"}});
        assert_eq!(path("m[0]").first(&event), Some(&json!("zero")));
    }

    #[test]
    fn malformed_key_paths_are_rejected_with_a_reason() {
        for bad in [
            "", "a..b", ".a", "a.", "a.[0]", "a[0]b", "a[", "a]", "a[x]", "a[?]", "a[?=1]",
        ] {
            assert!(Path::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(Path::parse("a b.c d").is_ok(), "spaces are part of keys");
    }
}
