//! Reading a rule file's top-level keys: each key is read on its own, so one mistake does not
//! hide the others, then the cross-key checks (required keys, keys that exclude each other).

use super::expr::Place;
use super::fields::{read_id, read_name, read_positive, read_severity, read_tests};
use super::top_level::{entry, missing, require};
use super::{
    AnalysisType, Compiler, Rule, RuleFile, RuleTest, Unsupported, DEFAULT_DEDUP_PERIOD_MINUTES,
    DEFAULT_THRESHOLD,
};
use crate::detect::eval::{AlertSpec, Matcher};
use crate::detect::Severity;
use crate::diagnostic::{did_you_mean, Code, Diagnostic, Span};
use crate::yaml::{self, Key, Node, Spanned};

/// Analysis types that are not rules; such files are recognised and set aside.
const OTHER_TYPES: &[&str] = &[
    "policy",
    "scheduled_query",
    "saved_query",
    "global",
    "datamodel",
    "pack",
    "lookup_table",
    "scheduled_prompt",
];

/// Keys that make a file without `AnalysisType` an analysis item missing it, rather than some
/// other YAML file.
const IDENTITY_KEYS: &[&str] = &[
    "RuleID",
    "PolicyID",
    "QueryName",
    "DataModelID",
    "GlobalID",
    "Detection",
    "Filename",
    "LogTypes",
];

/// The kind [`RuleFile::Other`] reports for a YAML file that is not an analysis item.
pub const NOT_ANALYSIS: &str = "not an analysis file";

/// Top-level keys of a rule (`panther_analysis_tool` `RULE_SCHEMA`, plus management fields).
const RULE_KEYS: &[&str] = &[
    "AnalysisType",
    "RuleID",
    "DisplayName",
    "Enabled",
    "Filename",
    "Detection",
    "InlineFilters",
    "LogTypes",
    "ScheduledQueries",
    "Severity",
    "Description",
    "Reference",
    "Runbook",
    "DedupPeriodMinutes",
    "Threshold",
    "Tags",
    "Reports",
    "SummaryAttributes",
    "OutputIds",
    "CreateAlert",
    "Tests",
    "AlertTitle",
    "AlertContext",
    "GroupBy",
    "DynamicSeverities",
    "OnlyUseBaseRiskScore",
    "BaseDetection",
    "Status",
    "CreatedBy",
    "BaseVersion",
];

/// Top-level keys of a correlation rule (`CORRELATION_RULE_SCHEMA`).
const CORRELATION_KEYS: &[&str] = &[
    "AnalysisType",
    "RuleID",
    "DisplayName",
    "Enabled",
    "Detection",
    "Severity",
    "Description",
    "Reference",
    "Runbook",
    "Tags",
    "Reports",
    "SummaryAttributes",
    "OutputIds",
    "CreateAlert",
    "Tests",
    "OnlyUseBaseRiskScore",
    "Status",
    "CreatedBy",
    "BaseVersion",
];

/// A rule file's top level: `AnalysisType` decides how the rest is read.
pub(super) fn rule_file(
    c: &mut Compiler,
    root: &Node,
    entries: &[(Key, Node)],
) -> Option<RuleFile> {
    let analysis_type = match entry(entries, "AnalysisType") {
        // Not an analysis item at all (a Panther repository also holds test scenarios, pack
        // manifests and CI files): set aside, as `panther_analysis_tool` does.
        None if !entries
            .iter()
            .any(|(k, _)| IDENTITY_KEYS.contains(&k.name.as_str())) =>
        {
            return Some(RuleFile::Other(NOT_ANALYSIS.to_owned()));
        }
        None => {
            c.push(missing(root, "AnalysisType", "add `AnalysisType: rule`"));
            None
        }
        Some((_, node)) => {
            let text: String = c.read(node)?;
            match text.as_str() {
                "rule" => Some(AnalysisType::Rule),
                "scheduled_rule" => Some(AnalysisType::ScheduledRule),
                "correlation_rule" => return correlation_rule(c, root, entries),
                other if OTHER_TYPES.contains(&other) => return Some(RuleFile::Other(text)),
                other => {
                    let known = ["rule", "scheduled_rule", "correlation_rule"];
                    let hint =
                        did_you_mean(other, known.into_iter().chain(OTHER_TYPES.iter().copied()))
                            .unwrap_or_else(|| {
                                "warden runs `rule` and `scheduled_rule` files".to_owned()
                            });
                    c.push(
                        Diagnostic::new(
                            Code::InvalidValue,
                            node.span,
                            format!("unknown AnalysisType `{other}`"),
                        )
                        .with_hint(hint),
                    );
                    return None;
                }
            }
        }
    };
    rule(c, root, entries, analysis_type)
}

