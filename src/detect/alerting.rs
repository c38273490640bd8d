//! Panther's alert semantics, pure: dedup windows, threshold, alert ids and the webhook payload
//! (`specs/panther.md` §1 and §2.4).
//!
//! A window is fixed (tumbling) and anchored at its first match, per `(rule, dedup string)`. The
//! alert of a window is created once, by the match that brings its count to the rule's
//! `Threshold`, and delivered once; later matches in the window only update counts.
//!
//! One deliberate difference: Panther anchors windows at processing time, warden at the match's
//! `p_event_time`. In real time the two agree; for `warden replay` of old logs, processing time
//! would fold a month of events into one window. A late event (older than its window's start)
//! joins the open window rather than reopening a closed one.

use super::Severity;
use crate::run::Millis;
use crate::store::{FirstMatch, Merged, NewMatch, Window, WindowPolicy};
use md5::{Digest, Md5};
use serde_json::{Map, Value};

/// Adds one match at `event_time` (processed at `now`) to `window`, opening a new window if there
/// is none or the match falls after the current one. `first` is called only to open a window.
pub fn add_match(
    window: &mut Option<Window>,
    rule_id: &str,
    dedup: &str,
    event_time: Millis,
    now: Millis,
    policy: WindowPolicy,
    first: impl FnOnce() -> FirstMatch,
) -> Merged {
    let opens = window
        .as_ref()
        .is_none_or(|w| event_time >= w.started_at.saturating_add(policy.period));
    if opens {
        let alert_count = window.as_ref().map_or(1, |w| w.alert_count + 1);
        *window = Some(Window {
            alert_count,
            alert_id: alert_id(rule_id, alert_count, dedup),
            event_count: 0,
            started_at: event_time,
            updated_at: now,
            alerted: false,
            first_match: first(),
        });
    }
    let w = window.as_mut().expect("a window was just opened");
    w.event_count += 1;
    w.updated_at = now;
    let creates_alert = !w.alerted && w.event_count >= policy.threshold;
    w.alerted |= creates_alert;
    Merged {
        alert_id: w.alert_id.clone(),
        creates_alert,
    }
}

/// [`add_match`] for a match being recorded: the store's [`MergeMatch`](crate::store::MergeMatch).
/// Only a match that opens a window keeps its generated fields, so they are moved, not copied.
pub fn merge(window: &mut Option<Window>, m: &mut NewMatch, now: Millis) -> Merged {
    add_match(
        window,
        &m.rule_id,
        &m.dedup,
        m.event_time,
        now,
        m.policy,
        || std::mem::take(&mut m.first),
    )
}

/// Panther's alert id: `md5(rule_id + ":" + alertCount + ":" + dedup)`, lowercase hex.
pub fn alert_id(rule_id: &str, alert_count: i64, dedup: &str) -> String {
    let digest = Md5::digest(format!("{rule_id}:{alert_count}:{dedup}").as_bytes());
    crate::hex::hex(&digest)
}

/// `RULE` for streaming rules, `SCHEDULED_RULE` for rules over scheduled queries, `RULE_ERROR`
/// for a rule's errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertType {
    /// A streaming rule.
    Rule,
    /// A scheduled rule.
    ScheduledRule,
    /// A Python rule that raised or ran past its deadline (Panther's rule-error alert).
    RuleError,
}

impl AlertType {
    /// As Panther spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertType::Rule => "RULE",
            AlertType::ScheduledRule => "SCHEDULED_RULE",
            AlertType::RuleError => "RULE_ERROR",
        }
    }
}

/// The rule's fields an alert carries.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo<'a> {
    /// `RuleID`.
    pub id: &'a str,
    /// `DisplayName`.
    pub display_name: Option<&'a str>,
    /// `Description`.
    pub description: &'a str,
    /// `Runbook`.
    pub runbook: &'a str,
    /// `Tags`.
    pub tags: &'a [String],
    /// The rule's version (a digest of its file), if known.
    pub version: Option<&'a str>,
}

/// Panther's Custom Webhook body (`specs/panther.md` §1.3), keys in Panther's order, no `null`
/// arrays or objects. `created_at` is RFC 3339; `link` points at the alert.
pub fn notification(
    rule: RuleInfo<'_>,
    alert_type: AlertType,
    alert_id: &str,
    first: &FirstMatch,
    created_at: &str,
    link: &str,
) -> Value {
    let mut body = Map::new();
    let text = |s: &str| Value::String(s.to_owned());
    body.insert("id".into(), text(rule.id));
    body.insert("createdAt".into(), text(created_at));
    body.insert("severity".into(), text(&first.severity));
    body.insert("type".into(), text(alert_type.as_str()));
    body.insert("link".into(), text(link));
    body.insert("title".into(), text(&format!("New Alert: {}", first.title)));
    body.insert("name".into(), rule.display_name.map_or(Value::Null, text));
    body.insert("alertId".into(), text(alert_id));
    body.insert("alertContext".into(), Value::Object(first.context.clone()));
    body.insert("description".into(), text(rule.description));
    body.insert("runbook".into(), text(rule.runbook));
    body.insert(
        "tags".into(),
        Value::Array(rule.tags.iter().map(|t| text(t)).collect()),
    );
    body.insert("version".into(), rule.version.map_or(Value::Null, text));
    Value::Object(body)
}

