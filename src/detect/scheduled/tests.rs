use super::*;
use crate::diagnostic::Code;
use serde_json::{json, Value};

const HEADER: &str = "AnalysisType: scheduled_query\nQueryName: Q\nEnabled: true\n";

fn query(source: &str) -> ScheduledQuery {
    match check_scheduled_query(source) {
        Ok(ScheduledQueryFile::Query(query)) => *query,
        other => panic!("expected a query, got {other:?}"),
    }
}

fn errors(source: &str) -> Vec<Diagnostic> {
    check_scheduled_query(source).expect_err("invalid")
}

/// A query with `Schedule: {RateMinutes: 60, TimeoutMinutes: 1}` and this `WardenQuery` body.
fn warden_query(body: &str) -> MatchQuery {
    let source =
        format!("{HEADER}Schedule: {{RateMinutes: 60, TimeoutMinutes: 1}}\nWardenQuery:\n{body}");
    query(&source).query
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("an RFC 3339 time")
}

/// A stored match of `rule` at `time` (Panther's form) adding `user` to the Bypass MFA group.
fn add(rule: &str, time: &str, user: &str, name: &str) -> Value {
    json!({
        "p_rule_id": rule,
        "p_event_time": time,
        "eventType": "group.user_membership.add",
        "target": [
            {"type": "UserGroup", "displayName": "Bypass MFA Group"},
            {"type": "User", "alternateId": user, "displayName": name},
        ],
    })
}

const ADDS: &str = "  RuleIDs: [Okta.BypassMFAGroup.UserAdded]\n  LookbackMinutes: 40320\n  \
                    GroupBy:\n    user: \"target[?type==User].alternateId\"\n  \
                    Latest:\n    user_display_name: \"target[?type==User].displayName\"\n  CountAs: adds\n";
const RULE: &str = "Okta.BypassMFAGroup.UserAdded";
const NOW: &str = "2024-06-01T00:00:00Z";

#[test]
fn a_query_reads_its_keys() {
    let q = query(&format!(
        "{HEADER}Description: d\nTags: [Okta]\nSchedule: {{CronExpression: \"0 */4 * * *\", TimeoutMinutes: 5}}\n\
         Query: SELECT 1\nLookback: true\nLookbackWindowSeconds: 3600\n\
         EmailConfig: {{Recipients: [a@example.com], SendEmpty: false}}\nWardenQuery:\n{ADDS}"
    ));
    assert_eq!((q.name.as_str(), q.name_span), ("Q", Span::new(2, 12)));
    assert!(q.enabled);
    assert_eq!(
        (q.description.as_str(), q.tags.as_slice()),
        ("d", &["Okta".to_owned()][..])
    );
    assert_eq!(q.schedule.timeout(), Duration::from_secs(300));
    assert!(matches!(&q.schedule, Schedule::Cron { cron, .. } if cron.as_str() == "0 */4 * * *"));
    assert_eq!(q.query.rule_ids(), [RULE]);
    assert_eq!(q.query.rule_id_spans(), [Span::new(12, 13)]);
    assert_eq!(q.query.lookback(), Duration::from_secs(40320 * 60));
    assert_eq!(
        q.query.columns(),
        [
            "user",
            "user_display_name",
            "adds",
            "first_match",
            "last_match"
        ]
    );
}

#[test]
fn a_rate_schedule_runs_on_multiples_of_its_period_since_the_epoch() {
    let hourly = Schedule::Rate {
        minutes: 60,
        timeout_minutes: 1,
    };
    let next = |after: &str| hourly.next_after(at(after)).to_string();
    assert_eq!(next("2024-05-01T10:00:00Z"), "2024-05-01T11:00:00Z");
    assert_eq!(next("2024-05-01T10:59:59.999Z"), "2024-05-01T11:00:00Z");
    assert_eq!(next("2024-05-01T10:00:00.001Z"), "2024-05-01T11:00:00Z");
    assert_eq!(next("1969-12-31T23:59:59.5Z"), "1970-01-01T00:00:00Z");
    let monthly = Schedule::Rate {
        minutes: 43200,
        timeout_minutes: 1,
    };
    // 30-day periods from 1970-01-01: 2024-05-01 is day 19844, the next multiple of 30 is 19860.
    assert_eq!(
        monthly.next_after(at("2024-05-01T00:00:00Z")).to_string(),
        "2024-05-17T00:00:00Z"
    );
    assert_eq!(hourly.next_after(Timestamp::MAX), Timestamp::MAX);
    assert_eq!(hourly.timeout(), Duration::from_secs(60));
}

