//! [`MatchQuery`]: `WardenQuery`, a grouped count over stored rule matches, evaluated in Rust so it
//! behaves the same whichever database holds the matches.

use crate::detect::eval::{Matcher, Path};
use crate::diagnostic::Span;
use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::Timestamp;
use serde_json::{Map, Value};
use std::collections::btree_map::{BTreeMap, Entry};
use std::time::Duration;

/// The column holding the earliest `p_event_time` of a row's matches (RFC 3339).
pub const FIRST_MATCH: &str = "first_match";
/// The column holding the latest `p_event_time` of a row's matches (RFC 3339).
pub const LAST_MATCH: &str = "last_match";
/// The count column when `CountAs` is not given.
pub const DEFAULT_COUNT_COLUMN: &str = "count";

/// A compiled `WardenQuery`: which stored matches to read (`RuleIDs`, `LookbackMinutes`, `Where`)
/// and how to fold them into rows (`GroupBy`, `Latest`, `CountAs`).
#[derive(Debug, Clone)]
pub struct MatchQuery {
    pub(super) rule_ids: Vec<String>,
    pub(super) rule_id_spans: Vec<Span>,
    pub(super) lookback: Duration,
    pub(super) filter: Matcher,
    pub(super) group_by: Vec<(String, Path)>,
    pub(super) latest: Vec<(String, Path)>,
    pub(super) count_column: String,
}

/// One output row being built.
struct Group {
    keys: Vec<Value>,
    count: u64,
    first: Timestamp,
    last: Timestamp,
    latest: Vec<Value>,
}

impl MatchQuery {
    /// `RuleIDs`: the `p_rule_id`s of the matches the query reads.
    pub fn rule_ids(&self) -> &[String] {
        &self.rule_ids
    }

    /// Where each of [`MatchQuery::rule_ids`] is written, in the same order.
    pub fn rule_id_spans(&self) -> &[Span] {
        &self.rule_id_spans
    }

    /// `LookbackMinutes`: how far back from the run time, on `p_event_time`, matches count.
    pub fn lookback(&self) -> Duration {
        self.lookback
    }

    /// The output columns, in order: the `GroupBy` columns, the `Latest` columns, the count,
    /// `first_match` and `last_match`.
    pub fn columns(&self) -> Vec<&str> {
        let named = self
            .group_by
            .iter()
            .chain(&self.latest)
            .map(|(c, _)| c.as_str());
        named
            .chain([self.count_column.as_str(), FIRST_MATCH, LAST_MATCH])
            .collect()
    }

    /// The earliest `p_event_time` a run at `now` reads: `now - lookback` (the start of time if
    /// that is before it). A store read narrows on this and on [`MatchQuery::rule_ids`].
    pub fn since(&self, now: Timestamp) -> Timestamp {
        now.checked_sub(self.lookback).unwrap_or(Timestamp::MIN)
    }

