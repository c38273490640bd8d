//! Conditions on one value: equality, strings, numbers, IP addresses and the regex extension.

use super::{check, holds};
use serde_json::json;

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
