//! Log normalisation: Panther's standard `p_` fields added to one event before rules see it.
//!
//! [`normalize`] is pure (no I/O, no clock: the caller passes the parse time and the row id) and
//! works in place on a `serde_json::Value` or on the hot path's [`Event`]. What it sets
//! (`panther.md` §5):
//!
//! - `p_log_type`: [`LogType::name`] (`Okta.SystemLog`, or a generic JSON log's own name).
//! - `p_row_id`: as given.
//! - `p_parse_time`: as given.
//! - `p_event_time`: Okta: `published`; generic JSON: the first of the top-level `time`,
//!   `timestamp`, `@timestamp`, `eventTime` that parses. Otherwise (missing or unparseable, even
//!   for Okta, where `published` is required) the parse time, as Panther documents for logs
//!   without an event time: an Okta event with a broken timestamp is still a security event, so
//!   it is kept rather than rejected.
//! - Okta only, the indicator fields `p_any_ip_addresses`, `p_any_emails`, `p_any_usernames`,
//!   `p_any_domain_names`, `p_any_actor_ids`: arrays of strings, deduplicated and sorted (byte
//!   order of the strings, so IPs sort as text, not numerically). An empty array is omitted, as a
//!   field absent from the event. Generic JSON gets no indicators: without a schema there is no
//!   field tagged as an IP or an email, and guessing from values would invent matches.
//!
//! **Times** are written as Panther writes them in rule matches and in its rule tests:
//! `"2006-01-02 15:04:05.000000000"` (UTC, space separator, always nine fractional digits, no
//! zone suffix). Rules comparing `p_event_time` as a string therefore see the same text they
//! would see in Panther.
//!
//! **Reserved prefix.** Every top-level key starting with `p_` (in any ASCII case, since rule
//! lookups ignore case) is removed from the input before the fields above are set: an event must
//! not forge its own log type, row id, times or indicators (an Okta event with no IP must not
//! carry a `p_any_ip_addresses` of its own choosing), nor `p_enrichment`, `p_source_*` and the
//! like. Panther reserves the prefix for itself; a generic log that uses it for its own data loses
//! those keys. Callers adding `p_source_id`/`p_source_label` do so after calling [`normalize`].
//!
//! **Lookups** of the Okta fields prefer the exact key and fall back to one equal ignoring ASCII
//! case ([`lookup`]), as Panther's case-insensitive event does.
//!
//! **Okta mapping** (Panther's `Okta.SystemLog` schema, plus warden's additions):
//!
//! | Indicator | Source |
//! |---|---|
//! | `p_any_ip_addresses` | `client.ipAddress`, `request.ipChain[].ip`; only text that parses as an IPv4/IPv6 address, written in canonical form |
//! | `p_any_emails` | `actor.alternateId`, `target[].alternateId` (any target type), when they look like an email (`local@domain.tld`) |
//! | `p_any_usernames` | `actor.alternateId` (any actor type), `target[].alternateId` of targets of type `User` |
//! | `p_any_domain_names` | `securityContext.domain`, lower-cased, trailing dot removed, when it is a valid host name |
//! | `p_any_actor_ids` | `actor.id` |
//!
//! Okta writes `alternateId: "unknown"` for targets it cannot name (groups, apps); empty strings
//! and `unknown` (any case) are never indicators. `target` may be `null`; any value of the wrong
//! JSON type is skipped, never an error.

//!
//! **Batches.** A [`Normalizer`] normalises the events of one log type parsed at one time, and
//! formats that parse time once for all of them; [`normalize`] is the same for one event.

mod okta;
mod time;

pub use time::{format_timestamp, new_row_id, RowId};

use super::eval::{lookup, JsonNode, JsonObject};
use super::event::{Doc, Event, Field};
use jiff::Timestamp;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use time::{parse_time_value, TimeText};

/// The name Panther gives Okta's System Log.
const OKTA_SYSTEM_LOG: &str = "Okta.SystemLog";

/// The top-level keys a generic JSON event's time is read from, in order of preference.
const GENERIC_TIME_KEYS: [&str; 4] = ["time", "timestamp", "@timestamp", "eventTime"];