/// The top-level values of a rule as read, before cross-key checks.
#[derive(Default)]
struct Header<'n> {
    id: Option<(String, Span)>,
    display_name: Option<String>,
    enabled: Option<bool>,
    filename: Option<(&'n Key, Spanned<String>)>,
    base_detection: Option<&'n Key>,
    detection: Option<(&'n Key, &'n Node)>,
    log_types: Option<(&'n Key, Vec<String>)>,
    scheduled_queries: Option<(&'n Key, Vec<Spanned<String>>)>,
    severity: Option<Severity>,
    description: Option<String>,
    reference: Option<String>,
    runbook: Option<String>,
    dedup_period_minutes: Option<u32>,
    threshold: Option<u32>,
    tags: Option<Vec<String>>,
    reports: Option<crate::yaml::Entries<Vec<String>>>,
    summary_attributes: Option<Vec<String>>,
    output_ids: Option<Vec<String>>,
    create_alert: Option<bool>,
    tests: Option<Vec<RuleTest>>,
    matcher: Matcher,
    alert: AlertSpec,
}

fn rule(
    c: &mut Compiler,
    root: &Node,
    entries: &[(Key, Node)],
    analysis_type: Option<AnalysisType>,
) -> Option<RuleFile> {
    let mut h = Header::default();
    let mut ok = analysis_type.is_some();
    // Read every key even after an error, so one pass reports everything.
    let mut filters = None;
    for (key, node) in entries {
        let read = match key.name.as_str() {
            "AnalysisType" | "OnlyUseBaseRiskScore" | "Status" | "CreatedBy" | "BaseVersion" => {
                true
            }
            "RuleID" => read_id(c, node).map(|id| h.id = Some(id)).is_some(),
            "DisplayName" => read_name(c, "DisplayName", node)
                .map(|v| h.display_name = Some(v))
                .is_some(),
            "Enabled" => c.read(node).map(|v| h.enabled = Some(v)).is_some(),
            "Filename" => c
                .read::<Spanned<String>>(node)
                .map(|v| h.filename = Some((key, v)))
                .is_some(),
            "BaseDetection" => {
                h.base_detection = Some(key);
                c.read::<String>(node).is_some()
            }
            "Detection" => {
                h.detection = Some((key, node));
                true
            }
            "InlineFilters" => {
                filters = Some((key, node));
                true
            }
            "LogTypes" => c.read(node).map(|v| h.log_types = Some((key, v))).is_some(),
            "ScheduledQueries" => c
                .read(node)
                .map(|v| h.scheduled_queries = Some((key, v)))
                .is_some(),
            "Severity" => read_severity(c, node)
                .map(|v| h.severity = Some(v))
                .is_some(),
            "Description" => c.read(node).map(|v| h.description = Some(v)).is_some(),
            "Reference" => c.read(node).map(|v| h.reference = Some(v)).is_some(),
            "Runbook" => c.read(node).map(|v| h.runbook = Some(v)).is_some(),
            "DedupPeriodMinutes" => read_positive(c, key, node)
                .map(|v| h.dedup_period_minutes = Some(v))
                .is_some(),
            "Threshold" => read_positive(c, key, node)
                .map(|v| h.threshold = Some(v))
                .is_some(),
            "Tags" => c.read(node).map(|v| h.tags = Some(v)).is_some(),
            "Reports" => c.read(node).map(|v| h.reports = Some(v)).is_some(),
            "SummaryAttributes" => c
                .read(node)
                .map(|v| h.summary_attributes = Some(v))
                .is_some(),
            "OutputIds" => c.read(node).map(|v| h.output_ids = Some(v)).is_some(),
            "CreateAlert" => c.read(node).map(|v| h.create_alert = Some(v)).is_some(),
            "Tests" => read_tests(c, key, node)
                .map(|v| h.tests = Some(v))
                .is_some(),
            "AlertTitle" => c
                .alert_title(node)
                .map(|v| h.alert.title = Some(v))
                .is_some(),
            "AlertContext" => c
                .alert_context(key, node)
                .map(|v| h.alert.context = v)
                .is_some(),
            "GroupBy" => c
                .group_by(key, node)
                .map(|v| h.alert.group_by = v)
                .is_some(),
            "DynamicSeverities" => c
                .dynamic_severities(key, node)
                .map(|v| h.alert.severities = v)
                .is_some(),
            other => {
                // Thirty keys are too many to list in a hint.
                c.unknown_key_or(key.span, other, RULE_KEYS, || {
                    "see the rule keys in specs/panther.md §2.1".to_owned()
                });
                false
            }
        };
        ok &= read;
    }
    if let Some((key, node)) = filters {
        match c.clauses(key, node, Place::Filter) {
            Some(clauses) => h.matcher.filters = clauses,
            None => ok = false,
        }
    }
    if let Some((key, node)) = h.detection {
        match c.clauses(key, node, Place::Detection) {
            Some(clauses) if clauses.is_empty() => {
                c.push(
                    Diagnostic::new(Code::InvalidValue, node.span, "`Detection` is empty")
                        .with_hint("add match expressions; to match every event write `- Condition: AlwaysTrue`"),
                );
                ok = false;
            }
            Some(clauses) => h.matcher.detection = clauses,
            None => ok = false,
        }
    }
    ok &= check_required(c, root, &h);
    let id = h.id.clone();
    let tests = h.tests.as_ref().map_or(0, Vec::len);
    let unsupported = |feature: &str| {
        id.clone().map(|(id, id_span)| {
            RuleFile::Unsupported(Unsupported {
                id,
                id_span,
                feature: feature.to_owned(),
                tests,
            })
        })
    };
    if !ok {
        return None;
    }
    if h.base_detection.is_some() {
        return unsupported("derived rules (BaseDetection)");
    }
    let python = h.filename.map(|(_, name)| super::PythonRule {
        filename: name.value,
        filename_span: name.span,
        code: None,
    });
    if h.detection.is_none() && python.is_none() {
        return unsupported("rules without `Detection` or `Filename`");
    }
    let (id, id_span) = h.id?;
    Some(RuleFile::Rule(Box::new(Rule {
        id,
        id_span,
        analysis_type: analysis_type?,
        display_name: h.display_name,
        enabled: h.enabled?,
        log_types: h.log_types.map(|(_, v)| v).unwrap_or_default(),
        scheduled_queries: h.scheduled_queries.map(|(_, v)| v).unwrap_or_default(),
        severity: h.severity?,
        description: h.description.unwrap_or_default(),
        runbook: h.runbook.unwrap_or_default(),
        reference: h.reference.unwrap_or_default(),
        tags: h.tags.unwrap_or_default(),
        reports: h
            .reports
            .map(|r| r.0.into_iter().map(|(k, v)| (k.value, v)).collect())
            .unwrap_or_default(),
        summary_attributes: h.summary_attributes.unwrap_or_default(),
        output_ids: h.output_ids.unwrap_or_default(),
        dedup_period_minutes: h
            .dedup_period_minutes
            .unwrap_or(DEFAULT_DEDUP_PERIOD_MINUTES),
        threshold: h.threshold.unwrap_or(DEFAULT_THRESHOLD),
        create_alert: h.create_alert.unwrap_or(true),
        tests: h.tests.unwrap_or_default(),
        python,
        matcher: h.matcher,
        alert: h.alert,
    })))
}

/// Required keys and the pairs that exclude each other; true when all is well.
fn check_required(c: &mut Compiler, root: &Node, h: &Header) -> bool {
    let present = |name: &str| root.get(name).is_some();
    let mut ok = require(
        c,
        root,
        "RuleID",
        "add `RuleID: LogFamily.LogType.DetectionName`",
    );
    ok &= require(c, root, "Enabled", "add `Enabled: true`");
    ok &= require(
        c,
        root,
        "Severity",
        "add `Severity:` (Info, Low, Medium, High or Critical)",
    );
    if h.base_detection.is_none() {
        if !present("Filename") {
            ok &= require(
                c,
                root,
                "Detection",
                "add `Detection:` with match expressions (warden runs Simple Detections)",
            );
        }
        if !present("ScheduledQueries") {
            ok &= require(
                c,
                root,
                "LogTypes",
                "add `LogTypes: [Okta.SystemLog]` (or `ScheduledQueries:` for a scheduled rule)",
            );
        }
        if let (Some(_), Some((key, _))) = (&h.filename, h.detection) {
            c.push(
                Diagnostic::new(Code::KindConflict, key.span, "a rule has both `Filename` and `Detection`")
                    .with_hint("`Filename` names a Python rule, `Detection` makes a Simple Detection; keep one"),
            );
            ok = false;
        }
        if let (Some(_), Some((key, _))) = (&h.log_types, &h.scheduled_queries) {
            c.push(
                Diagnostic::new(Code::KindConflict, key.span, "a rule has both `LogTypes` and `ScheduledQueries`")
                    .with_hint("`LogTypes` for a streaming rule, `ScheduledQueries` for a scheduled rule; keep one"),
            );
            ok = false;
        }
    }
    ok
}

fn correlation_rule(c: &mut Compiler, root: &Node, entries: &[(Key, Node)]) -> Option<RuleFile> {
    let mut id = None;
    let mut tests = 0;
    let mut ok = true;
    for (key, node) in entries {
        match key.name.as_str() {
            "RuleID" => id = read_id(c, node),
            "Tests" => tests = seq_len(node),
            name if CORRELATION_KEYS.contains(&name) => {}
            other => {
                c.unknown_key(key.span, other, CORRELATION_KEYS);
                ok = false;
            }
        }
    }
    // Without a `RuleID` the file cannot even be listed: `id?` below gives up.
    require(
        c,
        root,
        "RuleID",
        "add `RuleID: LogFamily.LogType.DetectionName`",
    );
    let (id, id_span) = id?;
    ok.then(|| {
        RuleFile::Unsupported(Unsupported {
            id,
            id_span,
            feature: "correlation rules".to_owned(),
            tests,
        })
    })
}

fn seq_len(node: &Node) -> usize {
    match &node.kind {
        yaml::NodeKind::Seq(items) => items.len(),
        _ => 0,
    }
}
