//! Conditions over lists and objects: `Has` (Python's `in`), list membership, and list
//! comprehensions over elements.

use super::{check, holds};
use serde_json::json;

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