/// Parses a stored severity, falling back to `INFO` for text that is not one.
pub fn severity_of(text: &str) -> Severity {
    Severity::parse(text).unwrap_or(Severity::Info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HOUR: Millis = 3_600_000;

    fn first(title: &str) -> FirstMatch {
        FirstMatch {
            title: title.into(),
            severity: "HIGH".into(),
            context: Map::new(),
            log_type: "Okta.SystemLog".into(),
            overrides: Default::default(),
        }
    }

    #[test]
    fn alert_ids_are_pantherss_md5() {
        // specs/panther.md §1.6: md5("Okta.AdminRoleAssigned:1:X777JJ9sssQQHHrrrQTyYQAABBE").
        assert_eq!(
            alert_id("Okta.AdminRoleAssigned", 1, "X777JJ9sssQQHHrrrQTyYQAABBE"),
            "55d84b85814bea7cce6538b87a826028"
        );
    }

    #[test]
    fn one_alert_per_window_with_threshold_one() {
        let policy = WindowPolicy::new(60, 1);
        let mut w = None;
        let a = add_match(&mut w, "R", "d", 0, 0, policy, || first("t1"));
        assert!(a.creates_alert);
        let b = add_match(&mut w, "R", "d", HOUR - 1, 5, policy, || first("t2"));
        assert!(!b.creates_alert);
        assert_eq!(a.alert_id, b.alert_id);
        let window = w.as_ref().unwrap();
        assert_eq!((window.event_count, window.updated_at), (2, 5));
        assert_eq!(
            window.first_match.title, "t1",
            "the first match's fields are kept"
        );
        let c = add_match(&mut w, "R", "d", HOUR, 6, policy, || first("t3"));
        assert!(
            c.creates_alert,
            "a match one period after the start opens a new window"
        );
        assert_ne!(c.alert_id, a.alert_id);
        assert_eq!(c.alert_id, alert_id("R", 2, "d"));
        assert_eq!(w.unwrap().first_match.title, "t3");
    }

    #[test]
    fn the_threshold_creates_the_alert_once_at_the_crossing() {
        let policy = WindowPolicy::new(40_320, 3);
        let mut w = None;
        let day = 24 * HOUR;
        let created: Vec<bool> = [0, 10 * day, 20 * day, 21 * day]
            .into_iter()
            .map(|t| add_match(&mut w, "R", "alice", t, t, policy, || first("x")).creates_alert)
            .collect();
        assert_eq!(created, [false, false, true, false]);
    }

    #[test]
    fn matches_spread_wider_than_the_window_never_reach_the_threshold() {
        let policy = WindowPolicy::new(40_320, 3);
        let mut w = None;
        let day = 24 * HOUR;
        let created = [0, 20 * day, 29 * day, 40 * day]
            .into_iter()
            .any(|t| add_match(&mut w, "R", "alice", t, t, policy, || first("x")).creates_alert);
        assert!(
            !created,
            "windows are fixed from the first match, not sliding"
        );
        assert_eq!(w.unwrap().alert_count, 2);
    }

    #[test]
    fn a_late_match_joins_the_open_window() {
        let policy = WindowPolicy::new(60, 2);
        let mut w = None;
        add_match(&mut w, "R", "d", 10 * HOUR, 0, policy, || first("x"));
        let late = add_match(&mut w, "R", "d", 0, 1, policy, || first("y"));
        assert!(late.creates_alert);
        assert_eq!(w.unwrap().alert_count, 1);
    }

    #[test]
    fn the_notification_has_panthers_keys_in_order() {
        let mut context = Map::new();
        context.insert("ips".into(), json!(["1.2.3.4"]));
        let tags = vec!["Okta".to_owned()];
        let rule = RuleInfo {
            id: "Okta.AdminRoleAssigned",
            display_name: Some("Okta Admin Role Assigned"),
            description: "d",
            runbook: "",
            tags: &tags,
            version: None,
        };
        let first = FirstMatch {
            context,
            ..first("Jack granted admin")
        };
        let body = notification(
            rule,
            AlertType::Rule,
            "abc",
            &first,
            "2020-11-25T21:28:41.512Z",
            "http://x/alerts/abc",
        );
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "createdAt",
                "severity",
                "type",
                "link",
                "title",
                "name",
                "alertId",
                "alertContext",
                "description",
                "runbook",
                "tags",
                "version"
            ]
        );
        assert_eq!(body["title"], "New Alert: Jack granted admin");
        assert_eq!(body["version"], Value::Null);
        assert_eq!(body["alertContext"]["ips"][0], "1.2.3.4");
    }
}
