//! One module per page. Each handler reads what it shows (store, stories, rules), shapes it into
//! plain values and renders its template. Only `act` writes (through `engine::operate`); the rule
//! tests' POST only evaluates.

pub(super) mod act;
pub(super) mod alerts;
pub(super) mod health;
pub(super) mod prompts;
pub(super) mod rules;
pub(super) mod run;
pub(super) mod runs;
pub(super) mod stories;

use super::view::PageError;
use crate::run::Millis;
use axum::http::StatusCode;

/// Reads a time field of a filter: `datetime-local`'s `2026-12-03T07:55` (taken as UTC), an
/// RFC 3339 time, or milliseconds since the epoch. Empty is no bound.
pub(super) fn parse_time(name: &str, text: Option<&str>) -> Result<Option<Millis>, PageError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(millis) = text.parse::<Millis>() {
        return Ok(Some(millis));
    }
    if let Ok(time) = text.parse::<jiff::Timestamp>() {
        return Ok(Some(time.as_millisecond()));
    }
    text.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|civil| civil.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|zoned| Some(zoned.timestamp().as_millisecond()))
        .ok_or_else(|| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "`{name}` must be a date and time like 2026-12-03T07:55 (UTC), not `{text}`."
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn filter_times_read_local_inputs_as_utc_and_refuse_nonsense() {
        assert_eq!(
            parse_time("since", Some("1970-01-01T00:01")).unwrap(),
            Some(60_000)
        );
        assert_eq!(
            parse_time("since", Some("1970-01-01T00:00:01Z")).unwrap(),
            Some(1_000)
        );
        assert_eq!(parse_time("since", Some("42")).unwrap(), Some(42));
        assert_eq!(parse_time("since", Some(" ")).unwrap(), None);
        assert!(parse_time("since", Some("yesterday")).is_err());
    }
}
