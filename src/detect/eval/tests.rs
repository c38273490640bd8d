//! Every condition family, compiled from YAML the way rules are written.

use crate::detect::event;
use crate::detect::rule::{check_rule, Rule, RuleFile};
use crate::detect::Severity;
use serde_json::{json, Value};

fn rule_with(extra: &str) -> Rule {
    let source = format!(
        "AnalysisType: rule\nRuleID: Test.Rule\nEnabled: true\nLogTypes: [Test.Log]\nSeverity: Low\n{extra}"
    );
    match check_rule(&source) {
        Ok(RuleFile::Rule(rule)) => *rule,
        Ok(other) => panic!("not a rule: {other:?}"),
        Err(diagnostics) => panic!("{source}\n{diagnostics:#?}"),
    }
}

/// Whether one `Detection` expression (a YAML flow mapping) holds for `event`, asserting that the
/// hot path's [`Event`] gets the same verdict.
fn holds(expression: &str, event: &Value) -> bool {
    let rule = rule_with(&format!("Detection:\n  - {expression}\n"));
    let verdict = rule.matches(event);
    let text = event.to_string();
    let mut parser = event::Parser::new();
    let parsed = parser.parse(&text).unwrap();
    assert_eq!(
        rule.matches(parsed.root()),
        verdict,
        "{expression} on the Event {text}"
    );
    verdict
}

/// Asserts an expression's verdict on each (event, expected) pair.
fn check(expression: &str, cases: &[(Value, bool)]) {
    for (event, expected) in cases {
        assert_eq!(
            holds(expression, event),
            *expected,
            "{expression} on {event}"
        );
    }
}

#[test]
fn equality_is_pythons_and_negations_hold_on_missing_keys() {
    let eq = "{Key: v, Condition: Equals, Value: 7}";
    check(
        eq,
        &[
            (json!({"v": 7}), true),
            (json!({"v": 7.0}), true),
            (json!({"v": "7"}), false),
            (json!({"v": null}), false),
            (json!({}), false),
        ],
    );
    let ne = "{Key: v, Condition: DoesNotEqual, Value: 7}";
    check(
        ne,
        &[
            (json!({"v": 7}), false),
            (json!({"v": "7"}), true),
            (json!({}), true),
        ],
    );
    check(
        "{Key: v, Condition: Equals, Value: false}",
        &[
            (json!({"v": false}), true),
            (json!({"v": 0}), true),
            (json!({"v": "false"}), false),
        ],
    );
    check(
        "{Key: v, Condition: IEquals, Value: DownLoad}",
        &[
            (json!({"v": "DOWNLOAD"}), true),
            (json!({"v": "downloads"}), false),
            (json!({}), false),
        ],
    );
    check(
        "{Key: v, Condition: IDoesNotEqual, Value: download}",
        &[
            (json!({"v": "DOWNLOAD"}), false),
            (json!({"v": "x"}), true),
            (json!({}), true),
        ],
    );
}

#[test]
fn string_conditions_apply_to_strings_only() {
    let event = json!({"s": "Organization Administrator", "n": 123});
    assert!(holds(
        "{Key: s, Condition: StartsWith, Value: Organization}",
        &event
    ));
    assert!(!holds(
        "{Key: s, Condition: StartsWith, Value: organization}",
        &event
    ));
    assert!(holds(
        "{Key: s, Condition: IStartsWith, Value: ORGANIZATION}",
        &event
    ));
    assert!(holds(
        "{Key: s, Condition: EndsWith, Value: Administrator}",
        &event
    ));
    assert!(holds(
        "{Key: s, Condition: IEndsWith, Value: administrator}",
        &event
    ));
    assert!(holds(
        "{Key: s, Condition: Contains, Value: 'n Adm'}",
        &event
    ));
    assert!(holds(
        "{Key: s, Condition: IContains, Value: ADMINISTRATOR}",
        &event
    ));
    assert!(holds(
        "{Key: s, Condition: DoesNotContain, Value: viewer}",
        &event
    ));
    assert!(!holds(
        "{Key: s, Condition: IDoesNotContain, Value: admin}",
        &event
    ));
    assert!(holds(
        "{Key: s, Condition: DoesNotStartWith, Value: Super}",
        &event
    ));
    assert!(holds(
        "{Key: s, Condition: IDoesNotStartWith, Value: super}",
        &event
    ));
    assert!(holds(
        "{Key: s, Condition: DoesNotEndWith, Value: viewer}",
        &event
    ));
    assert!(holds(
        "{Key: s, Condition: IDoesNotEndWith, Value: VIEWER}",
        &event
    ));
    // A number is not a string: positive forms are false, negations true.
    assert!(!holds("{Key: n, Condition: StartsWith, Value: 12}", &event));
    assert!(holds(
        "{Key: n, Condition: DoesNotStartWith, Value: 12}",
        &event
    ));
    assert!(!holds(
        "{Key: missing, Condition: Contains, Value: x}",
        &event
    ));
    assert!(holds(
        "{Key: missing, Condition: DoesNotEndWith, Value: x}",
        &event
    ));
}