#[test]
fn a_cron_schedule_delegates_to_its_expression() {
    let q = query(&format!(
        "{HEADER}Schedule: {{CronExpression: \"0 0 * * 1\", TimeoutMinutes: 1}}\nWardenQuery:\n{ADDS}"
    ));
    assert_eq!(
        q.schedule
            .next_after(at("2024-05-01T00:00:00Z"))
            .to_string(),
        "2024-05-06T00:00:00Z"
    );
}

#[test]
fn rows_count_matches_per_group_with_their_time_bounds() {
    let q = warden_query(ADDS);
    let matches = [
        add(
            RULE,
            "2024-05-20 09:00:00.000000000",
            "bob@example.com",
            "Bob",
        ),
        add(
            RULE,
            "2024-05-10 09:00:00.000000000",
            "alice@example.com",
            "Alice",
        ),
        add(
            RULE,
            "2024-05-30 09:00:00.000000000",
            "alice@example.com",
            "Alice Example",
        ),
        add(RULE, "2024-05-12T09:00:00Z", "alice@example.com", "Alice"),
    ];
    let rows = q.rows(&matches, at(NOW));
    assert_eq!(
        rows,
        [
            json!({"user": "alice@example.com", "user_display_name": "Alice Example", "adds": 3,
                   "first_match": "2024-05-10T09:00:00Z", "last_match": "2024-05-30T09:00:00Z"}),
            json!({"user": "bob@example.com", "user_display_name": "Bob", "adds": 1,
                   "first_match": "2024-05-20T09:00:00Z", "last_match": "2024-05-20T09:00:00Z"}),
        ]
    );
    // Column order is the documented one, whatever the input order.
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "user",
            "user_display_name",
            "adds",
            "first_match",
            "last_match"
        ]
    );
    let mut reversed = matches.clone();
    reversed.reverse();
    assert_eq!(q.rows(&reversed, at(NOW)), rows);
}

#[test]
fn rows_skip_matches_outside_the_lookback_other_rules_and_unreadable_times() {
    let q = warden_query(ADDS);
    let four_weeks_before = "2024-05-04 00:00:00.000000000";
    let matches = [
        add(RULE, four_weeks_before, "alice@example.com", "Alice"),
        add(
            RULE,
            "2024-05-03 23:59:59.999999999",
            "alice@example.com",
            "Alice",
        ),
        add(
            "Okta.Other",
            "2024-05-20 00:00:00.000000000",
            "alice@example.com",
            "Alice",
        ),
        add(RULE, "not a time", "alice@example.com", "Alice"),
        json!({"p_rule_id": RULE, "target": []}),
        json!({"p_event_time": "2024-05-20 00:00:00.000000000"}),
        // After `now` (clock skew): counted, as `p_occurs_since` has no upper bound.
        add(
            RULE,
            "2024-06-01 00:05:00.000000000",
            "alice@example.com",
            "Alice",
        ),
    ];
    let rows = q.rows(&matches, at(NOW));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["adds"], 2);
    assert_eq!(rows[0]["first_match"], "2024-05-04T00:00:00Z");
    assert_eq!(q.since(at(NOW)).to_string(), "2024-05-04T00:00:00Z");
}

#[test]
fn matches_missing_a_group_key_form_one_null_group() {
    let q = warden_query(ADDS);
    let no_user = json!({"p_rule_id": RULE, "p_event_time": "2024-05-20T00:00:00Z", "target": []});
    let null_user = json!({"p_rule_id": RULE, "p_event_time": "2024-05-21T00:00:00Z",
                           "target": [{"type": "User", "alternateId": null}]});
    let alice = add(RULE, "2024-05-22T00:00:00Z", "alice@example.com", "Alice");
    let rows = q.rows([&no_user, &alice, &null_user], at(NOW));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["user"], "alice@example.com");
    assert_eq!(
        rows[1],
        json!({"user": null, "user_display_name": null, "adds": 2,
               "first_match": "2024-05-20T00:00:00Z", "last_match": "2024-05-21T00:00:00Z"})
    );
}

#[test]
fn where_filters_matches_with_simple_detection_expressions() {
    let q = warden_query(
        "  RuleIDs: [A, B]\n  LookbackMinutes: 60\n  Where:\n    - KeyPath: eventType\n      \
         Condition: Equals\n      Value: group.user_membership.add\n  GroupBy:\n    rule: {Key: p_rule_id}\n",
    );
    let time = "2024-05-31T23:30:00Z";
    let matches = [
        add("A", time, "a", "A"),
        add("B", time, "b", "B"),
        add("B", time, "c", "C"),
        json!({"p_rule_id": "A", "p_event_time": time, "eventType": "group.user_membership.remove"}),
    ];
    let rows = q.rows(&matches, at(NOW));
    let counts: Vec<(&Value, &Value)> = rows.iter().map(|r| (&r["rule"], &r["count"])).collect();
    assert_eq!(counts, [(&json!("A"), &json!(1)), (&json!("B"), &json!(2))]);
}

