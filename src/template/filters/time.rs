//! Instants: `date` formats one, `timestamp` gives its unix seconds.

use jiff::tz::TimeZone;
use jiff::Timestamp;
use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

use super::fail;

/// Default `date` format: RFC 3339 in UTC, second precision.
const DEFAULT_DATE_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Reads an instant from unix seconds (int, float or numeric string), an
/// RFC 3339 string, or a zone-less `YYYY-MM-DD HH:MM:SS[.fff]` (Panther's
/// normalised form), which is taken as UTC.
fn instant(filter: &str, value: &Value) -> Result<Timestamp, Error> {
    let unreadable = || {
        fail(format!(
            "{filter}: expected unix seconds, an RFC 3339 date or `YYYY-MM-DD HH:MM:SS` (UTC)"
        ))
    };
    match value.kind() {
        ValueKind::Undefined => Err(ErrorKind::UndefinedError.into()),
        ValueKind::Number => from_unix(value).ok_or_else(unreadable),
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default().trim();
            if let Ok(ts) = text.parse::<Timestamp>() {
                return Ok(ts);
            }
            if let Ok(civil) = text.parse::<jiff::civil::DateTime>() {
                return TimeZone::UTC.to_timestamp(civil).map_err(|_| unreadable());
            }
            text.parse::<f64>()
                .ok()
                .and_then(|secs| from_unix(&Value::from(secs)))
                .ok_or_else(unreadable)
        }
        _ => Err(unreadable()),
    }
}

/// Unix seconds, whole or fractional (kept to the nanosecond), as an
/// instant; `None` when out of range or not finite.
fn from_unix(value: &Value) -> Option<Timestamp> {
    if value.is_integer() {
        return Timestamp::from_second(i64::try_from(value.clone()).ok()?).ok();
    }
    let secs = f64::try_from(value.clone())
        .ok()
        .filter(|s| s.is_finite())?;
    Timestamp::from_nanosecond((secs * 1e9).round() as i128).ok()
}

/// `value | date(format)`: formats an instant (see [`instant`]) in UTC with
/// strftime `format`, by default `%Y-%m-%dT%H:%M:%SZ`.
pub(super) fn date(value: &Value, format: Option<&str>) -> Result<String, Error> {
    let ts = instant("date", value)?;
    let format = format.unwrap_or(DEFAULT_DATE_FORMAT);
    jiff::fmt::strtime::format(format, &ts.to_zoned(TimeZone::UTC))
        .map_err(|e| fail(format!("date: cannot format with `{format}`: {e}")))
}

/// `value | timestamp`: whole unix seconds of an instant (see [`instant`]).
pub(super) fn timestamp(value: &Value) -> Result<i64, Error> {
    Ok(instant("timestamp", value)?.as_second())
}
