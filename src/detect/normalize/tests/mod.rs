//! Normalisation of Okta and generic JSON events.

use super::*;
use jiff::tz::Offset;
use okta_events::{BYPASS_MFA, SEED, SESSION_START};
use serde_json::json;

mod helpers;
mod okta_events;

const ROW_ID: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

fn parse_time() -> Timestamp {
    "2024-01-02T03:04:05.123456789Z".parse().unwrap()
}

const PARSE_TIME_TEXT: &str = "2024-01-02 03:04:05.123456789";

fn okta(text: &str) -> Value {
    let mut event: Value = serde_json::from_str(text).unwrap();
    normalize(&mut event, &LogType::OktaSystemLog, parse_time(), ROW_ID).unwrap();
    event
}

fn generic(mut event: Value) -> Value {
    let log_type = LogType::parse("Custom.Audit");
    normalize(&mut event, &log_type, parse_time(), ROW_ID).unwrap();
    event
}

fn strings(event: &Value, key: &str) -> Vec<String> {
    event[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} missing"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_seed_event_gets_the_standard_fields_and_okta_indicators() {
    let event = okta(SEED);
    assert_eq!(event["p_log_type"], "Okta.SystemLog");
    assert_eq!(event["p_row_id"], ROW_ID);
    assert_eq!(event["p_parse_time"], PARSE_TIME_TEXT);
    assert_eq!(event["p_event_time"], "2020-11-25 21:27:03.496000000");
    assert_eq!(strings(&event, "p_any_ip_addresses"), ["194.88.246.242"]);
    assert_eq!(
        strings(&event, "p_any_emails"),
        ["jack.naglieri@runpanther.io", "thomaskinsella@tines.io"]
    );
    assert_eq!(
        strings(&event, "p_any_usernames"),
        ["jack.naglieri@runpanther.io", "thomaskinsella@tines.io"]
    );
    assert_eq!(strings(&event, "p_any_actor_ids"), ["00uu1uuuuIlllaaaa356"]);
    // `securityContext` is `{}`: no domain, and the empty array is omitted.
    assert!(event.get("p_any_domain_names").is_none());
    // The event's own fields are untouched.
    assert_eq!(event["eventType"], "user.account.privilege.grant");
}

#[test]
fn published_in_panthers_form_and_in_rfc_3339_give_the_same_event_time() {
    let mut rfc = serde_json::from_str::<Value>(SEED).unwrap();
    rfc["published"] = json!("2020-11-25T21:27:03.496Z");
    let rfc = okta(&rfc.to_string());
    assert_eq!(rfc["p_event_time"], okta(SEED)["p_event_time"]);
    assert_eq!(
        okta(SESSION_START)["p_event_time"],
        "2020-05-01 10:20:22.243000000"
    );
}

#[test]
fn published_with_an_offset_is_converted_to_utc() {
    let mut event = serde_json::from_str::<Value>(SESSION_START).unwrap();
    event["published"] = json!("2020-05-01T12:20:22.243+02:00");
    assert_eq!(
        okta(&event.to_string())["p_event_time"],
        "2020-05-01 10:20:22.243000000"
    );
}

#[test]
fn a_missing_or_unparseable_published_falls_back_to_the_parse_time() {
    for published in [json!("yesterday"), json!(null), json!(true)] {
        let mut event = serde_json::from_str::<Value>(SEED).unwrap();
        event["published"] = published;
        assert_eq!(okta(&event.to_string())["p_event_time"], PARSE_TIME_TEXT);
    }
    let mut event = serde_json::from_str::<Value>(SEED).unwrap();
    event.as_object_mut().unwrap().remove("published");
    assert_eq!(okta(&event.to_string())["p_event_time"], PARSE_TIME_TEXT);
}

#[test]
fn a_null_target_is_no_target_and_duplicate_ips_are_listed_once() {
    let event = okta(SESSION_START);
    assert_eq!(event["target"], Value::Null);
    assert_eq!(strings(&event, "p_any_ip_addresses"), ["1.1.1.1"]);
    assert_eq!(strings(&event, "p_any_emails"), ["foo@bar.com"]);
    assert_eq!(strings(&event, "p_any_usernames"), ["foo@bar.com"]);
    assert_eq!(strings(&event, "p_any_actor_ids"), ["00u3mo2ci0RuzhCQe357"]);
    // `securityContext.domain` is `null`.
    assert!(event.get("p_any_domain_names").is_none());
}

