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

use super::eval::{lookup, JsonNode, JsonObject, View};
use super::event::Event;
use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::Timestamp;
use serde_json::Value;
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The name Panther gives Okta's System Log.
const OKTA_SYSTEM_LOG: &str = "Okta.SystemLog";

/// The top-level keys a generic JSON event's time is read from, in order of preference.
const GENERIC_TIME_KEYS: [&str; 4] = ["time", "timestamp", "@timestamp", "eventTime"];

/// A unix time at least this large (in absolute value) is in milliseconds, else in seconds:
/// 1e11 seconds is the year 5138, 1e11 milliseconds is March 1973.
const MILLIS_THRESHOLD: f64 = 1e11;

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

/// A JSON tree [`normalize`] can write to: `serde_json::Value` or [`Event`].
pub trait Normalize: JsonNode {
    /// Drops the object's reserved (`p_`) top-level fields and appends `fields`, in order.
    fn set_standard_fields(&mut self, fields: Vec<(&'static str, Self)>);
    /// A string value.
    fn string(text: String) -> Self;
    /// A list of strings.
    fn strings(texts: Vec<String>) -> Self;
}

impl Normalize for Value {
    fn set_standard_fields(&mut self, fields: Vec<(&'static str, Value)>) {
        if let Value::Object(object) = self {
            object.retain(|key, _| !is_reserved(key));
            for (key, value) in fields {
                object.insert(key.into(), value);
            }
        }
    }

    fn string(text: String) -> Value {
        Value::String(text)
    }

    fn strings(texts: Vec<String>) -> Value {
        Value::Array(texts.into_iter().map(Value::String).collect())
    }
}

impl Normalize for Event<'_> {
    fn set_standard_fields(&mut self, fields: Vec<(&'static str, Self)>) {
        if let Event::Object(object) = self {
            object.retain(|(key, _)| !is_reserved(key));
            // No standard field is left to replace: they are all reserved.
            object.extend(
                fields
                    .into_iter()
                    .map(|(key, value)| (Cow::Borrowed(key), value)),
            );
        }
    }

    fn string(text: String) -> Self {
        Event::String(Cow::Owned(text))
    }

    fn strings(texts: Vec<String>) -> Self {
        Event::Array(texts.into_iter().map(Event::string).collect())
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
    let object = event.as_object().ok_or(Error::NotAnObject)?;
    // Read before the reserved keys go: no field read here is one of them.
    let (event_time, indicators) = match log_type {
        LogType::OktaSystemLog => (
            lookup(object, "published").and_then(parse_time_value),
            Some(okta_indicators(object)),
        ),
        LogType::Json(_) => (generic_event_time(object), None),
    };
    let event_time = event_time.unwrap_or(parse_time);

    let mut fields = Vec::with_capacity(9);
    fields.push(("p_log_type", N::string(log_type.name().into())));
    fields.push(("p_event_time", N::string(format_timestamp(event_time))));
    fields.push(("p_parse_time", N::string(format_timestamp(parse_time))));
    fields.push(("p_row_id", N::string(row_id.into())));
    for (name, values) in indicators.into_iter().flatten() {
        if !values.is_empty() {
            fields.push((name, N::strings(values)));
        }
    }
    event.set_standard_fields(fields);
    Ok(event_time)
}

/// A new `p_row_id`: a UUIDv7 in simple form (32 hex digits). Its random bits come from a
/// generator per thread, seeded once from the OS: `Uuid::now_v7` makes a system call per id, which
/// costs more than normalising the event.
pub fn new_row_id() -> String {
    thread_local! {
        static RANDOM: RefCell<fastrand::Rng> =
            RefCell::new(fastrand::Rng::with_seed(getrandom::u64().unwrap_or_else(|_| fastrand::u64(..))));
    }
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut random = [0; 10];
    RANDOM.with(|rng| rng.borrow_mut().fill(&mut random));
    let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    let mut text = [0; uuid::fmt::Simple::LENGTH];
    uuid.simple().encode_lower(&mut text).to_owned()
}

/// Formats `timestamp` as Panther does: `2006-01-02 15:04:05.000000000`, UTC.
pub fn format_timestamp(timestamp: Timestamp) -> String {
    let t = Offset::UTC.to_datetime(timestamp);
    // By hand: `format!` would cost more than all the rest of normalising an event.
    let mut text = String::with_capacity(29);
    push_padded(&mut text, i32::from(t.year()), 4);
    for (separator, value, width) in [
        ('-', i32::from(t.month()), 2),
        ('-', i32::from(t.day()), 2),
        (' ', i32::from(t.hour()), 2),
        (':', i32::from(t.minute()), 2),
        (':', i32::from(t.second()), 2),
        ('.', t.subsec_nanosecond(), 9),
    ] {
        text.push(separator);
        push_padded(&mut text, value, width);
    }
    text
}

/// Appends `value` as `format!("{value:0width$}")` does: a minus sign counts in the width.
fn push_padded(text: &mut String, value: i32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut rest = value.unsigned_abs();
    let mut start = digits.len();
    while rest > 0 {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let sign = usize::from(value < 0);
    let start = start.min(
        digits
            .len()
            .saturating_sub(width.saturating_sub(sign).max(1)),
    );
    if value < 0 {
        text.push('-');
    }
    text.extend(digits[start..].iter().map(|&d| char::from(d)));
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

/// Reads a timestamp from a JSON value: a string in RFC 3339 (any offset, `T` or space
/// separator), Panther's offset-less form (`2020-11-25 21:27:03.496000000`, read as UTC) or a
/// string of digits; or a number. Digits and numbers are unix seconds, or milliseconds from
/// [`MILLIS_THRESHOLD`] on; numbers may have a fraction.
fn parse_time_value<N: JsonNode>(value: &N) -> Option<Timestamp> {
    match value.view() {
        View::String(text) => parse_time_text(text.trim()),
        View::Number(number) => {
            if let Some(whole) = number.as_i64() {
                unix_integer(whole)
            } else {
                unix_float(number.as_f64()?)
            }
        }
        _ => None,
    }
}

fn parse_time_text(text: &str) -> Option<Timestamp> {
    if text.is_empty() {
        return None;
    }
    if text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit()) {
        return unix_integer(text.parse().ok()?);
    }
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Some(timestamp);
    }
    // No offset: Panther's normalised form, which is UTC.
    let civil = text.parse::<DateTime>().ok()?;
    Offset::UTC.to_timestamp(civil).ok()
}

fn unix_integer(value: i64) -> Option<Timestamp> {
    if value.unsigned_abs() as f64 >= MILLIS_THRESHOLD {
        Timestamp::from_millisecond(value).ok()
    } else {
        Timestamp::from_second(value).ok()
    }
}

fn unix_float(value: f64) -> Option<Timestamp> {
    if !value.is_finite() {
        return None;
    }
    let nanos = if value.abs() >= MILLIS_THRESHOLD {
        value * 1e6
    } else {
        value * 1e9
    };
    // Far beyond jiff's range either way; keeps the cast below exact in intent.
    if nanos.abs() > 1e30 {
        return None;
    }
    Timestamp::from_nanosecond(nanos.round() as i128).ok()
}

/// The Okta indicator fields, by name, each sorted and deduplicated; empty ones are dropped by the
/// caller.
fn okta_indicators<O: JsonObject + ?Sized>(event: &O) -> [(&'static str, Vec<String>); 5] {
    let mut ips = Vec::new();
    let mut emails = Vec::new();
    let mut usernames = Vec::new();
    let mut domains = Vec::new();
    let mut actor_ids = Vec::new();

    if let Some(ip) = get_str(event, &["client", "ipAddress"]).and_then(parse_ip) {
        ips.push(ip);
    }
    for hop in get_array(event, &["request", "ipChain"]) {
        if let Some(ip) = object_str(hop, "ip").and_then(parse_ip) {
            ips.push(ip);
        }
    }

    if let Some(id) = get_str(event, &["actor", "alternateId"]).filter(|id| is_named(id)) {
        usernames.push(id.to_owned());
        if looks_like_email(id) {
            emails.push(id.to_owned());
        }
    }
    for target in get_array(event, &["target"]) {
        let Some(id) = object_str(target, "alternateId").filter(|id| is_named(id)) else {
            continue;
        };
        if object_str(target, "type").is_some_and(|t| t.eq_ignore_ascii_case("User")) {
            usernames.push(id.to_owned());
        }
        if looks_like_email(id) {
            emails.push(id.to_owned());
        }
    }

    if let Some(domain) = get_str(event, &["securityContext", "domain"]).and_then(domain_name) {
        domains.push(domain);
    }
    if let Some(id) = get_str(event, &["actor", "id"]).filter(|id| !id.is_empty()) {
        actor_ids.push(id.to_owned());
    }

    let mut indicators = [
        ("p_any_ip_addresses", ips),
        ("p_any_emails", emails),
        ("p_any_usernames", usernames),
        ("p_any_domain_names", domains),
        ("p_any_actor_ids", actor_ids),
    ];
    for (_, values) in &mut indicators {
        values.sort_unstable();
        values.dedup();
    }
    indicators
}

/// The value at `path` (object keys only, case-insensitive lookup).
fn get<'v, O: JsonObject + ?Sized>(object: &'v O, path: &[&str]) -> Option<&'v O::Node> {
    let (last, parents) = path.split_last()?;
    let mut current = object;
    for key in parents {
        current = lookup(current, key)?.as_object()?;
    }
    lookup(current, last)
}

fn get_str<'v, O: JsonObject + ?Sized>(object: &'v O, path: &[&str]) -> Option<&'v str> {
    get(object, path)?.as_str()
}

/// The elements of the array at `path`; none when it is missing, `null` or not an array.
fn get_array<'v, O: JsonObject + ?Sized>(object: &'v O, path: &[&str]) -> &'v [O::Node] {
    get(object, path)
        .and_then(JsonNode::as_array)
        .unwrap_or_default()
}

