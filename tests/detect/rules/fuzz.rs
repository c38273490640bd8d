//! Property tests: mutated rule files never panic the reader, and arbitrary events never panic the
//! evaluator or the alert functions.

use proptest::prelude::*;

use crate::mutate::mutate;
use serde_json::{Map, Value};
use warden::detect::rule::{check_rule, Rule, RuleFile};

/// A rule that uses most of the grammar: every condition family, combinators, a list
/// comprehension, a multi-key comparison, wildcards, filters and all four alert functions.
const RICH: &str = r#"AnalysisType: rule
RuleID: Fuzz.Rich
DisplayName: Fuzz rich rule
Enabled: true
LogTypes: [Okta.SystemLog]
Severity: Medium
InlineFilters:
  - Any:
      - {KeyPath: eventType, Condition: StartsWith, Value: user}
      - {KeyPath: p_log_type, Condition: IEquals, Value: okta.systemlog}
Detection:
  - {KeyPath: outcome.result, Condition: IsIn, Values: [SUCCESS, ALLOW, 1, true]}
  - OnlyOne:
      - {KeyPath: 'client.ipAddress', Condition: IsIPAddressPublic}
      - {KeyPath: 'client.ipAddress', Condition: IsIPAddressInCIDR, Values: [10.0.0.0/8, '2001:db8::/32']}
      - {DeepKey: [request, ipChain, 0, ip], Condition: IsIPv6Address}
  - None:
      - {Key: severity, Condition: IsGreaterThan, Value: 3}
      - {KeyPath: 'target[*].displayName', Condition: IContains, Value: admin}
  - KeyPath: target
    Condition: AnyElement
    Expressions:
      - {Key: type, Condition: Equals, Value: User}
      - {Key: alternateId, Condition: WardenMatchesRegex, Value: '@example\.(com|org)$'}
  - {Condition: DoesNotEqual, Values: [{KeyPath: actor.id}, {KeyPath: 'target[0].id'}]}
  - {KeyPath: debugContext, Condition: IsNotNullOrEmpty}
AlertTitle: "{actor.displayName} -> {target[?type==User].alternateId} ({client.ipAddress})"
AlertContext:
  - {KeyName: ips, KeyValue: {KeyPath: 'request.ipChain[*].ip'}}
  - {KeyName: actor, KeyValue: {KeyPath: actor}}
GroupBy:
  - {KeyPath: 'target[?type==User].alternateId'}
  - {Key: eventType}
DynamicSeverities:
  - ChangeTo: High
    Conditions:
      - {KeyPath: 'target[*].type', Condition: Equals, Value: UserGroup}
"#;

fn rich_rule() -> Rule {
    match check_rule(RICH) {
        Ok(RuleFile::Rule(rule)) => *rule,
        other => panic!("{other:?}"),
    }
}

/// JSON events built from the keys the rich rule reads, in varied case, with values of every type.
fn event() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "eventType",
        "EVENTTYPE",
        "outcome",
        "result",
        "client",
        "ipAddress",
        "target",
        "type",
        "displayName",
        "alternateId",
        "actor",
        "id",
        "request",
        "ipChain",
        "ip",
        "severity",
        "debugContext",
        "p_log_type",
        "0",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "SUCCESS",
            "user.session.start",
            "8.8.8.8",
            "10.1.2.3",
            "2001:db8::1",
            "User",
            "UserGroup",
            "bob@example.com",
            "Admin",
            "",
            "ÉCOLE",
            "okta.SystemLog",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_rules_never_panic(edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..12)) {
        let source = mutate(RICH, &edits);
        match check_rule(&source) {
            Ok(RuleFile::Rule(rule)) => {
                let event = serde_json::json!({"eventType": "user.x", "target": [{"type": "User"}]});
                let _ = (rule.explain(&event), rule.title(&event), rule.dedup(&event));
            }
            Ok(_) => {}
            Err(diagnostics) => {
                let lines = source.lines().count().max(1) as u32 + 1;
                for d in diagnostics {
                    prop_assert!(d.span.line >= 1 && d.span.line <= lines, "{d:?} outside {lines} lines");
                }
            }
        }
    }

    #[test]
    fn arbitrary_events_never_panic_the_evaluator(event in event()) {
        let rule = rich_rule();
        let verdict = rule.matches(&event);
        prop_assert_eq!(verdict, rule.explain(&event).is_ok());
        let title = rule.title(&event);
        prop_assert!(title.chars().count() <= 1000);
        let _ = (rule.dedup(&event), rule.alert_context(&event), rule.severity_for(&event));
    }
}
