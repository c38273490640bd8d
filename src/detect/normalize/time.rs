//! Times and row ids as Panther writes them: `p_event_time`, `p_parse_time`, `p_row_id`.

use super::JsonNode;
use crate::detect::eval::View;
use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::Timestamp;
use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;
use std::time::{SystemTime, UNIX_EPOCH};

/// A unix time at least this large (in absolute value) is in milliseconds, else in seconds:
/// 1e11 seconds is the year 5138, 1e11 milliseconds is March 1973.
const MILLIS_THRESHOLD: f64 = 1e11;

/// A `p_row_id`, held inline: a UUIDv7 in simple form (32 hex digits).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RowId([u8; uuid::fmt::Simple::LENGTH]);

impl Deref for RowId {
    type Target = str;

    fn deref(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits")
    }
}

impl fmt::Display for RowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl fmt::Debug for RowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A new `p_row_id`. Its random bits come from a generator per thread, seeded once from the OS:
/// `Uuid::now_v7` makes a system call per id, which costs more than normalising the event.
pub fn new_row_id() -> RowId {
    thread_local! {
        static RANDOM: RefCell<fastrand::Rng> =
            RefCell::new(fastrand::Rng::with_seed(getrandom::u64().unwrap_or_else(|_| fastrand::u64(..))));
    }
    // The id's time bits order ids, as a UUIDv7's do; nothing is decided on them.
    #[allow(clippy::disallowed_methods)]
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut random = [0; 10];
    RANDOM.with(|rng| rng.borrow_mut().fill(&mut random));
    let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    let mut text = [0; uuid::fmt::Simple::LENGTH];
    uuid.simple().encode_lower(&mut text);
    RowId(text)
}

/// A time as Panther writes it, held inline: `-9999-12-31 23:59:59.999999999` at the longest.
#[derive(Debug, Clone, Copy)]
pub(super) struct TimeText {
    bytes: [u8; 32],
    len: usize,
}

impl TimeText {
    /// `timestamp` as `2006-01-02 15:04:05.000000000`, UTC.
    pub(super) fn new(timestamp: Timestamp) -> TimeText {
        let t = Offset::UTC.to_datetime(timestamp);
        let mut text = TimeText {
            bytes: [0; 32],
            len: 0,
        };
        if (0..=9999).contains(&t.year()) {
            // The usual case, digits at fixed places.
            text.bytes[..29].copy_from_slice(b"0000-00-00 00:00:00.000000000");
            text.len = 29;
            for (at, value, width) in [
                (0, t.year().unsigned_abs().into(), 4),
                (5, t.month().unsigned_abs().into(), 2),
                (8, t.day().unsigned_abs().into(), 2),
                (11, t.hour().unsigned_abs().into(), 2),
                (14, t.minute().unsigned_abs().into(), 2),
                (17, t.second().unsigned_abs().into(), 2),
                (20, t.subsec_nanosecond().unsigned_abs(), 9),
            ] {
                text.put_digits(at, value, width);
            }
            return text;
        }
        // By hand: `format!` would cost more than all the rest of normalising an event.
        text.push_padded(i32::from(t.year()), 4);
        for (separator, value, width) in [
            (b'-', i32::from(t.month()), 2),
            (b'-', i32::from(t.day()), 2),
            (b' ', i32::from(t.hour()), 2),
            (b':', i32::from(t.minute()), 2),
            (b':', i32::from(t.second()), 2),
            (b'.', t.subsec_nanosecond(), 9),
        ] {
            text.push(separator);
            text.push_padded(value, width);
        }
        text
    }

    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("ASCII")
    }

    /// Writes `value`'s last `width` digits at `at`.
    fn put_digits(&mut self, at: usize, mut value: u32, width: usize) {
        for slot in self.bytes[at..at + width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }

    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// Appends `value` as `format!("{value:0width$}")` does: a minus sign counts in the width.
    fn push_padded(&mut self, value: i32, width: usize) {
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
            self.push(b'-');
        }
        for &digit in &digits[start..] {
            self.push(digit);
        }
    }
}

/// Formats `timestamp` as Panther does: `2006-01-02 15:04:05.000000000`, UTC.
pub fn format_timestamp(timestamp: Timestamp) -> String {
    TimeText::new(timestamp).as_str().to_owned()
}

/// Reads a timestamp from a JSON value: a string in RFC 3339 (any offset, `T` or space
/// separator), Panther's offset-less form (`2020-11-25 21:27:03.496000000`, read as UTC) or a
/// string of digits; or a number. Digits and numbers are unix seconds, or milliseconds from
/// [`MILLIS_THRESHOLD`] on; numbers may have a fraction.
pub(super) fn parse_time_value<N: JsonNode>(value: &N) -> Option<Timestamp> {
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
    if let Some(timestamp) = parse_usual(text) {
        return Some(timestamp);
    }
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Some(timestamp);
    }
    // No offset: Panther's normalised form, which is UTC.
    let civil = text.parse::<DateTime>().ok()?;
    Offset::UTC.to_timestamp(civil).ok()
}

/// The usual forms, read without jiff's general parser (which costs more than the rest of
/// normalising an event): `2020-11-25T21:27:03.496Z` (Okta's) and `2020-11-25 21:27:03.496000000`
/// (Panther's), UTC. `None` for anything else, left to jiff; a test checks that the two agree.
pub(super) fn parse_usual(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let (date_time, rest) = b.split_at_checked(19)?;
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if !separators.iter().all(|&(at, byte)| date_time[at] == byte)
        || !matches!(date_time[10], b'T' | b' ')
    {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0, |n: i32, &d| {
            d.is_ascii_digit().then(|| n * 10 + i32::from(d - b'0'))
        })
    };
    let field = |at: usize, len: usize| number(&date_time[at..at + len]);
    let (mut nanos, mut rest) = (0, rest);
    if let [b'.', fraction @ ..] = rest {
        let len = fraction.iter().take_while(|d| d.is_ascii_digit()).count();
        if !(1..=9).contains(&len) {
            return None;
        }
        nanos = number(&fraction[..len])? * 10_i32.pow(9 - len as u32);
        rest = &fraction[len..];
    }
    // With no offset, the time is UTC, as Panther's form is.
    if !matches!(rest, b"" | b"Z") {
        return None;
    }
    let at = DateTime::new(
        i16::try_from(field(0, 4)?).ok()?,
        i8::try_from(field(5, 2)?).ok()?,
        i8::try_from(field(8, 2)?).ok()?,
        i8::try_from(field(11, 2)?).ok()?,
        i8::try_from(field(14, 2)?).ok()?,
        // A leap second is left to jiff.
        i8::try_from(field(17, 2)?).ok().filter(|&s| s < 60)?,
        nanos,
    )
    .ok()?;
    Offset::UTC.to_timestamp(at).ok()
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
