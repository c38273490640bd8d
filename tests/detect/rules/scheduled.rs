//! Scheduled queries and rules: the shipped "low and slow" pair end to end (INFO rule matches →
//! `WardenQuery` rows → scheduled rule), and invalid query files through the CLI.

use super::{stdout, warden};

use jiff::Timestamp;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use warden::detect::load::{self, Loaded};
use warden::detect::normalize::{normalize, LogType};
use warden::detect::testing;
use warden::detect::Rule;

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
const QUERY: &str = "Okta Bypass MFA Group adds in four weeks";

fn shipped() -> Loaded {
    load::load(&[PathBuf::from(SHIPPED)]).expect("reads the shipped rules")
}

fn rule<'l>(loaded: &'l Loaded, id: &str) -> &'l Rule {
    &loaded
        .rules
        .iter()
        .find(|r| r.rule.id == id)
        .unwrap_or_else(|| panic!("{id} is shipped"))
        .rule
}

#[test]
fn shipped_rules_and_their_scheduled_query_pass() {
    let loaded = shipped();
    let invalid: Vec<_> = loaded.invalid_files().collect();
    assert!(invalid.is_empty(), "{invalid:#?}");
    let (_, summary) = testing::run_all(&loaded);
    assert_eq!(summary.failed, 0);
    assert_eq!(summary.queries, 1);
    assert_eq!(loaded.queries[0].query.name, QUERY);

    let output = warden(&["rules", "test", SHIPPED], None);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    let expected = format!(
        "{} rules, {} tests passed, 0 failed, 0 unsupported, 1 scheduled query\n",
        summary.rules, summary.passed
    );
    assert_eq!(out, expected);

    // The rule filter keeps the queries the remaining rules read.
    let last_line = |rule: &str| {
        let out = stdout(&warden(&["rules", "test", "--rule", rule, SHIPPED], None));
        out.lines().last().unwrap_or_default().to_owned()
    };
    assert_eq!(
        last_line("Okta.BypassMFAGroup.UserAdded"),
        "1 rule, 5 tests passed, 0 failed, 0 unsupported"
    );
    assert_eq!(
        last_line("Okta.BypassMFAGroup.RepeatedAddsScheduled"),
        "1 rule, 3 tests passed, 0 failed, 0 unsupported, 1 scheduled query"
    );
}

#[test]
fn the_shipped_scheduled_rule_is_disabled_and_names_the_shipped_query() {
    let loaded = shipped();
    let scheduled = rule(&loaded, "Okta.BypassMFAGroup.RepeatedAddsScheduled");
    // Disabled beside the enabled threshold rule, so users get one HIGH alert, not two.
    assert!(!scheduled.enabled);
    assert!(rule(&loaded, "Okta.BypassMFAGroup.RepeatedAdds").enabled);
    let names: Vec<&str> = scheduled
        .scheduled_queries
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(names, [QUERY]);
    let query = &loaded.queries[0].query;
    assert!(query.enabled);
    assert_eq!(query.query.rule_ids(), ["Okta.BypassMFAGroup.UserAdded"]);
}

/// An Okta add of `user` to `group` at `published`, normalized as the detection stage does.
fn okta_add(published: &str, user: &str, name: &str, group: &str) -> Value {
    let mut event = json!({
        "uuid": format!("{user}-{published}"),
        "published": published,
        "eventType": "group.user_membership.add",
        "outcome": {"result": "SUCCESS"},
        "actor": {"alternateId": "it.admin@example.com", "displayName": "IT Admin", "type": "User"},
        "target": [
            {"alternateId": user, "displayName": name, "type": "User"},
            {"alternateId": "unknown", "displayName": group, "type": "UserGroup"},
        ],
    });
    let parse_time: Timestamp = published.parse().unwrap();
    normalize(&mut event, &LogType::OktaSystemLog, parse_time, "row").unwrap();
    event
}