#[test]
fn only_user_targets_are_usernames_and_unknown_is_never_an_indicator() {
    let event = okta(BYPASS_MFA);
    assert_eq!(
        strings(&event, "p_any_usernames"),
        ["alice@example.com", "it.admin@example.com"]
    );
    assert_eq!(
        strings(&event, "p_any_emails"),
        ["alice@example.com", "it.admin@example.com"]
    );
    assert_eq!(strings(&event, "p_any_ip_addresses"), ["198.51.100.23"]);
}

#[test]
fn only_valid_ips_are_kept_in_canonical_form_and_sorted() {
    let mut event = serde_json::from_str::<Value>(SEED).unwrap();
    event["client"]["ipAddress"] = json!("10.0.0.1");
    event["request"] = json!({"ipChain": [
        {"ip": "2001:DB8:0:0:0:0:0:1"},
        {"ip": "not-an-ip"},
        {"ip": null},
        "garbage",
        {"ip": "10.0.0.1"},
        {"ip": "1.2.3.4"}
    ]});
    assert_eq!(
        strings(&okta(&event.to_string()), "p_any_ip_addresses"),
        ["1.2.3.4", "10.0.0.1", "2001:db8::1"]
    );
}

#[test]
fn an_alternate_id_that_is_not_an_email_is_only_a_username() {
    let mut event = serde_json::from_str::<Value>(SEED).unwrap();
    event["actor"]["alternateId"] = json!("svc-okta-sync");
    event["target"] = json!([{"id": "0oa1", "type": "AppInstance", "alternateId": "Salesforce"}]);
    let event = okta(&event.to_string());
    assert!(event.get("p_any_emails").is_none());
    assert_eq!(strings(&event, "p_any_usernames"), ["svc-okta-sync"]);
}

#[test]
fn the_security_context_domain_is_a_lower_cased_domain_name() {
    let mut event = serde_json::from_str::<Value>(SEED).unwrap();
    event["securityContext"] = json!({"domain": "Comcast.NET."});
    let normalized = okta(&event.to_string());
    assert_eq!(strings(&normalized, "p_any_domain_names"), ["comcast.net"]);

    event["securityContext"] = json!({"domain": "."});
    assert!(okta(&event.to_string()).get("p_any_domain_names").is_none());
}

#[test]
fn okta_fields_are_found_whatever_the_case_of_their_keys() {
    let event = okta(
        r#"{"Published": "2020-05-01T10:20:22Z",
            "CLIENT": {"ipaddress": "8.8.8.8"},
            "actor": {"ID": "00u1", "alternateid": "a@b.io"}}"#,
    );
    assert_eq!(event["p_event_time"], "2020-05-01 10:20:22.000000000");
    assert_eq!(strings(&event, "p_any_ip_addresses"), ["8.8.8.8"]);
    assert_eq!(strings(&event, "p_any_actor_ids"), ["00u1"]);
    assert_eq!(strings(&event, "p_any_emails"), ["a@b.io"]);
}

#[test]
fn generic_json_reads_its_event_time_from_the_usual_fields() {
    let cases = [
        (
            json!({"time": "2021-03-04T05:06:07.5+01:00"}),
            "2021-03-04 04:06:07.500000000",
        ),
        (
            json!({"timestamp": 1_614_834_367}),
            "2021-03-04 05:06:07.000000000",
        ),
        (
            json!({"@timestamp": 1_614_834_367_250_i64}),
            "2021-03-04 05:06:07.250000000",
        ),
        (
            json!({"eventTime": "2021-03-04 05:06:07.000000001"}),
            "2021-03-04 05:06:07.000000001",
        ),
        (
            json!({"timestamp": 1_614_834_367.5}),
            "2021-03-04 05:06:07.500000000",
        ),
        (
            json!({"timestamp": "1614834367"}),
            "2021-03-04 05:06:07.000000000",
        ),
    ];
    for (event, expected) in cases {
        let normalized = generic(event.clone());
        assert_eq!(normalized["p_event_time"], expected, "{event}");
    }
}

