use super::*;
use crate::diagnostic::Code;
use serde_json::json;

const HEADER: &str =
    "AnalysisType: rule\nRuleID: Test.Rule\nEnabled: true\nLogTypes: [Test.Log]\nSeverity: Low\n";

fn rule(source: &str) -> Rule {
    match check_rule(source) {
        Ok(RuleFile::Rule(rule)) => *rule,
        Ok(other) => panic!("not a rule: {other:?}"),
        Err(diagnostics) => panic!("{diagnostics:#?}"),
    }
}

/// Every diagnostic as (line, column, code), in order.
fn problems(source: &str) -> Vec<(u32, u32, Code)> {
    match check_rule(source) {
        Ok(file) => panic!("accepted: {file:?}"),
        Err(diagnostics) => diagnostics
            .iter()
            .map(|d| (d.span.line, d.span.column, d.code))
            .collect(),
    }
}

fn messages(source: &str) -> Vec<String> {
    check_rule(source)
        .err()
        .unwrap_or_default()
        .iter()
        .map(|d| d.render("r.yml"))
        .collect()
}

#[test]
fn a_full_rule_reads_every_key_with_panthers_defaults() {
    let r = rule(&format!(
        "{HEADER}DisplayName: A rule\nDescription: d\nRunbook: r\nReference: https://x\n\
         Tags: [Okta, 'Initial Access:Valid Accounts']\nReports:\n  MITRE ATT&CK: [TA0004:T1078]\n  CIS: ['3.5']\n\
         SummaryAttributes: [a]\nOutputIds: [o]\nOnlyUseBaseRiskScore: false\nStatus: experimental\n\
         Detection:\n  - {{Condition: AlwaysTrue}}\n\
         Tests:\n  - Name: t\n    ExpectedResult: true\n    Log: {{a: 1}}\n    Mocks:\n      - {{objectName: f, returnValue: 'true'}}\n"
    ));
    assert_eq!(r.id, "Test.Rule");
    assert_eq!(r.id_span, Span::new(2, 9));
    assert_eq!(r.analysis_type, AnalysisType::Rule);
    assert_eq!(r.display_name.as_deref(), Some("A rule"));
    assert_eq!(r.severity, Severity::Low);
    assert_eq!(r.dedup_period_minutes, 60);
    assert_eq!(r.threshold, 1);
    assert!(r.create_alert);
    assert_eq!(r.tags, vec!["Okta", "Initial Access:Valid Accounts"]);
    assert_eq!(
        r.reports,
        vec![
            ("MITRE ATT&CK".to_owned(), vec!["TA0004:T1078".to_owned()]),
            ("CIS".to_owned(), vec!["3.5".to_owned()])
        ]
    );
    assert_eq!(r.tests.len(), 1);
    assert_eq!(r.tests[0].log, json!({"a": 1}));
    assert_eq!(r.tests[0].mocks[0].return_value, json!("true"));
    assert_eq!(r.tests[0].span, Span::new(21, 5));
}

#[test]
fn explicit_values_override_defaults_and_scheduled_rules_read() {
    let r = rule(
        "AnalysisType: scheduled_rule\nRuleID: S\nEnabled: false\nScheduledQueries: [Q]\nSeverity: CRITICAL\n\
         DedupPeriodMinutes: 40320\nThreshold: 3\nCreateAlert: false\nDetection:\n  - Condition: AlwaysTrue\n",
    );
    assert_eq!(r.analysis_type, AnalysisType::ScheduledRule);
    let queries: Vec<&str> = r.scheduled_queries.iter().map(|q| q.as_str()).collect();
    assert_eq!(queries, ["Q"]);
    assert_eq!(r.scheduled_queries[0].span, Span::new(4, 20));
    assert!(r.log_types.is_empty());
    assert_eq!(r.severity, Severity::Critical);
    assert_eq!(
        (r.dedup_period_minutes, r.threshold, r.create_alert),
        (40320, 3, false)
    );
    assert!(!r.enabled);
}