#[test]
fn has_is_pythons_in_for_strings_lists_and_objects() {
    let has = "{Key: v, Condition: Has, Value: admin}";
    check(
        has,
        &[
            (json!({"v": "domain_admin"}), true),
            (json!({"v": "member"}), false),
            (json!({"v": ["-e", "admin"]}), true),
            (json!({"v": ["administrator"]}), false),
            (json!({"v": {"admin": 1}}), true),
            (json!({"v": 5}), false),
            (json!({}), false),
        ],
    );
    check(
        "{Key: argv, Condition: DoesNotHave, Value: -l}",
        &[
            (json!({"argv": []}), true),
            (json!({"argv": ["-l"]}), false),
            (json!({}), true),
        ],
    );
    check(
        "{Key: v, Condition: Has, Value: 53}",
        &[
            (json!({"v": [53.0, 80]}), true),
            (json!({"v": ["53"]}), false),
        ],
    );
    check(
        "{Key: v, Condition: IHas, Value: ADMIN}",
        &[
            (json!({"v": "Domain_Admin"}), true),
            (json!({"v": ["Admin"]}), true),
            (json!({"v": ["x"]}), false),
        ],
    );
    assert!(holds(
        "{Key: v, Condition: IDoesNotHave, Value: ADMIN}",
        &json!({"v": "user"})
    ));
}

#[test]
fn numeric_comparisons_accept_numbers_and_numeric_strings() {
    check(
        "{Key: severity, Condition: IsGreaterThanOrEquals, Value: 7.0}",
        &[
            (json!({"severity": 8}), true),
            (json!({"severity": 7}), true),
            (json!({"severity": 6.9}), false),
            (json!({"severity": "7.5"}), true),
            (json!({"severity": "high"}), false),
            (json!({"severity": null}), false),
            (json!({}), false),
        ],
    );
    assert!(holds(
        "{Key: n, Condition: IsGreaterThan, Value: 50}",
        &json!({"n": 55})
    ));
    assert!(!holds(
        "{Key: n, Condition: IsGreaterThan, Value: 50}",
        &json!({"n": 50})
    ));
    assert!(holds(
        "{Key: n, Condition: IsLessThan, Value: 50}",
        &json!({"n": -1})
    ));
    assert!(holds(
        "{Key: n, Condition: IsLessThanOrEquals, Value: 8.9}",
        &json!({"n": 8.9})
    ));
    assert!(holds(
        "{Key: n, Condition: IsLessThanOrEqual, Value: 9}",
        &json!({"n": 9})
    ));
    assert!(holds(
        "{Key: n, Condition: IsGreaterThanOrEqual, Value: '9'}",
        &json!({"n": 9})
    ));
    assert!(holds(
        "{Key: n, Condition: IsGreaterThan, Value: 9007199254740992}",
        &json!({"n": 9_007_199_254_740_993_i64})
    ));
}

