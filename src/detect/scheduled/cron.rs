//! Five-field crontab expressions (`minute hour day-of-month month day-of-week`), evaluated in
//! UTC, as Panther's scheduled queries use them.
//!
//! Each field is `*`, a number, a range `a-b`, a step `*/n`, `a-b/n` or `a/n` (from `a` to the
//! field's end), or a comma list of these. Day of week is 0–6 from Sunday, and 7 is Sunday too.
//! Panther documents no names (`MON`, `JAN`), no `?`, `L`, `W` or `#`, no seconds field and no
//! `@daily` macros, so they are errors that say what to write instead.
//!
//! Days follow standard cron: when both day-of-month and day-of-week are restricted, a day runs
//! if **either** matches (`0 0 1 * 1` is the 1st of each month and every Monday); when one of them
//! selects every value, only the other applies. *warden*: "selects every value" is decided by the
//! values, not the spelling, as in robfig/cron: `*/2` is restricted and `1-31` is not (Vixie cron
//! would read `0 0 1-31 * 1` as every day).
//!
//! An expression that can never run (`0 0 30 2 *`) is rejected when parsed, so
//! [`Cron::next_after`] always finds a time within a few years.

use jiff::civil::{Date, DateTime};
use jiff::tz::Offset;
use jiff::Timestamp;
use std::fmt;

/// A parsed crontab expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    /// Bit `n` set: minute `n` runs (0–59).
    minutes: u64,
    /// Hours 0–23.
    hours: u64,
    /// Days of the month 1–31.
    days: u64,
    /// Months 1–12.
    months: u64,
    /// Days of the week 0–6, Sunday first (7 folded into 0).
    weekdays: u64,
    /// Day of month and day of week are both restricted: a day runs if either matches.
    either_day: bool,
    text: String,
}

/// Why an expression does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError {
    /// What is wrong.
    pub message: String,
    /// What to write instead, when there is something useful to say.
    pub hint: Option<String>,
    /// The character offset of the mistake in the expression.
    pub offset: usize,
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CronError {}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names_hint: &'static str,
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names_hint: "",
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names_hint: "",
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names_hint: "",
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names_hint: "months are numbers: 1 (January) to 12 (December)",
    },
    Field {
        name: "day of week",
        min: 0,
        max: 7,
        names_hint: "days are numbers: 0 (Sunday) to 6 (Saturday); 7 is Sunday too",
    },
];

/// Macros some crons accept, with the expression to write instead.
const MACROS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

fn error(offset: usize, message: impl Into<String>, hint: Option<String>) -> CronError {
    CronError {
        message: message.into(),
        hint,
        offset,
    }
}

/// Bits `min..=max`.
fn span_mask(min: u32, max: u32) -> u64 {
    (u64::MAX >> (63 - max)) & !((1u64 << min) - 1)
}