#[test]
fn yaml_1_2_scalars_keep_yes_on_and_timestamps_as_strings() {
    let r = rule(&format!(
        "{HEADER}Detection:\n  - DeepKey: [additionalEventData, MFAUsed]\n    Condition: Equals\n    Value: Yes\n\
         \x20 - {{Key: mode, Condition: Equals, Value: 0644}}\n\
         Tests:\n  - Name: t\n    ExpectedResult: False\n    Log:\n      On: x\n      at: 2020-11-25 21:27:03\n      n: 0644\n"
    ));
    assert!(r.matches(&json!({"additionalEventData": {"MFAUsed": "Yes"}, "mode": 644})));
    assert!(!r.matches(&json!({"additionalEventData": {"MFAUsed": true}, "mode": 644})));
    let test = &r.tests[0];
    assert!(!test.expected);
    assert_eq!(
        test.log,
        json!({"On": "x", "at": "2020-11-25 21:27:03", "n": 644})
    );
}

#[test]
fn unknown_top_level_keys_are_errors_with_did_you_mean() {
    let source =
        format!("{HEADER}Detection:\n  - Condition: AlwaysTrue\nDedupPeriodMinute: 5\nBanana: 1\n");
    assert_eq!(
        problems(&source),
        vec![(8, 1, Code::UnknownKey), (9, 1, Code::UnknownKey)]
    );
    assert!(messages(&source)[0].contains("did you mean `DedupPeriodMinutes`?"));
}

#[test]
fn invalid_rules_report_every_problem_with_its_position_and_code() {
    let source = "AnalysisType: rule\n\
                  RuleId: Test.Bad\n\
                  Enabled: yes\n\
                  LogTypes: [Okta.SystemLog]\n\
                  Severity: Urgent\n\
                  Threshold: 0\n\
                  Detection:\n\
                  \x20 - KeyPath: eventType\n\
                  \x20   Condition: Equal\n\
                  \x20   Value: x\n\
                  \x20 - {KeyPath: a..b, Condition: Exists}\n\
                  \x20 - {Key: n, Condition: IsGreaterThan, Value: many}\n\
                  \x20 - {Key: ip, Condition: IsIPAddressInCIDR, Value: 10.0.0.0/33}\n\
                  \x20 - {Key: x, KeyPath: y, Condition: Equals, Value: 1}\n\
                  \x20 - {Any: [{Key: x, Condition: WardenMatchesRegex, Value: '(open'}], Extra: 1}\n\
                  \x20 - {Condition: IsIn, Values: [{KeyPath: a}]}\n\
                  \x20 - {Key: v, Condition: Equals}\n\
                  \x20 - {Key: v, Condition: IsIn, Value: x}\n\
                  \x20 - {Key: v, Condition: Equals, Value: ~}\n\
                  \x20 - {Key: v, Value: 1}\n\
                  \x20 - {Key: v, Condition: IsNull, Value: false}\n\
                  \x20 - {Condition: AlwaysTrue, Key: v}\n\
                  \x20 - just a string\n\
                  AlertTitle: '{actor'\n\
                  Tests:\n\
                  \x20 - Name: t\n\
                  \x20   Log: {}\n";
    assert_eq!(
        problems(source),
        vec![
            (1, 1, Code::MissingKey),      // RuleID
            (2, 1, Code::UnknownKey),      // RuleId
            (3, 10, Code::InvalidValue),   // yes is a string in YAML 1.2
            (5, 11, Code::InvalidValue),   // severity
            (6, 12, Code::InvalidOption),  // Threshold 0
            (9, 16, Code::InvalidValue),   // unknown condition
            (11, 15, Code::InvalidValue),  // KeyPath syntax
            (12, 47, Code::InvalidOption), // not a number
            (13, 52, Code::InvalidOption), // CIDR
            (14, 14, Code::KindConflict),  // two specifiers
            (15, 59, Code::BadRegex),
            (15, 70, Code::UnknownKey),    // beside a combinator
            (16, 31, Code::InvalidOption), // multi-key needs two
            (17, 5, Code::MissingKey),     // no Value
            (18, 31, Code::InvalidOption), // IsIn takes Values
            (19, 40, Code::InvalidValue),  // null Value
            (20, 5, Code::MissingKey),     // no Condition
            (21, 33, Code::InvalidOption), // unary with Value: false
            (22, 29, Code::InvalidOption), // AlwaysTrue with a key
            (23, 5, Code::InvalidValue),   // not a mapping
            (24, 13, Code::InvalidOption), // AlertTitle
            (26, 5, Code::MissingKey),     // test without ExpectedResult
        ]
    );
    let rendered = messages(source);
    assert!(
        rendered.iter().any(|m| m.contains(
            "r.yml:9:16: error[W005]: unknown condition `Equal`\n  hint: did you mean `Equals`?"
        )),
        "{rendered:#?}"
    );
    assert!(rendered
        .iter()
        .any(|m| m.contains("YAML 1.2 reads `yes` as a string")));
}