#[test]
fn ip_conditions_classify_addresses_and_ranges() {
    let cases = [
        ("IsIPAddress", "10.0.0.1", true),
        ("IsIPAddress", "not-an-ip", false),
        ("IsIPAddress", "2001:db8::1", true),
        ("IsIPv4Address", "10.0.0.1", true),
        ("IsIPv4Address", "::1", false),
        ("IsIPv6Address", "::1", true),
        ("IsIPv6Address", "1.2.3.4", false),
        ("IsIPAddressPrivate", "10.0.0.1", true),
        ("IsIPAddressPrivate", "8.8.8.8", false),
        ("IsIPAddressPublic", "8.8.8.8", true),
        ("IsIPAddressPublic", "192.168.0.1", false),
        ("IsIPAddressPublic", "100.64.0.1", false),
    ];
    for (condition, ip, expected) in cases {
        let expression = format!("{{Key: ip, Condition: {condition}}}");
        assert_eq!(
            holds(&expression, &json!({"ip": ip})),
            expected,
            "{condition} {ip}"
        );
        assert!(
            !holds(&expression, &json!({})),
            "{condition} on a missing key"
        );
        assert!(
            !holds(&expression, &json!({"ip": 167_772_161})),
            "{condition} on a number"
        );
    }
    // Panther's own rules write `Value: true` on unary conditions.
    assert!(holds(
        "{Key: ip, Condition: IsIPAddressPrivate, Value: true}",
        &json!({"ip": "10.1.1.1"})
    ));
    let cidr = "{Key: ip, Condition: IsIPAddressInCIDR, Value: 10.0.0.0/8}";
    check(
        cidr,
        &[
            (json!({"ip": "10.2.3.4"}), true),
            (json!({"ip": "11.0.0.1"}), false),
            (json!({}), false),
        ],
    );
    let cidrs =
        "{Key: ip, Condition: IsIPAddressInCIDR, Values: [192.168.0.0/16, '2001:db8::/32']}";
    check(
        cidrs,
        &[
            (json!({"ip": "2001:db8::5"}), true),
            (json!({"ip": "192.168.9.9"}), true),
            (json!({"ip": "8.8.8.8"}), false),
        ],
    );
    assert!(holds(
        "{KeyPath: 'p_any_ip_addresses[*]', Condition: IsIPAddressInCIDR, Value: 1.2.3.0/24}",
        &json!({"p_any_ip_addresses": ["8.8.8.8", "1.2.3.4"]})
    ));
}