/// The lowest set bit of `mask` at or above `from`.
fn next_bit(mask: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = mask >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

impl Cron {
    /// Parses a five-field expression; the error carries the offset of the mistake.
    pub fn parse(text: &str) -> Result<Cron, CronError> {
        let trimmed = text.trim_start();
        let lead = text.chars().count() - trimmed.chars().count();
        if let Some((name, instead)) = MACROS.iter().find(|(m, _)| trimmed.trim_end() == *m) {
            return Err(error(
                lead,
                format!("`{name}` is not supported"),
                Some(format!("write `{instead}`")),
            ));
        }
        // Fields with their character offsets.
        let mut fields: Vec<(usize, &str)> = Vec::new();
        let mut start = None;
        for (chars, (byte, c)) in text.char_indices().enumerate() {
            match (c.is_whitespace(), start) {
                (false, None) => start = Some((chars, byte)),
                (true, Some((at, from))) => {
                    fields.push((at, &text[from..byte]));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some((at, from)) = start {
            fields.push((at, &text[from..]));
        }
        if fields.len() != FIELDS.len() {
            let hint = match fields.len() {
                6 | 7 => "warden's cron has no seconds or year field: minute hour day-of-month month day-of-week, e.g. `0 * * * *`",
                _ => "five fields: minute hour day-of-month month day-of-week, e.g. `0 * * * *` (hourly)",
            };
            let at = fields.get(FIELDS.len()).map_or(lead, |(at, _)| *at);
            return Err(error(
                at,
                format!("expected 5 fields, found {}", fields.len()),
                Some(hint.to_owned()),
            ));
        }
        let mut masks = [0u64; 5];
        for (i, ((at, field), spec)) in fields.iter().zip(&FIELDS).enumerate() {
            masks[i] = parse_field(field, *at, spec)?;
        }
        let [minutes, hours, days, months, mut weekdays] = masks;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7);
        }
        let every_day = days == span_mask(1, 31);
        let every_weekday = weekdays == span_mask(0, 6);
        let cron = Cron {
            minutes,
            hours,
            days,
            months,
            weekdays,
            either_day: !every_day && !every_weekday,
            text: text.to_owned(),
        };
        // Only a day-of-month restriction alone can name days that never exist; any weekday
        // recurs in every month.
        if every_weekday && !cron.some_month_has_a_day() {
            return Err(error(
                fields[2].0,
                format!("`{}` never runs: no month it names has those days", text.trim()),
                Some("check the day of month against the months' lengths (February has 29 days at most)".to_owned()),
            ));
        }
        Ok(cron)
    }

    fn some_month_has_a_day(&self) -> bool {
        // February counted with 29 days: leap years come.
        const LONGEST: [u32; 13] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        (1..=12).any(|m| self.months & (1 << m) != 0 && self.days & span_mask(1, LONGEST[m]) != 0)
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn runs_on(&self, date: Date) -> bool {
        let day = self.days & (1 << date.day()) != 0;
        let weekday = self.weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        if self.either_day {
            day || weekday
        } else {
            // One of the two selects every value, so this is the other one's verdict.
            day && weekday
        }
    }

    /// The first (hour, minute) that runs at or after `hour:minute` on a running day.
    fn time_from(&self, hour: u32, minute: u32) -> Option<(u32, u32)> {
        if self.hours & (1 << hour) != 0 {
            if let Some(m) = next_bit(self.minutes, minute) {
                return Some((hour, m));
            }
        }
        let h = next_bit(self.hours, hour + 1)?;
        Some((h, next_bit(self.minutes, 0)?))
    }

    /// The first run time strictly after `after`; `None` only past the end of the representable
    /// time range (year 9999). Walks months and days, never minutes: at most a few hundred steps,
    /// even for `0 0 29 2 *` across a century year.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let now = Offset::UTC.to_datetime(after);
        let whole_minute = DateTime::new(
            now.year(),
            now.month(),
            now.day(),
            now.hour(),
            now.minute(),
            0,
            0,
        )
        .ok()?;
        let start = whole_minute
            .checked_add(jiff::SignedDuration::from_mins(1))
            .ok()?;
        let mut date = start.date();
        let mut from = (start.hour() as u32, start.minute() as u32);
        // Parsing guarantees a run within eight years (29 February skips century years);
        // the bound only keeps a logic error from looping.
        let last_year = date.year().saturating_add(9);
        while date.year() <= last_year {
            if self.months & (1 << date.month()) == 0 {
                date = first_of_next_month(date)?;
                from = (0, 0);
                continue;
            }
            if self.runs_on(date) {
                if let Some((hour, minute)) = self.time_from(from.0, from.1) {
                    let at = date.at(hour as i8, minute as i8, 0, 0);
                    return Offset::UTC.to_timestamp(at).ok();
                }
            }
            date = date.tomorrow().ok()?;
            from = (0, 0);
        }
        None
    }
}

fn first_of_next_month(date: Date) -> Option<Date> {
    let (year, month) = if date.month() == 12 {
        (date.year().checked_add(1)?, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    Date::new(year, month, 1).ok()
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Cron {
    type Err = CronError;
    fn from_str(text: &str) -> Result<Cron, CronError> {
        Cron::parse(text)
    }
}

/// One field: a comma list of `*`, `n`, `a-b`, each with an optional `/step`.
fn parse_field(text: &str, at: usize, spec: &Field) -> Result<u64, CronError> {
    let mut mask = 0;
    let mut offset = at;
    for item in text.split(',') {
        mask |= parse_item(item, offset, spec)?;
        offset += item.chars().count() + 1;
    }
    Ok(mask)
}

fn parse_item(item: &str, at: usize, spec: &Field) -> Result<u64, CronError> {
    if item.is_empty() {
        return Err(error(
            at,
            format!("empty item in the {} field", spec.name),
            Some("separate values with single commas, e.g. `0,15,30`".to_owned()),
        ));
    }
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => {
            let step_at = at + range.chars().count() + 1;
            let step = number(step, step_at, spec)?;
            if step == 0 {
                return Err(error(
                    step_at,
                    "a step of 0 never advances",
                    Some("use a step of at least 1, e.g. `*/5`".to_owned()),
                ));
            }
            (range, Some(step))
        }
        None => (item, None),
    };
    // Each bound with where it is written, for the range check.
    let (low, high) = if range == "*" {
        ((spec.min, at), (spec.max, at))
    } else if let Some((low, high)) = range.split_once('-') {
        let high_at = at + low.chars().count() + 1;
        let bounds = (
            (number(low, at, spec)?, at),
            (number(high, high_at, spec)?, high_at),
        );
        if bounds.0 .0 > bounds.1 .0 {
            return Err(error(
                at,
                format!("range `{range}` in the {} field runs backwards", spec.name),
                Some("write the lower bound first, or a list such as `22-23,0-2`".to_owned()),
            ));
        }
        bounds
    } else {
        let value = number(range, at, spec)?;
        // `a/n` runs from `a` to the end of the field, as robfig/cron and cronie read it.
        (
            (value, at),
            (if step.is_some() { spec.max } else { value }, at),
        )
    };
    for (value, bound_at) in [low, high] {
        if value < spec.min || value > spec.max {
            return Err(error(
                bound_at,
                format!(
                    "{value} is out of range for the {} field ({}-{})",
                    spec.name, spec.min, spec.max
                ),
                None,
            ));
        }
    }
    let (low, high) = (low.0, high.0);
    let step = step.unwrap_or(1) as usize;
    Ok((low..=high).step_by(step).fold(0, |mask, v| mask | 1 << v))
}

fn number(text: &str, at: usize, spec: &Field) -> Result<u32, CronError> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| {
            error(
                at,
                format!("`{text}` is out of range for the {} field", spec.name),
                None,
            )
        });
    }
    let hint = if text.bytes().any(|b| b.is_ascii_alphabetic()) && !spec.names_hint.is_empty() {
        spec.names_hint.to_owned()
    } else if matches!(text, "?" | "L" | "W") || text.contains(['#', 'L', 'W']) {
        "`?`, `L`, `W` and `#` are not supported; use numbers, ranges, lists and steps".to_owned()
    } else {
        "use a number, a range `a-b`, a list `a,b`, `*` or a step `*/n`".to_owned()
    };
    Err(error(
        at,
        format!("`{text}` is not a number in the {} field", spec.name),
        Some(hint),
    ))
}

#[cfg(test)]
mod tests;