/// `value[key]` as a string, when `value` is an object.
fn object_str<'v, N: JsonNode>(value: &'v N, key: &str) -> Option<&'v str> {
    lookup(value.as_object()?, key)?.as_str()
}

/// An IP address in canonical form, when `text` is one.
fn parse_ip(text: &str) -> Option<String> {
    match text.parse::<IpAddr>().ok()? {
        // The IPv4 parser takes only the canonical form (no leading zeros, no spaces).
        IpAddr::V4(_) => Some(text.to_owned()),
        ip @ IpAddr::V6(_) => Some(ip.to_string()),
    }
}

/// Whether an `alternateId` names someone: not empty and not Okta's `unknown` placeholder.
fn is_named(id: &str) -> bool {
    !id.trim().is_empty() && !id.eq_ignore_ascii_case("unknown")
}

/// `local@domain.tld`: one `@`, a non-empty local part without spaces or control characters, and
/// a host name with at least two labels. Deliberately simple: it only has to tell emails from
/// Okta's other `alternateId`s (app names, group names, client ids).
fn looks_like_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    text.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@')
        && domain.contains('.')
        && !domain.ends_with('.')
        && is_host_name(domain)
}

/// A host name, lower-cased and without its trailing dot (see [`is_host_name`]).
fn domain_name(text: &str) -> Option<String> {
    let name = text.strip_suffix('.').unwrap_or(text);
    is_host_name(text).then(|| name.to_ascii_lowercase())
}