#[test]
fn without_group_by_there_is_one_row_even_with_no_matches() {
    let q = warden_query("  RuleIDs: [A]\n  LookbackMinutes: 1440\n");
    assert_eq!(
        q.rows([], at(NOW)),
        [json!({"count": 0, "first_match": null, "last_match": null})]
    );
    let one = json!({"p_rule_id": "A", "p_event_time": "2024-05-31T12:00:00Z"});
    assert_eq!(q.rows([&one], at(NOW))[0]["count"], 1);
    // With GroupBy, no matches is no rows, as SQL's GROUP BY gives.
    assert!(warden_query(ADDS).rows([], at(NOW)).is_empty());
}

#[test]
fn a_sql_only_query_is_unsupported_by_name() {
    let source = format!(
        "{HEADER}Schedule: {{RateMinutes: 60, TimeoutMinutes: 1}}\nSnowflakeQuery: SELECT 1\n"
    );
    match check_scheduled_query(&source) {
        Ok(ScheduledQueryFile::Unsupported(u)) => {
            assert_eq!((u.id.as_str(), u.id_span), ("Q", Span::new(2, 12)));
            assert_eq!(
                u.to_string(),
                "unsupported: warehouse SQL cannot run in warden; add WardenQuery (Q)"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// `(line, column, code, message)` of each diagnostic.
fn summary(d: &[Diagnostic]) -> Vec<(u32, u32, Code, &str)> {
    d.iter()
        .map(|d| (d.span.line, d.span.column, d.code, d.message.as_str()))
        .collect()
}

#[test]
fn missing_keys_are_reported_at_the_mapping_that_lacks_them() {
    let d = errors("Description: nothing else\n");
    assert_eq!(
        summary(&d),
        [
            (
                1,
                1,
                Code::MissingKey,
                "missing required key `AnalysisType`"
            ),
            (1, 1, Code::MissingKey, "missing required key `Enabled`"),
            (1, 1, Code::MissingKey, "missing required key `QueryName`"),
            (1, 1, Code::MissingKey, "missing required key `Schedule`"),
            (1, 1, Code::MissingKey, "missing required key `WardenQuery`"),
        ]
    );
    assert!(d[4].hint.as_ref().unwrap().contains("not warehouse SQL"));
    let d = errors(&format!(
        "{HEADER}Schedule: {{RateMinutes: 60}}\nWardenQuery:\n  GroupBy: {{}}\n"
    ));
    assert_eq!(
        summary(&d),
        [
            (
                4,
                11,
                Code::MissingKey,
                "missing required key `TimeoutMinutes`"
            ),
            (
                6,
                3,
                Code::MissingKey,
                "missing required key `LookbackMinutes`"
            ),
            (6, 3, Code::MissingKey, "missing required key `RuleIDs`"),
        ]
    );
}

#[test]
fn unknown_keys_get_a_did_you_mean() {
    let d = errors(&format!(
        "{HEADER}Schedul: x\nSchedule: {{RateMinute: 60, TimeoutMinutes: 1}}\nWardenQuery:\n  RuleId: [A]\n  LookbackMinutes: 5\n"
    ));
    let hints: Vec<(u32, u32, &str)> = d
        .iter()
        .filter(|d| d.code == Code::UnknownKey)
        .map(|d| (d.span.line, d.span.column, d.hint.as_deref().unwrap()))
        .collect();
    assert_eq!(
        hints,
        [
            (4, 1, "did you mean `Schedule`?"),
            (5, 12, "did you mean `RateMinutes`?"),
            (7, 3, "did you mean `RuleIDs`?"),
        ]
    );
}

#[test]
fn schedules_follow_panthers_rules() {
    let check = |schedule: &str| {
        let d = errors(&format!(
            "{HEADER}Schedule: {schedule}\nWardenQuery:\n{ADDS}"
        ));
        let first = &d[0];
        (
            first.span.column,
            first.code,
            first.message.clone(),
            first.hint.clone(),
        )
    };
    let (column, code, message, _) = check("{RateMinutes: 1, TimeoutMinutes: 1}");
    assert_eq!(
        (column, code, message.as_str()),
        (25, Code::InvalidOption, "`RateMinutes` must be at least 2")
    );
    let (column, code, message, hint) = check("{RateMinutes: 5, TimeoutMinutes: 10}");
    assert_eq!(
        (column, code, message.as_str()),
        (
            44,
            Code::InvalidValue,
            "`TimeoutMinutes` (10) is longer than `RateMinutes` (5)"
        )
    );
    assert!(hint.unwrap().contains("at least TimeoutMinutes"));
    let (column, code, message, _) =
        check("{CronExpression: \"0 * * * *\", RateMinutes: 60, TimeoutMinutes: 1}");
    assert_eq!(
        (column, code, message.as_str()),
        (
            41,
            Code::KindConflict,
            "a Schedule has both `CronExpression` and `RateMinutes`"
        )
    );
    let (column, code, message, _) = check("{TimeoutMinutes: 1}");
    assert_eq!(
        (column, code, message.as_str()),
        (
            11,
            Code::MissingKey,
            "a Schedule needs `CronExpression` or `RateMinutes`"
        )
    );
    let (_, code, message, _) = check("{RateMinutes: 60, TimeoutMinutes: 0}");
    assert_eq!(
        (code, message.as_str()),
        (Code::InvalidOption, "`TimeoutMinutes` must be at least 1")
    );
    let (_, code, message, _) = check("hourly");
    assert_eq!(
        (code, message.as_str()),
        (
            Code::InvalidValue,
            "`Schedule` must be a mapping, found a string"
        )
    );
}

#[test]
fn a_bad_cron_expression_points_at_the_bad_field() {
    let d = errors(&format!(
        "{HEADER}Schedule:\n  CronExpression: \"0 25 * * *\"\n  TimeoutMinutes: 1\nWardenQuery:\n{ADDS}"
    ));
    assert_eq!(
        summary(&d),
        [(
            5,
            22,
            Code::InvalidValue,
            "invalid CronExpression `0 25 * * *`: 25 is out of range for the hour field (0-23)"
        )]
    );
    let d = errors(&format!(
        "{HEADER}Schedule:\n  CronExpression: 0 0 * * MON\n  TimeoutMinutes: 1\nWardenQuery:\n{ADDS}"
    ));
    assert_eq!((d[0].span.line, d[0].span.column), (5, 27));
    assert!(d[0].hint.as_ref().unwrap().contains("0 (Sunday)"));
}

#[test]
fn warden_query_mistakes_are_reported_with_positions() {
    let d = errors(&format!(
        "{HEADER}Schedule: {{RateMinutes: 60, TimeoutMinutes: 1}}\nWardenQuery:\n  RuleIDs: []\n  LookbackMinutes: 0\n  \
         Where:\n    - {{KeyPath: a, Condition: Equal, Value: 1}}\n  GroupBy:\n    user: \"a[\"\n    first_match: b\n  \
         Latest: [x]\n  CountAs: user\n"
    ));
    assert_eq!(
        summary(&d),
        [
            (6, 12, Code::InvalidValue, "`RuleIDs` is empty"),
            (
                7,
                20,
                Code::InvalidOption,
                "`LookbackMinutes` must be at least 1"
            ),
            (9, 31, Code::InvalidValue, "unknown condition `Equal`"),
            (
                11,
                11,
                Code::InvalidValue,
                "invalid KeyPath `a[`: a `[` is never closed"
            ),
            (
                13,
                11,
                Code::InvalidValue,
                "`Latest` must be a mapping of column names to key paths, found a list"
            ),
        ]
    );
}

#[test]
fn output_columns_must_not_clash() {
    let d = errors(&format!(
        "{HEADER}Schedule: {{RateMinutes: 60, TimeoutMinutes: 1}}\nWardenQuery:\n  RuleIDs: [A]\n  LookbackMinutes: 5\n  \
         GroupBy:\n    user: a\n    first_match: b\n  Latest:\n    user: c\n  CountAs: last_match\n"
    ));
    assert_eq!(
        summary(&d),
        [
            (
                10,
                5,
                Code::InvalidValue,
                "column `first_match` is reserved"
            ),
            (
                12,
                5,
                Code::InvalidValue,
                "column `user` appears twice in the query's rows"
            ),
            (
                13,
                12,
                Code::InvalidValue,
                "column `last_match` is reserved"
            ),
        ]
    );
    assert_eq!(
        d[1].hint.as_deref(),
        Some("it is already a column at 9:5; rename one")
    );
    assert!(d[0].hint.as_ref().unwrap().contains("p_event_time"));
}

#[test]
fn names_and_analysis_types_are_checked() {
    let d = errors(
        "AnalysisType: scheduled_rule\nQueryName: \"a<b\"\nEnabled: true\nSchedule: {RateMinutes: 60, TimeoutMinutes: 1}\nQuery: x\n",
    );
    assert_eq!(
        summary(&d),
        [
            (
                1,
                15,
                Code::InvalidValue,
                "expected `AnalysisType: scheduled_query`, found `scheduled_rule`"
            ),
            (2, 12, Code::InvalidValue, "QueryName `a<b` contains `<`"),
        ]
    );
    let d = errors("- not a mapping\n");
    assert_eq!(
        d[0].message,
        "expected a scheduled query (a mapping), found a list"
    );
}