    /// Folds stored matches into the query's rows, as SQL's `SELECT <GroupBy>, count(*) …
    /// WHERE p_rule_id IN (<RuleIDs>) AND p_event_time >= now - lookback AND <Where> GROUP BY
    /// <GroupBy>` would for a run at `now`.
    ///
    /// Each match is a stored normalized event carrying `p_rule_id` and `p_event_time` (Panther's
    /// rule-match fields). The whole query is applied here, so a store read may return more than
    /// it needs (any rule, any time) and the rows are still exact; a match without a readable
    /// `p_event_time` or a `p_rule_id` in `RuleIDs` is skipped, as SQL skips a NULL comparison.
    /// There is no upper bound on `p_event_time`: as `p_occurs_since`, a match stamped after
    /// `now` (clock skew) still counts.
    ///
    /// - A `GroupBy` or `Latest` path that selects nothing (or `null`) gives `null`, and the
    ///   matches missing a key form one group, as SQL's `GROUP BY` puts NULLs together. A path
    ///   that selects several values (`[*]`, `[?…]`) gives the first.
    /// - `Latest` columns come from the group's match with the latest `p_event_time` (the last
    ///   one given on a tie), like `MAX_BY(column, p_event_time)`: a display name that changed
    ///   within the window shows its newest value without splitting the count.
    /// - Without `GroupBy` there is exactly one row, even with no matches (`count` 0, null
    ///   bounds), as `SELECT count(*)` gives: a rule on `count == 0` detects silence.
    /// - Rows are ordered by their group values, whatever the order of `matches`.
    pub fn rows<'a>(
        &self,
        matches: impl IntoIterator<Item = &'a Value>,
        now: Timestamp,
    ) -> Vec<Value> {
        let since = self.since(now);
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for event in matches {
            let Some(time) = self.selects(event, since) else {
                continue;
            };
            let keys: Vec<Value> = self.group_by.iter().map(|(_, p)| pick(p, event)).collect();
            // Serialized values as the map key: `Value` has no `Ord`, and this orders rows stably.
            let key = serde_json::to_string(&keys).expect("JSON values serialize");
            match groups.entry(key) {
                Entry::Occupied(mut entry) => {
                    let group = entry.get_mut();
                    group.count += 1;
                    group.first = group.first.min(time);
                    if time >= group.last {
                        group.last = time;
                        group.latest = self.latest_values(event);
                    }
                }
                Entry::Vacant(entry) => {
                    entry.insert(Group {
                        keys,
                        count: 1,
                        first: time,
                        last: time,
                        latest: self.latest_values(event),
                    });
                }
            }
        }
        if groups.is_empty() && self.group_by.is_empty() {
            return vec![self.row(None)];
        }
        groups.into_values().map(|g| self.row(Some(g))).collect()
    }

    /// The match's event time when the match belongs in the query.
    fn selects(&self, event: &Value, since: Timestamp) -> Option<Timestamp> {
        let rule_id = event.get("p_rule_id")?.as_str()?;
        if !self.rule_ids.iter().any(|id| id == rule_id) {
            return None;
        }
        let time = event_time(event.get("p_event_time")?)?;
        (time >= since && self.filter.matches(event)).then_some(time)
    }

    fn latest_values(&self, event: &Value) -> Vec<Value> {
        self.latest.iter().map(|(_, p)| pick(p, event)).collect()
    }

    fn row(&self, group: Option<Group>) -> Value {
        let mut row = Map::new();
        let (count, bounds) = match group {
            Some(group) => {
                let named = self.group_by.iter().zip(group.keys);
                let latest = self.latest.iter().zip(group.latest);
                for ((column, _), value) in named.chain(latest) {
                    row.insert(column.clone(), value);
                }
                (group.count, Some((group.first, group.last)))
            }
            None => {
                for (column, _) in &self.latest {
                    row.insert(column.clone(), Value::Null);
                }
                (0, None)
            }
        };
        row.insert(self.count_column.clone(), Value::from(count));
        let time = |t: Timestamp| Value::String(t.to_string());
        row.insert(
            FIRST_MATCH.to_owned(),
            bounds.map_or(Value::Null, |b| time(b.0)),
        );
        row.insert(
            LAST_MATCH.to_owned(),
            bounds.map_or(Value::Null, |b| time(b.1)),
        );
        Value::Object(row)
    }
}

/// The first value `path` selects, or null.
fn pick(path: &Path, event: &Value) -> Value {
    path.first(event).cloned().unwrap_or(Value::Null)
}

/// Reads `p_event_time`: Panther's form (`2020-11-25 21:27:03.496000000`, UTC, as
/// `normalize` writes it) or RFC 3339.
fn event_time(value: &Value) -> Option<Timestamp> {
    let text = value.as_str()?.trim();
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Some(timestamp);
    }
    let civil = text.parse::<DateTime>().ok()?;
    Offset::UTC.to_timestamp(civil).ok()
}