/// Whether `text`, less one trailing dot, is a host name: labels of letters, digits, `-` and `_`
/// (not starting or ending with `-`), each 1–63 bytes, 253 at most in all.
fn is_host_name(text: &str) -> bool {
    let name = text.strip_suffix('.').unwrap_or(text);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    //! The Okta events are verbatim copies of `/work/shared/fixtures/okta/*.json`, kept here so the
    //! crate builds without the shared directory.

    use super::*;
    use serde_json::json;

    /// `user.account.privilege.grant.seed.json`
    const SEED: &str = r#"{
  "uuid": "2a992f80-d1ad-4f62-900e-8c68bb72a21b",
  "published": "2020-11-25 21:27:03.496000000",
  "eventType": "user.account.privilege.grant",
  "version": "0",
  "severity": "INFO",
  "legacyEventType": "core.user.admin_privilege.granted",
  "displayMessage": "Grant user privilege",
  "actor": {
    "id": "00uu1uuuuIlllaaaa356",
    "type": "User",
    "alternateId": "jack.naglieri@runpanther.io",
    "displayName": "Jack Naglieri"
  },
  "client": {
    "userAgent": {
      "browser": "CHROME",
      "os": "Mac OS X",
      "rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/86.0.4240.198 Safari/537.36"
    },
    "geographicalContext": {
      "geolocation": {
        "lat": 48.8916,
        "lon": 2.7939
      },
      "city": "Coupvray",
      "state": "Ile-de-France",
      "country": "France",
      "postalCode": "77700"
    },
    "zone": "null",
    "ipAddress": "194.88.246.242",
    "device": "Computer"
  },
  "request": {},
  "outcome": {
    "result": "SUCCESS"
  },
  "target": [
    {
      "id": "00u6eup97mAJZWYmP357",
      "type": "User",
      "alternateId": "thomaskinsella@tines.io",
      "displayName": "Thomas Kinsella"
    }
  ],
  "transaction": {},
  "debugContext": {
    "debugData": {
      "privilegeGranted": "Organization administrator, Application administrator (all)",
      "requestUri": "/api/internal/administrators/00u6eu8c68bb72a21b57",
      "threatSuspected": "false",
      "url": "/api/internal/administrators/00u6eu8c68bb72a21b57",
      "requestId": "X777JJ9sssQQHHrrrQTyYQAABBE"
    }
  },
  "authenticationContext": {},
  "securityContext": {}
}"#;

    /// `user.session.start.json`
    const SESSION_START: &str = r#"{
  "severity": "INFO",
  "transaction": {
    "type": "WEB",
    "id": "Xqv35Wg7bT74OrlHVCM7JgAAFHM",
    "detail": {}
  },
  "target": null,
  "actor": {
    "displayName": "John Doe",
    "detailEntry": null,
    "id": "00u3mo2ci0RuzhCQe357",
    "type": "User",
    "alternateId": "foo@bar.com"
  },
  "client": {
    "userAgent": {
      "rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.129 Safari/537.36",
      "os": "Mac OS X",
      "browser": "CHROME"
    },
    "zone": "null",
    "device": "Computer",
    "id": null,
    "ipAddress": "1.1.1.1",
    "geographicalContext": {
      "city": "Madrid",
      "state": "Madrid",
      "country": "Spain",
      "postalCode": "28005",
      "geolocation": {
        "lat": 40.4143,
        "lon": -3.7016
      }
    }
  },
  "authenticationContext": {
    "authenticationProvider": null,
    "credentialProvider": null,
    "credentialType": null,
    "issuer": null,
    "interface": null,
    "authenticationStep": 0,
    "externalSessionId": "102iCf9Im9wSEmaVMYZNbEOMA"
  },
  "published": "2020-05-01T10:20:22.243Z",
  "version": "0",
  "request": {
    "ipChain": [
      {
        "source": null,
        "ip": "1.1.1.1",
        "geographicalContext": {
          "city": "Madrid",
          "state": "Madrid",
          "country": "Spain",
          "postalCode": "28005",
          "geolocation": {
            "lon": -3.7016,
            "lat": 40.4143
          }
        },
        "version": "V4"
      }
    ]
  },
  "displayMessage": "User login to Okta",
  "eventType": "user.session.start",
  "debugContext": {
    "debugData": {
      "deviceFingerprint": "d46b17d2d7119ece5a466d6e6d4285db",
      "requestId": "Xqv35Wg7bT74OrlHVCM7JgAAFHM",
      "requestUri": "/api/v1/authn",
      "threatSuspected": "false",
      "url": "/api/v1/authn?"
    }
  },
  "legacyEventType": "core.user_auth.login_success",
  "securityContext": {
    "asNumber": null,
    "asOrg": null,
    "isp": null,
    "domain": null,
    "isProxy": null
  },
  "uuid": "5d730bf4-8b95-11ea-8cbe-bf2eaab2e9ef",
  "outcome": {
    "result": "SUCCESS",
    "reason": null
  }
}"#;

    /// `group.user_membership.add.bypass-mfa.json`
    const BYPASS_MFA: &str = r#"{
  "actor": {
    "alternateId": "it.admin@example.com",
    "detailEntry": null,
    "displayName": "IT Admin",
    "id": "00u1adm1nXyZ2AbC3d4e",
    "type": "User"
  },
  "authenticationContext": {
    "authenticationProvider": null,
    "authenticationStep": 0,
    "credentialProvider": null,
    "credentialType": null,
    "externalSessionId": "trsd7PuSH7sSDS_UIfWdOsPPg",
    "interface": null,
    "issuer": null
  },
  "client": {
    "device": "Computer",
    "geographicalContext": {
      "city": "Boardman",
      "country": "United States",
      "geolocation": {
        "lat": 45.8696,
        "lon": -119.688
      },
      "postalCode": "97818",
      "state": "Oregon"
    },
    "id": null,
    "ipAddress": "198.51.100.23",
    "userAgent": {
      "browser": "CHROME",
      "os": "Mac OS X",
      "rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/92.0.4515.159 Safari/537.36"
    },
    "zone": "null"
  },
  "debugContext": {
    "debugData": {
      "requestId": "YSiMbUWx2sY0b0cnBKeZ3wAABDs",
      "requestUri": "/api/v1/groups/00g1bypa55mfaGrp10h7/users/00u6eup97mAJZWYmP999",
      "url": "/api/v1/groups/00g1bypa55mfaGrp10h7/users/00u6eup97mAJZWYmP999?"
    }
  },
  "displayMessage": "Add user to group membership",
  "eventType": "group.user_membership.add",
  "legacyEventType": "core.user_group_member.user_add",
  "outcome": {
    "reason": null,
    "result": "SUCCESS"
  },
  "published": "2021-08-26T16:25:02.936Z",
  "request": {
    "ipChain": [
      {
        "geographicalContext": {
          "city": "Boardman",
          "country": "United States",
          "geolocation": {
            "lat": 45.8696,
            "lon": -119.688
          },
          "postalCode": "97818",
          "state": "Oregon"
        },
        "ip": "198.51.100.23",
        "source": null,
        "version": "V4"
      }
    ]
  },
  "securityContext": {
    "asNumber": null,
    "asOrg": null,
    "domain": null,
    "isProxy": null,
    "isp": null
  },
  "severity": "INFO",
  "target": [
    {
      "alternateId": "alice@example.com",
      "detailEntry": null,
      "displayName": "Alice Example",
      "id": "00u6eup97mAJZWYmP999",
      "type": "User"
    },
    {
      "alternateId": "unknown",
      "detailEntry": null,
      "displayName": "Bypass MFA Group",
      "id": "00g1bypa55mfaGrp10h7",
      "type": "UserGroup"
    }
  ],
  "transaction": {
    "detail": {},
    "id": "YSiMbUWx2sY0b0cnBKeZ3wAABDs",
    "type": "WEB"
  },
  "uuid": "b6f1c3de-0a7e-4c1b-9d51-3f2a8e6c7b10",
  "version": "0"
}"#;

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
        event["target"] =
            json!([{"id": "0oa1", "type": "AppInstance", "alternateId": "Salesforce"}]);
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
        let ids: Vec<String> = (0..1000).map(|_| new_row_id()).collect();
        for id in &ids {
            let uuid = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(uuid.get_version_num(), 7);
            assert_eq!(uuid.simple().to_string(), *id);
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