#[test]
fn the_low_and_slow_scenario_alerts_on_the_third_add_in_four_weeks() {
    let loaded = shipped();
    let info = rule(&loaded, "Okta.BypassMFAGroup.UserAdded");
    let scheduled = rule(&loaded, "Okta.BypassMFAGroup.RepeatedAddsScheduled");
    let query = &loaded.queries[0].query;
    let now: Timestamp = "2024-06-01T00:00:00Z".parse().unwrap();
    let bypass = "Bypass MFA Group";
    let events = [
        // Five weeks ago: outside the window.
        okta_add("2024-04-27T09:00:00Z", "alice@example.com", "Alice", bypass),
        okta_add("2024-05-10T09:00:00Z", "alice@example.com", "Alice", bypass),
        okta_add("2024-05-20T09:00:00Z", "alice@example.com", "Alice", bypass),
        okta_add(
            "2024-05-31T09:00:00Z",
            "alice@example.com",
            "Alice Example",
            bypass,
        ),
        okta_add("2024-05-10T09:00:00Z", "bob@example.com", "Bob", bypass),
        okta_add("2024-05-31T09:00:00Z", "bob@example.com", "Bob", bypass),
        // Another group: no INFO match, so never stored.
        okta_add(
            "2024-05-30T09:00:00Z",
            "bob@example.com",
            "Bob",
            "Engineering",
        ),
    ];
    // The INFO rule's matches, labelled as the match store keeps them.
    let stored: Vec<Value> = events
        .into_iter()
        .filter(|event| info.matches(event))
        .map(|mut event| {
            event["p_rule_id"] = json!(info.id);
            event
        })
        .collect();
    assert_eq!(stored.len(), 6);

    let rows = query.query.rows(&stored, now);
    assert_eq!(
        rows,
        [
            json!({"user": "alice@example.com", "user_display_name": "Alice Example", "adds": 3,
                   "first_match": "2024-05-10T09:00:00Z", "last_match": "2024-05-31T09:00:00Z"}),
            json!({"user": "bob@example.com", "user_display_name": "Bob", "adds": 2,
                   "first_match": "2024-05-10T09:00:00Z", "last_match": "2024-05-31T09:00:00Z"}),
        ]
    );
    let alerts: Vec<&Value> = rows.iter().filter(|row| scheduled.matches(*row)).collect();
    assert_eq!(alerts.len(), 1);
    let alice = alerts[0];
    assert_eq!(
        scheduled.title(alice),
        "Alice Example was added to the Bypass MFA group 3 times in four weeks"
    );
    assert_eq!(scheduled.dedup(alice), "alice@example.com");
    assert_eq!(scheduled.severity_for(alice).as_str(), "HIGH");
    assert_eq!(
        scheduled.alert_context(alice)["first_match"],
        "2024-05-10T09:00:00Z"
    );

    // The next hourly run; a week later the first add has left the window.
    let next = query.schedule.next_after(now);
    assert_eq!(next.to_string(), "2024-06-01T01:00:00Z");
    let later: Timestamp = "2024-06-08T00:00:00Z".parse().unwrap();
    let rows = query.query.rows(&stored, later);
    assert!(rows.iter().all(|row| !scheduled.matches(row)), "{rows:#?}");
}

#[test]
fn disabled_files_may_name_what_is_not_loaded() {
    let dir = PathBuf::from(format!("{}/scheduled_disabled", super::FIXTURES));
    let loaded = load::load(&[dir]).expect("reads the fixtures");
    let invalid: Vec<_> = loaded.invalid_files().collect();
    assert!(invalid.is_empty(), "{invalid:#?}");
    assert_eq!((loaded.rules.len(), loaded.queries.len()), (1, 1));
}

#[test]
fn invalid_scheduled_queries_exit_one_with_positions_and_codes() {
    let dir = format!("{}/scheduled", super::FIXTURES);
    let expected_path = Path::new(&dir).join("output.expected");
    let output = warden(&["rules", "test", &dir], None);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&expected_path, &out).expect("writes golden");
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).expect("golden output");
    assert_eq!(out, expected);
}

mod fuzz {
    use proptest::prelude::*;

    use crate::mutate::mutate;
    use serde_json::json;
    use warden::detect::scheduled::{check_scheduled_query, ScheduledQueryFile};

    /// A query that uses every `WardenQuery` key.
    const RICH: &str = r#"AnalysisType: scheduled_query
QueryName: Fuzz rich query
Enabled: true
Schedule: {CronExpression: "*/15 9-17 1,15 * 1-5", TimeoutMinutes: 1}
WardenQuery:
  RuleIDs: [Fuzz.Rule]
  LookbackMinutes: 40320
  Where:
    - {KeyPath: eventType, Condition: StartsWith, Value: group.}
  GroupBy:
    user: "target[?type==User].alternateId"
    kind: {DeepKey: [target, 0, type]}
  Latest:
    name: "target[*].displayName"
  CountAs: adds
"#;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn mutated_queries_never_panic(edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..12)) {
            let source = mutate(RICH, &edits);
            match check_scheduled_query(&source) {
                Ok(ScheduledQueryFile::Query(query)) => {
                    let now = "2024-06-01T00:00:00Z".parse().unwrap();
                    let event = json!({"p_rule_id": "Fuzz.Rule", "p_event_time": "2024-05-31 00:00:00.000000000",
                                       "eventType": "group.x", "target": [{"type": "User"}]});
                    let _ = (query.query.rows([&event], now), query.schedule.next_after(now));
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
    }
}