/// Log types Warden knows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LogType {
    /// `Okta.SystemLog`: Okta's System Log events (`panther.md` §8).
    OktaSystemLog,
    /// Any other log type: generic JSON under its own name.
    Json(String),
}

impl LogType {
    /// The log type named `name`. Names are case-sensitive, as Panther's are: only
    /// `Okta.SystemLog` is Okta; anything else is generic JSON under that name.
    pub fn parse(name: &str) -> LogType {
        if name == OKTA_SYSTEM_LOG {
            LogType::OktaSystemLog
        } else {
            LogType::Json(name.to_owned())
        }
    }

    /// The name written to `p_log_type`.
    pub fn name(&self) -> &str {
        match self {
            LogType::OktaSystemLog => OKTA_SYSTEM_LOG,
            LogType::Json(name) => name,
        }
    }
}

impl fmt::Display for LogType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an event could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The event is not a JSON object (an array, a string, `null`, …).
    #[error("event is not a JSON object")]
    NotAnObject,
}

/// A standard field's value, borrowed while the event is read.
#[derive(Debug, Clone, Copy)]
pub enum Standard<'s> {
    /// A string.
    Text(&'s str),
    /// A list of strings: the texts of these indicators.
    Texts(&'s [Indicator<'s>]),
}

/// An indicator's text, and its field: the index of its name in the indicator field list.
/// Ordered by field, then text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Indicator<'s> {
    field: usize,
    text: Cow<'s, str>,
}

impl Indicator<'_> {
    /// The indicator's text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A JSON tree [`normalize`] can write to: `serde_json::Value`, or an [`Event`] in its [`Doc`].
pub trait Normalize {
    /// The tree's values.
    type Node: JsonNode;
    /// The standard fields in the tree's own form.
    type Fields;

    /// The event, to read.
    fn node(&self) -> &Self::Node;
    /// `fields` made ready to set: in two steps, since they borrow from the event being written.
    fn standard_fields(&self, fields: &[(&'static str, Standard<'_>)]) -> Self::Fields;
    /// Drops the object's reserved (`p_`) top-level fields and appends `fields`, in order.
    fn set_standard_fields(&mut self, fields: Self::Fields);
}

impl Normalize for Value {
    type Node = Value;
    type Fields = Vec<(&'static str, Value)>;

    fn node(&self) -> &Value {
        self
    }

    fn standard_fields(&self, fields: &[(&'static str, Standard<'_>)]) -> Self::Fields {
        let value = |standard: &Standard<'_>| match standard {
            Standard::Text(text) => Value::String((*text).to_owned()),
            Standard::Texts(texts) => Value::Array(
                texts
                    .iter()
                    .map(|indicator| Value::String(indicator.text().to_owned()))
                    .collect(),
            ),
        };
        fields
            .iter()
            .map(|(key, standard)| (*key, value(standard)))
            .collect()
    }

    fn set_standard_fields(&mut self, fields: Self::Fields) {
        if let Value::Object(object) = self {
            object.retain(|key, _| !is_reserved(key));
            for (key, value) in fields {
                object.insert(key.into(), value);
            }
        }
    }
}

impl<'a> Normalize for Doc<'a> {
    type Node = Event<'a>;
    /// The whole new top-level object, in the arena.
    type Fields = &'a [Field<'a>];

    fn node(&self) -> &Event<'a> {
        self.root()
    }

    fn standard_fields(&self, fields: &[(&'static str, Standard<'_>)]) -> Self::Fields {
        let arena = self.arena();
        let Event::Object(old) = *self.root() else {
            return &[];
        };
        let value = |standard: &Standard<'_>| match standard {
            Standard::Text(text) => Event::String(arena.alloc_str(text)),
            Standard::Texts(texts) => Event::Array(
                arena.alloc_slice_fill_iter(
                    texts
                        .iter()
                        .map(|indicator| Event::String(arena.alloc_str(indicator.text()))),
                ),
            ),
        };
        // Room for every field; the reserved ones dropped leave a tail that is not used.
        let object = arena.alloc_slice_fill_copy(old.len() + fields.len(), ("", Event::Null));
        let mut len = 0;
        for field in old.iter().filter(|(key, _)| !is_reserved(key)) {
            object[len] = *field;
            len += 1;
        }
        // No standard field is left to replace: they are all reserved.
        for (key, standard) in fields {
            object[len] = (key, value(standard));
            len += 1;
        }
        let object: Self::Fields = object;
        &object[..len]
    }

    fn set_standard_fields(&mut self, fields: Self::Fields) {
        if let Event::Object(_) = self.root() {
            self.set_root(Event::Object(fields));
        }
    }
}

