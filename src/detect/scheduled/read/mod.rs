//! Reading a `scheduled_query` file with the rule reader's helpers (`detect::rule`'s
//! `check_file`, `require`, `entry`): every key is read on its own so one mistake does not hide
//! the others, then the required keys are checked.

mod schedule;
mod warden_query;

use super::query::MatchQuery;
use super::{Schedule, ScheduledQuery, ScheduledQueryFile};
use crate::detect::rule::{read_name, require, Compiler, Unsupported};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::yaml::{Key, Node};
use serde::Deserialize;

/// Top-level keys (`panther_analysis_tool` `SCHEDULED_QUERY_SCHEMA`, `DatabricksQuery`, and
/// warden's `WardenQuery`).
const QUERY_KEYS: &[&str] = &[
    "AnalysisType",
    "QueryName",
    "Enabled",
    "Description",
    "Tags",
    "Schedule",
    "Query",
    "AthenaQuery",
    "SnowflakeQuery",
    "DatabricksQuery",
    "Lookback",
    "LookbackWindowSeconds",
    "EmailConfig",
    "WardenQuery",
];

/// `EmailConfig`, checked for typos; warden sends no query e-mail.
#[derive(Deserialize)]
#[allow(dead_code)]
struct EmailConfig {
    #[serde(rename = "Recipients")]
    recipients: Vec<String>,
    #[serde(rename = "SendEmpty")]
    send_empty: Option<bool>,
    #[serde(rename = "PreferAttachment")]
    prefer_attachment: Option<bool>,
}

/// The top-level values as read, before the required-key checks.
#[derive(Default)]
struct Header<'n> {
    name: Option<(String, Span)>,
    enabled: Option<bool>,
    description: Option<String>,
    tags: Option<Vec<String>>,
    schedule: Option<Schedule>,
    sql: Option<&'n Key>,
    query: Option<MatchQuery>,
}

/// A `scheduled_query` file's top level.
pub(super) fn query_file(
    c: &mut Compiler,
    root: &Node,
    entries: &[(Key, Node)],
) -> Option<ScheduledQueryFile> {
    let mut h = Header::default();
    let mut ok = true;
    for (key, node) in entries {
        let read = match key.name.as_str() {
            "AnalysisType" => analysis_type(c, node),
            "QueryName" => query_name(c, node)
                .map(|v| h.name = Some((v, node.span)))
                .is_some(),
            "Enabled" => c.read(node).map(|v| h.enabled = Some(v)).is_some(),
            "Description" => c.read(node).map(|v| h.description = Some(v)).is_some(),
            "Tags" => c.read(node).map(|v| h.tags = Some(v)).is_some(),
            "Schedule" => schedule::schedule(c, node)
                .map(|v| h.schedule = Some(v))
                .is_some(),
            "Query" | "AthenaQuery" | "SnowflakeQuery" | "DatabricksQuery" => {
                h.sql = Some(key);
                c.read::<String>(node).is_some()
            }
            "Lookback" => c.read::<bool>(node).is_some(),
            "LookbackWindowSeconds" => c.read::<u32>(node).is_some(),
            "EmailConfig" => c.read::<EmailConfig>(node).is_some(),
            "WardenQuery" => warden_query::match_query(c, node)
                .map(|v| h.query = Some(v))
                .is_some(),
            other => {
                c.unknown_key(key.span, other, QUERY_KEYS);
                false
            }
        };
        ok &= read;
    }
    ok &= check_required(c, root, &h);
    if !ok {
        return None;
    }
    let (name, name_span) = h.name?;
    let Some(query) = h.query else {
        // Only SQL: named, so reports can list it and scheduled rules can still refer to it.
        return Some(ScheduledQueryFile::Unsupported(Unsupported {
            id: name,
            id_span: name_span,
            feature: "warehouse SQL cannot run in warden; add WardenQuery".to_owned(),
            tests: 0,
        }));
    };
    Some(ScheduledQueryFile::Query(Box::new(ScheduledQuery {
        name,
        name_span,
        enabled: h.enabled?,
        description: h.description.unwrap_or_default(),
        tags: h.tags.unwrap_or_default(),
        schedule: h.schedule?,
        query,
    })))
}

fn analysis_type(c: &mut Compiler, node: &Node) -> bool {
    let Some(text) = c.read::<String>(node) else {
        return false;
    };
    if text == "scheduled_query" {
        return true;
    }
    c.push(
        Diagnostic::new(
            Code::InvalidValue,
            node.span,
            format!("expected `AnalysisType: scheduled_query`, found `{text}`"),
        )
        .with_hint("rules are read with the rule reader; this reads scheduled queries only"),
    );
    false
}

fn query_name(c: &mut Compiler, node: &Node) -> Option<String> {
    let name = read_name(c, "QueryName", node)?;
    if name.trim().is_empty() {
        c.push(
            Diagnostic::new(Code::InvalidId, node.span, "`QueryName` is empty")
                .with_hint("name the query; scheduled rules list it in `ScheduledQueries`"),
        );
        return None;
    }
    Some(name)
}

/// Required keys; true when all are there.
fn check_required(c: &mut Compiler, root: &Node, h: &Header) -> bool {
    let mut ok = require(
        c,
        root,
        "AnalysisType",
        "add `AnalysisType: scheduled_query`",
    );
    ok &= require(
        c,
        root,
        "QueryName",
        "add `QueryName:`; scheduled rules list it in `ScheduledQueries`",
    );
    ok &= require(c, root, "Enabled", "add `Enabled: true`");
    ok &= require(
        c,
        root,
        "Schedule",
        "add `Schedule: {RateMinutes: 60, TimeoutMinutes: 1}` or `Schedule: {CronExpression: \"0 * * * *\", TimeoutMinutes: 1}`",
    );
    if h.sql.is_none() {
        ok &= require(
            c,
            root,
            "WardenQuery",
            "add `WardenQuery:` (RuleIDs, LookbackMinutes, GroupBy, CountAs): warden runs queries over stored rule matches, not warehouse SQL",
        );
    }
    ok
}

/// The keys of a mapping by name, reporting unknown ones; `None` if `node` is not a mapping.
pub(super) fn keyed<'n>(
    c: &mut Compiler,
    what: &str,
    node: &'n Node,
    known: &[&str],
    ok: &mut bool,
) -> Option<&'n [(Key, Node)]> {
    let Some(entries) = node.as_map() else {
        c.push(Diagnostic::new(
            Code::InvalidValue,
            node.span,
            format!("`{what}` must be a mapping, found {}", node.describe()),
        ));
        return None;
    };
    for (key, _) in entries {
        if !known.contains(&key.name.as_str()) {
            c.unknown_key(key.span, &key.name, known);
            *ok = false;
        }
    }
    Some(entries)
}