#[test]
fn list_membership_uses_equality_and_sets_for_long_lists() {
    let short = "{Key: port, Condition: IsIn, Values: [53, 5353]}";
    check(
        short,
        &[
            (json!({"port": 53}), true),
            (json!({"port": "53"}), false),
            (json!({}), false),
        ],
    );
    let not_in = "{Key: user, Condition: IsNotIn, Values: [PANTHER_READONLY, PANTHER_ADMIN]}";
    check(
        not_in,
        &[
            (json!({"Anything": 1}), true),
            (json!({"user": "PANTHER_ADMIN"}), false),
        ],
    );
    let long = format!(
        "{{Key: v, Condition: IsIn, Values: [{}, 7, true]}}",
        (0..20)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    check(
        &long,
        &[
            (json!({"v": "s19"}), true),
            (json!({"v": "s20"}), false),
            (json!({"v": 7.0}), true),
            (json!({"v": true}), true),
            (json!({"v": ["s1"]}), false),
        ],
    );
    let folded = "{Key: v, Condition: IIsIn, Values: [Admin, Owner, 3]}";
    check(
        folded,
        &[
            (json!({"v": "OWNER"}), true),
            (json!({"v": 3}), true),
            (json!({"v": "x"}), false),
        ],
    );
    assert!(holds(
        "{Key: v, Condition: IIsNotIn, Values: [Admin]}",
        &json!({"v": "user"})
    ));
}

#[test]
fn existence_and_null_conditions_distinguish_missing_null_and_empty() {
    let events = [
        json!({}),
        json!({"v": null}),
        json!({"v": ""}),
        json!({"v": []}),
        json!({"v": {}}),
        json!({"v": false}),
        json!({"v": 0}),
        json!({"v": "x"}),
    ];
    let table = [
        ("Exists", [false, true, true, true, true, true, true, true]),
        (
            "DoesNotExist",
            [true, false, false, false, false, false, false, false],
        ),
        (
            "IsNull",
            [true, true, false, false, false, false, false, false],
        ),
        (
            "IsNotNull",
            [false, false, true, true, true, true, true, true],
        ),
        (
            "IsNullOrEmpty",
            [true, true, true, true, true, false, false, false],
        ),
        (
            "IsNotNullOrEmpty",
            [false, false, false, false, false, true, true, true],
        ),
    ];
    for (condition, expected) in table {
        let expression = format!("{{Key: v, Condition: {condition}}}");
        for (event, expected) in events.iter().zip(expected) {
            assert_eq!(
                holds(&expression, event),
                expected,
                "{condition} on {event}"
            );
        }
    }
}

#[test]
fn list_comprehensions_quantify_over_elements_with_relative_keys() {
    let event = json!({"deltas": [
        {"action": "ADD", "member": "allUsers"},
        {"action": "REMOVE", "member": "bob"},
        {"action": "ADD", "member": "carol"},
    ]});
    let body = "Expressions: [{Key: action, Condition: Equals, Value: ADD}]";
    let quantified = |q: &str| format!("{{Key: deltas, Condition: {q}, {body}}}");
    assert!(holds(&quantified("AnyElement"), &event));
    assert!(!holds(&quantified("AllElements"), &event));
    assert!(!holds(&quantified("NoElement"), &event));
    assert!(!holds(&quantified("OnlyOneElement"), &event));
    let member = "{Key: deltas, Condition: OnlyOneElement, Expressions: [{Key: member, Condition: Equals, Value: allUsers}]}";
    assert!(holds(member, &event));
    for (q, on_missing, on_empty) in [
        ("AnyElement", false, false),
        ("AllElements", false, true),
        ("NoElement", true, true),
        ("OnlyOneElement", false, false),
    ] {
        assert_eq!(
            holds(&quantified(q), &json!({})),
            on_missing,
            "{q} on a missing key"
        );
        assert_eq!(
            holds(&quantified(q), &json!({"deltas": "x"})),
            on_missing,
            "{q} on a string"
        );
        assert_eq!(
            holds(&quantified(q), &json!({"deltas": []})),
            on_empty,
            "{q} on []"
        );
    }
    let nested = "{DeepKey: [status, details], Condition: AnyElement, Expressions: [{Key: violations, Condition: AnyElement, Expressions: [{Key: type, Condition: Equals, Value: VPC_SERVICE_CONTROLS}]}]}";
    assert!(holds(
        nested,
        &json!({"status": {"details": [{"violations": [{"type": "VPC_SERVICE_CONTROLS"}]}]}})
    ));
    assert!(!holds(
        nested,
        &json!({"status": {"details": [{"violations": [{"type": "OTHER"}]}]}})
    ));
}

#[test]
fn absolute_conditions_and_combinators() {
    assert!(holds("{Condition: AlwaysTrue}", &json!({})));
    assert!(!holds("{Condition: AlwaysFalse}", &json!({})));
    let t = "{Condition: AlwaysTrue}";
    let f = "{Condition: AlwaysFalse}";
    let cases = [
        ("All", vec![t, t], true),
        ("All", vec![t, f], false),
        ("All", vec![], true),
        ("Any", vec![f, t], true),
        ("Any", vec![f, f], false),
        ("Any", vec![], false),
        ("OnlyOne", vec![f, t, f], true),
        ("OnlyOne", vec![t, t], false),
        ("OnlyOne", vec![f], false),
        ("None", vec![f, f], true),
        ("None", vec![f, t], false),
    ];
    for (combinator, items, expected) in cases {
        let expression = format!("{{{combinator}: [{}]}}", items.join(", "));
        assert_eq!(holds(&expression, &json!({})), expected, "{expression}");
    }
    let nested = "{Any: [{All: [{Key: a, Condition: Equals, Value: 1}, {Key: b, Condition: Equals, Value: 2}]}, {None: [{Key: c, Condition: Exists}]}]}";
    check(
        nested,
        &[
            (json!({"a": 1, "b": 2, "c": 0}), true),
            (json!({"a": 1, "c": 0}), false),
            (json!({"a": 1}), true),
        ],
    );
}

#[test]
fn multi_key_comparisons_compare_two_keys() {
    let ne =
        "{Condition: DoesNotEqual, Values: [{DeepKey: [p, OLD_VALUE]}, {DeepKey: [p, NEW_VALUE]}]}";
    check(
        ne,
        &[
            (json!({"p": {"OLD_VALUE": "2", "NEW_VALUE": "3"}}), true),
            (json!({"p": {"OLD_VALUE": "2", "NEW_VALUE": "2"}}), false),
            (json!({"p": {"old_value": ["a"], "new_value": ["b"]}}), true),
        ],
    );
    let gt = "{Condition: IsGreaterThan, Values: [{KeyPath: a}, {KeyPath: b}]}";
    check(
        gt,
        &[
            (json!({"a": 3, "b": 2}), true),
            (json!({"a": 2, "b": 2}), false),
            (json!({"a": 3}), false),
        ],
    );
    let eq = "{Condition: Equals, Values: [{KeyPath: a.x}, {Key: b}]}";
    check(
        eq,
        &[
            (json!({"a": {"x": [1, 2]}, "b": [1.0, 2]}), true),
            (json!({}), false),
        ],
    );
    assert!(holds(
        "{Condition: IEquals, Values: [{Key: a}, {Key: b}]}",
        &json!({"a": "Alice", "b": "ALICE"})
    ));
    assert!(holds(
        "{Condition: Has, Values: [{Key: list}, {Key: item}]}",
        &json!({"list": ["x", "y"], "item": "y"})
    ));
    assert!(holds(
        "{Condition: IsIn, Values: [{Key: item}, {Key: list}]}",
        &json!({"list": ["x", "y"], "item": "y"})
    ));
    assert!(holds(
        "{Condition: StartsWith, Values: [{Key: email}, {Key: user}]}",
        &json!({"email": "bob@example.com", "user": "bob"})
    ));
}

#[test]
fn keys_match_case_insensitively_through_every_specifier() {
    let event = json!({"protoPayload": {"request": {"enableFlowLogs": false}}, "eventtype": "x"});
    assert!(holds(
        "{DeepKey: [protoPayload, request, enableFlowlogs], Condition: Equals, Value: false}",
        &event
    ));
    assert!(holds(
        "{KeyPath: PROTOPAYLOAD.request.enableflowlogs, Condition: Exists}",
        &event
    ));
    assert!(holds(
        "{Key: eventType, Condition: Equals, Value: x}",
        &event
    ));
    assert!(holds(
        "{Key: a.b, Condition: Equals, Value: 1}",
        &json!({"a.b": 1})
    ));
    assert!(holds(
        "{DeepKey: [sourceIPs, 0], Condition: IsIPAddressPublic}",
        &json!({"sourceIPs": ["8.8.8.8"]})
    ));
}

#[test]
fn key_path_wildcards_filters_and_indexes() {
    let event = json!({"target": [
        {"type": "User", "alternateId": "alice@example.com"},
        {"type": "UserGroup", "displayName": "Bypass MFA Group"},
    ]});
    assert!(holds(
        "{KeyPath: 'target[*].type', Condition: Equals, Value: UserGroup}",
        &event
    ));
    assert!(!holds(
        "{KeyPath: 'target[*].type', Condition: DoesNotEqual, Value: UserGroup}",
        &event
    ));
    assert!(holds(
        "{KeyPath: 'target[*].type', Condition: DoesNotEqual, Value: AppInstance}",
        &event
    ));
    assert!(holds(
        "{KeyPath: 'target[1].displayName', Condition: StartsWith, Value: Bypass}",
        &event
    ));
    assert!(holds(
        "{KeyPath: 'target[-1].type', Condition: Equals, Value: UserGroup}",
        &event
    ));
    assert!(holds(
        "{KeyPath: 'target[?type==User].alternateId', Condition: EndsWith, Value: '@example.com'}",
        &event
    ));
    assert!(!holds(
        "{KeyPath: 'target[*].nothing', Condition: Exists}",
        &event
    ));
    assert!(holds(
        "{KeyPath: 'target[*].nothing', Condition: IsNull}",
        &event
    ));
    assert!(holds(
        "{KeyPath: 'target[5]', Condition: DoesNotExist}",
        &event
    ));
}

#[test]
fn enrichment_reads_the_lookup_result_from_p_enrichment() {
    let expression = "{Enrichment: {Table: ipinfo_location, Selector: srcAddr, FieldPath: city}, Condition: Equals, Value: Idaho Falls}";
    let event = json!({"p_enrichment": {"ipinfo_location": {"srcAddr": {"city": "Idaho Falls"}}}});
    assert!(holds(expression, &event));
    assert!(!holds(expression, &json!({"srcAddr": "1.2.3.4"})));
}

#[test]
fn the_regex_extension_matches_strings() {
    let expression = "{KeyPath: debugContext.debugData.privilegeGranted, Condition: WardenMatchesRegex, Value: '[aA]dministrator'}";
    let event = |p: &str| json!({"debugContext": {"debugData": {"privilegeGranted": p}}});
    assert!(holds(expression, &event("Organization administrator")));
    assert!(!holds(expression, &event("Help desk viewer")));
    assert!(!holds(expression, &json!({})));
    assert!(holds(
        "{Key: v, Condition: WardenDoesNotMatchRegex, Value: '^\\d+$'}",
        &json!({"v": "12a"})
    ));
}

#[test]
fn verdict_is_inline_filters_and_detection() {
    let rule = rule_with(
        "InlineFilters:\n  - {KeyPath: actionName, Condition: Equals, Value: Beans}\n\
         Detection:\n  - {Key: userAgent, Condition: Equals, Value: Max}\n",
    );
    assert!(rule.matches(&json!({"userAgent": "Max", "actionName": "Beans"})));
    assert!(!rule.matches(&json!({"userAgent": "Max"})));
    assert!(!rule.matches(&json!({"userAgent": "John", "actionName": "Beans"})));
    let failure = rule.explain(&json!({"userAgent": "Max"})).unwrap_err();
    assert_eq!(failure.section.to_string(), "InlineFilters");
    assert_eq!(failure.found.as_deref(), Some("`actionName` is missing"));
}

#[test]
fn alert_functions_follow_panthers_fallbacks() {
    let bare = rule_with("Detection:\n  - {Condition: AlwaysTrue}\n");
    let event = json!({"user": "alice", "n": 3});
    assert_eq!(bare.title(&event), "Test.Rule");
    assert_eq!(bare.dedup(&event), "defaultDedupString:Test.Rule");
    assert_eq!(bare.severity_for(&event), Severity::Low);
    assert!(bare.alert_context(&event).is_empty());
    let named = rule_with("DisplayName: Nice name\nDetection:\n  - {Condition: AlwaysTrue}\n");
    assert_eq!(named.title(&event), "Nice name");
    assert_eq!(named.dedup(&event), "defaultDedupString:Test.Rule");

    let full = rule_with(
        "Detection:\n  - {Condition: AlwaysTrue}\n\
         AlertTitle: '{user} did {n} things'\n\
         GroupBy:\n  - {Key: user}\n  - {KeyPath: missing.key}\n\
         AlertContext:\n  - {KeyName: who, KeyValue: {Key: USER}}\n  - {KeyName: gone, KeyValue: {KeyPath: a.b}}\n\
         DynamicSeverities:\n\
         \x20 - {ChangeTo: DEFAULT, Conditions: [{Key: n, Condition: Equals, Value: 0}]}\n\
         \x20 - {ChangeTo: critical, Conditions: [{Key: n, Condition: IsGreaterThan, Value: 2}]}\n\
         \x20 - {ChangeTo: High, Conditions: [{Condition: AlwaysTrue}]}\n",
    );
    assert_eq!(full.title(&event), "alice did 3 things");
    assert_eq!(full.dedup(&event), "alice:<unknown>");
    assert_eq!(full.severity_for(&event), Severity::Critical);
    assert_eq!(full.severity_for(&json!({"n": 1})), Severity::High);
    assert_eq!(full.severity_for(&json!({"n": 0})), Severity::Low);
    assert_eq!(
        Value::Object(full.alert_context(&event)),
        json!({"who": "alice", "gone": null})
    );
    let titled = rule_with("Detection:\n  - {Condition: AlwaysTrue}\nAlertTitle: 'Hello {user}'\n");
    assert_eq!(titled.dedup(&event), "Hello alice");
}