#[test]
fn generic_json_prefers_time_and_skips_fields_that_do_not_parse() {
    let event = generic(json!({
        "time": "not a time",
        "timestamp": "2021-03-04T05:06:07Z",
        "eventTime": "2022-01-01T00:00:00Z"
    }));
    assert_eq!(event["p_event_time"], "2021-03-04 05:06:07.000000000");
}

#[test]
fn generic_json_without_a_usable_time_uses_the_parse_time() {
    for event in [
        json!({}),
        json!({"time": "soon"}),
        json!({"timestamp": [1]}),
    ] {
        assert_eq!(generic(event)["p_event_time"], PARSE_TIME_TEXT);
    }
}

#[test]
fn generic_json_gets_its_own_log_type_and_no_indicators() {
    let event = generic(serde_json::from_str(SEED).unwrap());
    assert_eq!(event["p_log_type"], "Custom.Audit");
    assert_eq!(event["p_row_id"], ROW_ID);
    assert_eq!(event["p_parse_time"], PARSE_TIME_TEXT);
    assert!(event
        .as_object()
        .unwrap()
        .keys()
        .all(|key| !key.starts_with("p_any_")));
}

#[test]
fn an_event_that_is_not_an_object_is_an_error_and_left_unchanged() {
    for value in [json!([{"a": 1}]), json!("text"), json!(null), json!(42)] {
        let mut event = value.clone();
        let result = normalize(&mut event, &LogType::OktaSystemLog, parse_time(), ROW_ID);
        assert_eq!(result, Err(Error::NotAnObject));
        assert_eq!(event, value);
    }
}

#[test]
fn a_forged_log_type_and_other_p_fields_are_overwritten_or_removed() {
    let mut event = serde_json::from_str::<Value>(SESSION_START).unwrap();
    let object = event.as_object_mut().unwrap();
    object.insert("p_log_type".into(), json!("AWS.CloudTrail"));
    object.insert("p_row_id".into(), json!("forged"));
    object.insert(
        "p_event_time".into(),
        json!("1999-01-01 00:00:00.000000000"),
    );
    object.insert("P_ANY_DOMAIN_NAMES".into(), json!(["evil.example"]));
    object.insert("p_enrichment".into(), json!({"table": {}}));
    let event = okta(&event.to_string());
    assert_eq!(event["p_log_type"], "Okta.SystemLog");
    assert_eq!(event["p_row_id"], ROW_ID);
    assert_eq!(event["p_event_time"], "2020-05-01 10:20:22.243000000");
    assert!(event.get("P_ANY_DOMAIN_NAMES").is_none());
    assert!(event.get("p_enrichment").is_none());
}

#[test]
fn log_type_names_round_trip() {
    assert_eq!(LogType::parse("Okta.SystemLog"), LogType::OktaSystemLog);
    assert_eq!(LogType::OktaSystemLog.name(), "Okta.SystemLog");
    assert_eq!(
        LogType::parse("okta.systemlog"),
        LogType::Json("okta.systemlog".into())
    );
    assert_eq!(LogType::parse("Custom.Audit").name(), "Custom.Audit");
}

#[test]
fn timestamps_are_formatted_with_nine_fractional_digits_in_utc() {
    let at: Timestamp = "2006-01-02T15:04:05-07:00".parse().unwrap();
    assert_eq!(format_timestamp(at), "2006-01-02 22:04:05.000000000");
    for at in [
        Timestamp::MIN,
        Timestamp::MAX,
        Timestamp::UNIX_EPOCH,
        parse_time(),
    ] {
        let t = Offset::UTC.to_datetime(at);
        let expected = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:09}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.subsec_nanosecond()
        );
        assert_eq!(format_timestamp(at), expected);
    }
}

#[test]
fn row_ids_are_distinct_uuid_v7s() {
    let ids: Vec<String> = (0..1000).map(|_| new_row_id().to_string()).collect();
    for id in &ids {
        let uuid = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        assert_eq!(uuid.simple().to_string(), *id);
    }
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
}