/// Normalises the events of one log type parsed at one time.
#[derive(Debug, Clone)]
pub struct Normalizer<'l> {
    log_type: &'l LogType,
    parse_time: Timestamp,
    /// `parse_time` as written, formatted once for every event.
    parse_time_text: TimeText,
}

impl<'l> Normalizer<'l> {
    /// A normaliser for events of `log_type` parsed at `parse_time`.
    pub fn new(log_type: &'l LogType, parse_time: Timestamp) -> Normalizer<'l> {
        Normalizer {
            log_type,
            parse_time,
            parse_time_text: TimeText::new(parse_time),
        }
    }

    /// The log type of the events.
    pub fn log_type(&self) -> &'l LogType {
        self.log_type
    }

    /// Adds Panther's standard fields to one event in place, as [`normalize`] does.
    pub fn normalize<N: Normalize>(&self, event: &mut N, row_id: &str) -> Result<Timestamp, Error> {
        let object = event.node().as_object().ok_or(Error::NotAnObject)?;
        // Read before the reserved keys go: no field read here is one of them.
        // Room for a usual Okta event's indicators.
        let mut indicators = Vec::with_capacity(8);
        let event_time = match self.log_type {
            LogType::OktaSystemLog => {
                okta::indicators(object, &mut indicators);
                lookup(object, "published").and_then(parse_time_value)
            }
            LogType::Json(_) => generic_event_time(object),
        };
        let event_time = event_time.unwrap_or(self.parse_time);
        let event_time_text = TimeText::new(event_time);

        // On the stack: four fields, then the indicator fields that are not empty.
        let mut fields = [("", Standard::Text("")); 4 + okta::INDICATOR_FIELDS.len()];
        fields[..4].copy_from_slice(&[
            ("p_log_type", Standard::Text(self.log_type.name())),
            ("p_event_time", Standard::Text(event_time_text.as_str())),
            (
                "p_parse_time",
                Standard::Text(self.parse_time_text.as_str()),
            ),
            ("p_row_id", Standard::Text(row_id)),
        ]);
        let mut len = 4;
        // Sorted by field, then text: each non-empty field is one run.
        let mut rest = indicators.as_slice();
        for (index, name) in okta::INDICATOR_FIELDS.iter().enumerate() {
            let run = rest.iter().take_while(|i| i.field == index).count();
            let (texts, after) = rest.split_at(run);
            if !texts.is_empty() {
                fields[len] = (name, Standard::Texts(texts));
                len += 1;
            }
            rest = after;
        }
        let fields = event.standard_fields(&fields[..len]);
        event.set_standard_fields(fields);
        Ok(event_time)
    }
}

/// Adds Panther's standard fields to one event in place.
///
/// Removes every top-level `p_` key first (see the module documentation), then sets
/// `p_log_type`, `p_parse_time`, `p_row_id`, `p_event_time` and, for Okta, the non-empty
/// `p_any_*` indicator arrays, and returns the event time it set. Fails only when `event` is not a
/// JSON object, leaving it untouched.
pub fn normalize<N: Normalize>(
    event: &mut N,
    log_type: &LogType,
    parse_time: Timestamp,
    row_id: &str,
) -> Result<Timestamp, Error> {
    Normalizer::new(log_type, parse_time).normalize(event, row_id)
}

/// Whether `key` is in Panther's reserved `p_` namespace (ASCII case ignored).
fn is_reserved(key: &str) -> bool {
    key.as_bytes()
        .get(..2)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"p_"))
}

/// A generic JSON event's time: the first of [`GENERIC_TIME_KEYS`] present (exact key) that parses.
fn generic_event_time<O: JsonObject + ?Sized>(object: &O) -> Option<Timestamp> {
    GENERIC_TIME_KEYS
        .iter()
        .filter_map(|key| object.get(key))
        .find_map(parse_time_value)
}

#[cfg(test)]
mod tests;
