//! `WardenQuery`: which stored matches to read and how to fold them into rows.

use super::keyed;
use crate::detect::eval::{Matcher, Path};
use crate::detect::rule::{entry, missing, read_at_least, Compiler, Place};
use crate::detect::scheduled::query::{MatchQuery, DEFAULT_COUNT_COLUMN, FIRST_MATCH, LAST_MATCH};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::yaml::{Key, Node, Spanned};
use std::time::Duration;

const WARDEN_QUERY_KEYS: &[&str] = &[
    "RuleIDs",
    "LookbackMinutes",
    "Where",
    "GroupBy",
    "Latest",
    "CountAs",
];

/// `WardenQuery: {RuleIDs, LookbackMinutes, Where?, GroupBy?, Latest?, CountAs?}`.
pub(super) fn match_query(c: &mut Compiler, node: &Node) -> Option<MatchQuery> {
    let mut ok = true;
    let entries = keyed(c, "WardenQuery", node, WARDEN_QUERY_KEYS, &mut ok)?;
    let rule_ids = match entry(entries, "RuleIDs") {
        Some((_, value)) => rule_ids(c, value),
        None => {
            c.push(missing(
                node,
                "RuleIDs",
                "name the rules whose stored matches the query reads, e.g. `RuleIDs: [Okta.BypassMFAGroup.UserAdded]`",
            ));
            None
        }
    };
    let lookback = match entry(entries, "LookbackMinutes") {
        Some((key, value)) => read_at_least(
            c,
            key,
            value,
            1,
            "how far back matches count, e.g. `40320` for four weeks",
        ),
        None => {
            c.push(missing(
                node,
                "LookbackMinutes",
                "add how far back matches count, e.g. `LookbackMinutes: 40320` (four weeks, SQL's p_occurs_since('4 weeks'))",
            ));
            None
        }
    };
    let filter = match entry(entries, "Where") {
        Some((key, value)) => c
            .clauses(key, value, Place::Detection)
            .map(|detection| Matcher {
                detection,
                ..Matcher::default()
            }),
        None => Some(Matcher::default()),
    };
    let group_by = match entry(entries, "GroupBy") {
        Some((_, value)) => columns(c, "GroupBy", value),
        None => Some(Vec::new()),
    };
    let latest = match entry(entries, "Latest") {
        Some((_, value)) => columns(c, "Latest", value),
        None => Some(Vec::new()),
    };
    let count_column = match entry(entries, "CountAs") {
        Some((key, value)) => column_name(c, key, value),
        None => Some(Spanned::new(DEFAULT_COUNT_COLUMN.to_owned(), node.span)),
    };
    let (
        Some((rule_ids, rule_id_spans)),
        Some(lookback),
        Some(filter),
        Some(group_by),
        Some(latest),
        Some(count_column),
    ) = (rule_ids, lookback, filter, group_by, latest, count_column)
    else {
        return None;
    };
    ok &= distinct_columns(c, &group_by, &latest, &count_column);
    ok.then(|| MatchQuery {
        rule_ids,
        rule_id_spans,
        lookback: Duration::from_secs(u64::from(lookback) * 60),
        filter,
        group_by: group_by.into_iter().map(|(k, p)| (k.value, p)).collect(),
        latest: latest.into_iter().map(|(k, p)| (k.value, p)).collect(),
        count_column: count_column.value,
    })
}

fn rule_ids(c: &mut Compiler, node: &Node) -> Option<(Vec<String>, Vec<Span>)> {
    let ids: Vec<Spanned<String>> = c.read(node)?;
    if ids.is_empty() {
        c.push(
            Diagnostic::new(Code::InvalidValue, node.span, "`RuleIDs` is empty")
                .with_hint("name the rules whose stored matches the query reads"),
        );
        return None;
    }
    let mut ok = true;
    for id in &ids {
        if id.trim().is_empty() {
            c.push(Diagnostic::new(
                Code::InvalidId,
                id.span,
                "a RuleID in `RuleIDs` is empty",
            ));
            ok = false;
        }
    }
    ok.then(|| ids.into_iter().map(|id| (id.value, id.span)).unzip())
}

/// `GroupBy`/`Latest`: `column: KeyPath` (a string), or `column: {Key|DeepKey|KeyPath|Enrichment: …}`.
fn columns(c: &mut Compiler, what: &str, node: &Node) -> Option<Vec<(Spanned<String>, Path)>> {
    let Some(entries) = node.as_map() else {
        c.push(
            Diagnostic::new(
                Code::InvalidValue,
                node.span,
                format!(
                    "`{what}` must be a mapping of column names to key paths, found {}",
                    node.describe()
                ),
            )
            .with_hint("write e.g. `user: \"target[?type==User].alternateId\"`"),
        );
        return None;
    };
    let mut out = Vec::with_capacity(entries.len());
    let mut ok = true;
    for (key, value) in entries {
        let name = column_name(c, key, value);
        let path = if value.as_map().is_some() {
            c.key_specifier(value)
        } else {
            c.key_path_text(key, value)
        };
        match (name, path) {
            (Some(name), Some(path)) => out.push((name, path)),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// A column name: `CountAs`'s value, or a `GroupBy`/`Latest` key.
fn column_name(c: &mut Compiler, key: &Key, value: &Node) -> Option<Spanned<String>> {
    let (name, span) = if key.name == "CountAs" {
        (c.string(value, "`CountAs`")?, value.span)
    } else {
        (key.name.clone(), key.span)
    };
    if name.trim().is_empty() {
        c.push(
            Diagnostic::new(Code::InvalidValue, span, "a column name is empty")
                .with_hint("name the column as the scheduled rule reads it, e.g. `adds`"),
        );
        return None;
    }
    Some(Spanned::new(name, span))
}

/// No two output columns share a name; true when they don't.
fn distinct_columns(
    c: &mut Compiler,
    group_by: &[(Spanned<String>, Path)],
    latest: &[(Spanned<String>, Path)],
    count: &Spanned<String>,
) -> bool {
    let mut seen: Vec<&Spanned<String>> = Vec::new();
    let mut ok = true;
    let named = group_by.iter().chain(latest).map(|(name, _)| name);
    for name in named.chain([count]) {
        let problem = if [FIRST_MATCH, LAST_MATCH].contains(&name.as_str()) {
            Some((
                format!("column `{}` is reserved", name.value),
                "warden adds `first_match` and `last_match`, the first and last `p_event_time`; rename it".to_owned(),
            ))
        } else {
            seen.iter().find(|s| s.value == name.value).map(|first| {
                (
                    format!("column `{}` appears twice in the query's rows", name.value),
                    format!("it is already a column at {}; rename one", first.span),
                )
            })
        };
        match problem {
            Some((message, hint)) => {
                c.push(Diagnostic::new(Code::InvalidValue, name.span, message).with_hint(hint));
                ok = false;
            }
            None => seen.push(name),
        }
    }
    ok
}