#[test]
fn inline_filters_take_the_reduced_grammar() {
    let source = format!(
        "{HEADER}Detection:\n  - Condition: AlwaysTrue\nInlineFilters:\n\
         \x20 - {{Key: a, Condition: Exists}}\n\
         \x20 - {{OnlyOne: [{{KeyPath: a, Condition: Exists}}]}}\n\
         \x20 - {{KeyPath: l, Condition: AnyElement, Expressions: [{{Key: a, Condition: Exists}}]}}\n\
         \x20 - {{Condition: Equals, Values: [{{KeyPath: a}}, {{KeyPath: b}}]}}\n\
         \x20 - {{Condition: AlwaysTrue}}\n\
         \x20 - {{Any: [{{KeyPath: a, Condition: Exists}}, {{Enrichment: {{Table: t, Selector: s, FieldPath: f}}, Condition: Exists}}]}}\n"
    );
    assert_eq!(
        problems(&source),
        vec![
            (9, 6, Code::InvalidOption),
            (10, 6, Code::InvalidOption),
            (11, 5, Code::InvalidOption),
            (12, 25, Code::InvalidOption),
            (13, 5, Code::InvalidOption),
        ]
    );
}

#[test]
fn mutually_exclusive_and_missing_keys_are_reported() {
    let both =
        "AnalysisType: rule\nRuleID: R\nEnabled: true\nLogTypes: [A]\nScheduledQueries: [Q]\n\
                Severity: Low\nFilename: r.py\nDetection:\n  - Condition: AlwaysTrue\n";
    assert_eq!(
        problems(both),
        vec![(5, 1, Code::KindConflict), (8, 1, Code::KindConflict)]
    );
    let bare = "AnalysisType: rule\n";
    let rendered = messages(bare);
    for key in ["RuleID", "Enabled", "Severity", "Detection", "LogTypes"] {
        assert!(
            rendered
                .iter()
                .any(|m| m.contains(&format!("missing required key `{key}`"))),
            "{key}: {rendered:#?}"
        );
    }
    assert_eq!(
        problems("AnalysisType: rulez\n"),
        vec![(1, 15, Code::InvalidValue)]
    );
    assert!(messages("AnalysisType: rulez\n")[0].contains("did you mean `rule`?"));
    assert_eq!(problems("- a\n"), vec![(1, 1, Code::InvalidValue)]);
    assert_eq!(problems("a: [1\n")[0].2, Code::YamlSyntax);
}

#[test]
fn rule_ids_are_checked() {
    let source =
        HEADER.replace("Test.Rule", "'Bad<Id>'") + "Detection:\n  - Condition: AlwaysTrue\n";
    assert_eq!(problems(&source), vec![(2, 9, Code::InvalidId)]);
}

