//! Where the poller is in the log: the cursor, where a restart begins, and the uuids that drop an
//! event Okta delivers twice. Pure: the time comes in as an argument.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use std::collections::HashSet;

/// Okta returns nothing older, and a `since` past 180 days is a 400 (`E0000053`).
pub(super) const RETENTION: SignedDuration = SignedDuration::from_hours(90 * 24);
/// At least one full page, so a redelivered page is recognised.
const RECENT_UUIDS: usize = 1000;

/// Where the poller is in the log, persisted by the caller together with the events it came with.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Checkpoint {
    /// The `rel="next"` URL of the last page (polling mode: always present). Opaque; followed as is.
    pub next: Option<String>,
    /// `published` of the newest event seen (RFC 3339, milliseconds), or the `since` of the first
    /// request while none has been: where to restart when `next` is rejected.
    pub since: Option<String>,
    /// uuids of recent events, oldest first (the last 1000), to drop repeats (Okta may redeliver).
    pub recent_uuids: Vec<String>,
}

impl Checkpoint {
    /// The `since` of a request without a cursor: the stored one, else `now` minus
    /// `initial_lookback`; within Okta's retention.
    pub(super) fn start(&self, now: Timestamp, initial_lookback: SignedDuration) -> Timestamp {
        let stored = parse_time(self.since.as_deref());
        if stored.is_none() && self.since.is_some() {
            tracing::warn!(since = ?self.since, "Unreadable checkpoint `since`; using the initial lookback.");
        }
        let oldest = now.saturating_sub(RETENTION).unwrap_or(Timestamp::MIN);
        let wanted =
            stored.unwrap_or_else(|| now.saturating_sub(initial_lookback).unwrap_or(oldest));
        wanted.clamp(oldest, now)
    }

    /// A page's events not seen before, and the checkpoint to store with them: `next` as the
    /// cursor, the newest `published` (at least `since_sent`, the `since` of a request without a
    /// cursor, else the stored one) and the uuid window moved on.
    pub(super) fn advance(
        &self,
        events: Vec<Value>,
        next: Option<String>,
        since_sent: Option<Timestamp>,
    ) -> (Vec<Value>, Checkpoint) {
        let start = since_sent.or_else(|| parse_time(self.since.as_deref()));
        let (events, since, recent_uuids) = drop_seen(events, &self.recent_uuids, start);
        let checkpoint = Checkpoint {
            next,
            since: since.map(|t| format!("{t:.3}")),
            recent_uuids,
        };
        (events, checkpoint)
    }
}

/// Drops events whose uuid is in `recent` or earlier in the page; returns the rest, the newest
/// `published` (at least `start`) and the updated uuid window.
fn drop_seen(
    events: Vec<Value>,
    recent: &[String],
    start: Option<Timestamp>,
) -> (Vec<Value>, Option<Timestamp>, Vec<String>) {
    let mut seen: HashSet<String> = recent.iter().cloned().collect();
    let mut window = recent.to_vec();
    let mut newest = start;
    let mut fresh = Vec::with_capacity(events.len());
    for event in events {
        if let Some(published) = parse_time(event.get("published").and_then(Value::as_str)) {
            newest = newest.max(Some(published));
        }
        // An event without a uuid cannot be recognised again: pass it on.
        if let Some(uuid) = event.get("uuid").and_then(Value::as_str) {
            if !seen.insert(uuid.to_owned()) {
                continue;
            }
            window.push(uuid.to_owned());
        }
        fresh.push(event);
    }
    let excess = window.len().saturating_sub(RECENT_UUIDS);
    window.drain(..excess);
    (fresh, newest, window)
}

fn parse_time(text: Option<&str>) -> Option<Timestamp> {
    text?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HOUR: SignedDuration = SignedDuration::from_hours(1);

    #[test]
    fn first_since_is_the_lookback_and_a_stored_since_is_kept_within_retention() {
        let now: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
        assert_eq!(
            Checkpoint::default().start(now, HOUR).to_string(),
            "2026-03-01T11:00:00Z"
        );
        let stored = |since: &str| Checkpoint {
            since: Some(since.into()),
            ..Checkpoint::default()
        };
        assert_eq!(
            stored("2026-02-27T08:00:00.123Z").start(now, HOUR),
            "2026-02-27T08:00:00.123Z".parse::<Timestamp>().unwrap()
        );
        // Past the retention Okta returns nothing, and past 180 days it answers 400.
        assert_eq!(
            stored("2025-01-01T00:00:00Z").start(now, HOUR),
            now.saturating_sub(RETENTION).unwrap()
        );
        assert_eq!(stored("2027-01-01T00:00:00Z").start(now, HOUR), now);
    }

    #[test]
    fn seen_uuids_are_dropped_and_the_window_stays_bounded() {
        let recent: Vec<String> = (0..RECENT_UUIDS).map(|i| format!("u{i}")).collect();
        let events = vec![
            json!({"uuid": "u5", "published": "2026-03-01T10:00:00.000Z"}),
            json!({"uuid": "new", "published": "2026-03-01T09:00:00.000Z"}),
            json!({"uuid": "new", "published": "2026-03-01T09:00:00.000Z"}),
            json!({"published": "2026-03-01T08:00:00.000Z"}),
        ];
        let (fresh, newest, window) = drop_seen(events, &recent, None);
        assert_eq!(fresh.len(), 2);
        assert_eq!(fresh[0]["uuid"], "new");
        assert_eq!(newest, Some("2026-03-01T10:00:00Z".parse().unwrap()));
        assert_eq!(window.len(), RECENT_UUIDS);
        assert_eq!(window.last().map(String::as_str), Some("new"));
        assert_eq!(window.first().map(String::as_str), Some("u1"));
    }

    #[test]
    fn an_advanced_checkpoint_keeps_the_cursor_and_the_newest_time() {
        let previous = Checkpoint {
            next: None,
            since: Some("2026-03-01T11:00:00.000Z".into()),
            recent_uuids: vec!["a".into()],
        };
        let events = vec![
            json!({"uuid": "a", "published": "2026-03-01T11:30:00.000Z"}),
            json!({"uuid": "b", "published": "2026-03-01T11:10:00.000Z"}),
        ];
        let (fresh, next) =
            previous.advance(events, Some("https://o/api/v1/logs?after=1".into()), None);
        assert_eq!(
            fresh,
            [json!({"uuid": "b", "published": "2026-03-01T11:10:00.000Z"})]
        );
        assert_eq!(
            next,
            Checkpoint {
                next: Some("https://o/api/v1/logs?after=1".into()),
                since: Some("2026-03-01T11:30:00.000Z".into()),
                recent_uuids: vec!["a".into(), "b".into()],
            }
        );
    }
}
