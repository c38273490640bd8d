//! Keys: whether anything is there (missing, null, empty), comparisons between two keys,
//! case-insensitive matching through every specifier, KeyPath wildcards, filters and indexes,
//! and enrichment lookups.

use super::{check, holds};
use serde_json::json;

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