#[test]
fn correlation_and_derived_rules_are_unsupported_by_name_and_python_rules_keep_their_file() {
    let correlation = "AnalysisType: correlation_rule\nRuleID: C.Rule\nEnabled: true\nSeverity: High\n\
                       Detection:\n  - Sequence: []\nTests:\n  - Name: a\n    ExpectedResult: true\n    RuleOutputs: []\n";
    match check_rule(correlation) {
        Ok(RuleFile::Unsupported(u)) => {
            assert_eq!(u.to_string(), "unsupported: correlation rules (C.Rule)");
            assert_eq!(u.tests, 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        problems("AnalysisType: correlation_rule\nRuleID: C\nLogTypes: [x]\n"),
        vec![(3, 1, Code::UnknownKey)]
    );
    let python = "AnalysisType: rule\nRuleID: P.Rule\nEnabled: true\nLogTypes: [A]\nSeverity: Low\nFilename: p.py\n";
    match check_rule(python) {
        Ok(RuleFile::Rule(rule)) => {
            let python = rule.python.expect("a Python rule");
            assert_eq!(python.filename, "p.py");
            assert_eq!(python.filename_span.to_string(), "6:11");
            assert!(python.code.is_none(), "the loader reads the code");
        }
        other => panic!("{other:?}"),
    }
    let derived = "AnalysisType: rule\nRuleID: D.Rule\nBaseDetection: P.Rule\nEnabled: false\nSeverity: Low\n";
    assert!(matches!(check_rule(derived), Ok(RuleFile::Unsupported(_))));
    match check_rule("AnalysisType: scheduled_query\nQueryName: q\n") {
        Ok(RuleFile::Other(kind)) => assert_eq!(kind, "scheduled_query"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn clauses_keep_their_position_and_source_text() {
    let r = rule(&format!(
        "{HEADER}Detection:\n  - KeyPath: outcome.result\n    Condition: Equals\n    Value: 'SUCCESS'\n"
    ));
    let clause = &r.matcher().detection()[0];
    assert_eq!(clause.span, Span::new(7, 5));
    assert_eq!(
        clause.text,
        "{KeyPath: outcome.result, Condition: Equals, Value: SUCCESS}"
    );
    let failure = r
        .explain(&json!({"outcome": {"result": "FAILURE"}}))
        .unwrap_err();
    assert_eq!(
        failure.to_string(),
        "Detection[0] at line 7 is false: {KeyPath: outcome.result, Condition: Equals, Value: SUCCESS} (`outcome.result` is \"FAILURE\")"
    );
}

#[test]
fn every_condition_name_compiles() {
    for name in condition_names() {
        let expression = match name {
            "AlwaysTrue" | "AlwaysFalse" => format!("{{Condition: {name}}}"),
            "AnyElement" | "AllElements" | "NoElement" | "OnlyOneElement" => {
                format!("{{Key: l, Condition: {name}, Expressions: [{{Condition: AlwaysTrue}}]}}")
            }
            n if n.contains("In") && !n.contains("CIDR") && n.ends_with("In") => {
                format!("{{Key: v, Condition: {name}, Values: [a, 1]}}")
            }
            "IsIPAddressInCIDR" => format!("{{Key: v, Condition: {name}, Value: 10.0.0.0/8}}"),
            n if n.starts_with("IsIP") || n.contains("Null") || n.contains("Exist") => {
                format!("{{Key: v, Condition: {name}}}")
            }
            n if n.contains("Than") => format!("{{Key: v, Condition: {name}, Value: 1}}"),
            _ => format!("{{Key: v, Condition: {name}, Value: a}}"),
        };
        let source = format!("{HEADER}Detection:\n  - {expression}\n");
        assert!(
            check_rule(&source).is_ok(),
            "{name}: {:#?}",
            check_rule(&source).err()
        );
    }
}

#[test]
fn compiled_rules_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Rule>();
    assert_send_sync::<RuleFile>();
}
