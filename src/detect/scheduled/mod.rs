//! Scheduled queries: Panther `scheduled_query` files that run on a schedule over stored rule
//! matches, producing rows that `scheduled_rule`s evaluate, each row as one event (`panther.md`
//! §4). Pure: the caller supplies the source, the matches and the time.
//!
//! Panther's queries are warehouse SQL (`Query`, `AthenaQuery`, `SnowflakeQuery`,
//! `DatabricksQuery`), which warden cannot run. Warden adds one extension key, `WardenQuery`: a
//! grouped count over stored rule matches, evaluated in Rust ([`MatchQuery::rows`]) so it is the
//! same on SQLite and Postgres. A file with only SQL loads as unsupported, by name.
//!
//! ```yaml
//! AnalysisType: scheduled_query
//! QueryName: Okta Bypass MFA Group adds in four weeks
//! Enabled: true
//! Schedule: {RateMinutes: 60, TimeoutMinutes: 1}   # or {CronExpression: "0 * * * *", TimeoutMinutes: 1}
//! WardenQuery:
//!   RuleIDs: [Okta.BypassMFAGroup.UserAdded]       # p_rule_id of the matches to read
//!   LookbackMinutes: 40320                         # p_occurs_since('4 weeks'), on p_event_time
//!   Where: [...]                                   # optional Simple Detection expressions
//!   GroupBy: {user: "target[?type==User].alternateId"}         # column: KeyPath
//!   Latest: {user_display_name: "target[?type==User].displayName"}  # from the newest match
//!   CountAs: adds                                  # the count(*) column, default `count`
//! ```
//!
//! Each row holds the `GroupBy` columns, the `Latest` columns, the count and `first_match` /
//! `last_match` (the `p_event_time` bounds of the group, RFC 3339).
//!
//! Keys follow `panther_analysis_tool`'s `SCHEDULED_QUERY_SCHEMA` (unknown keys are errors, with
//! a did-you-mean): `TimeoutMinutes` is required with either schedule form, `RateMinutes` must be
//! above 1 and at least `TimeoutMinutes`. `Lookback`, `LookbackWindowSeconds` and `EmailConfig`
//! are read and checked but do nothing in warden (`LookbackMinutes` is the window).

mod cron;
mod query;
mod read;

pub use cron::{Cron, CronError};
pub use query::{MatchQuery, DEFAULT_COUNT_COLUMN, FIRST_MATCH, LAST_MATCH};

use crate::detect::rule::{check_file, Unsupported};
use crate::diagnostic::{Diagnostic, Span};
use jiff::Timestamp;
use std::time::Duration;

/// What a `scheduled_query` file holds.
#[derive(Debug, Clone)]
pub enum ScheduledQueryFile {
    /// A query warden runs (it has `WardenQuery`).
    Query(Box<ScheduledQuery>),
    /// A query with only warehouse SQL: `id` is its `QueryName`.
    Unsupported(Unsupported),
}

/// A validated scheduled query.
#[derive(Debug, Clone)]
pub struct ScheduledQuery {
    /// `QueryName`, which scheduled rules name in `ScheduledQueries`.
    pub name: String,
    /// Where the `QueryName` is.
    pub name_span: Span,
    /// `Enabled`.
    pub enabled: bool,
    /// `Description`, or empty.
    pub description: String,
    /// `Tags`.
    pub tags: Vec<String>,
    /// `Schedule`.
    pub schedule: Schedule,
    /// `WardenQuery`.
    pub query: MatchQuery,
}

/// When a query runs: Panther's `Schedule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// `RateMinutes`: every `minutes` minutes.
    Rate {
        /// `RateMinutes`, above 1.
        minutes: u32,
        /// `TimeoutMinutes`, at most `minutes`.
        timeout_minutes: u32,
    },
    /// `CronExpression`, in UTC.
    Cron {
        /// The parsed expression.
        cron: Cron,
        /// `TimeoutMinutes`.
        timeout_minutes: u32,
    },
}

impl Schedule {
    /// The first run time strictly after `after` (UTC). A rate runs on multiples of its period
    /// since the Unix epoch (`RateMinutes: 60` on the hour), so the next run follows from the
    /// clock alone and survives restarts without stored state. Saturates at [`Timestamp::MAX`].
    pub fn next_after(&self, after: Timestamp) -> Timestamp {
        match self {
            Schedule::Rate { minutes, .. } => {
                let period = i64::from(*minutes) * 60;
                // Whole seconds at or before `after` (as_second truncates toward zero).
                let mut second = after.as_second();
                if after.subsec_nanosecond() < 0 {
                    second -= 1;
                }
                let next = (second.div_euclid(period) + 1).checked_mul(period);
                next.and_then(|s| Timestamp::from_second(s).ok())
                    .unwrap_or(Timestamp::MAX)
            }
            Schedule::Cron { cron, .. } => cron.next_after(after).unwrap_or(Timestamp::MAX),
        }
    }

    /// `TimeoutMinutes`, as a duration.
    pub fn timeout(&self) -> Duration {
        let (Schedule::Rate {
            timeout_minutes, ..
        }
        | Schedule::Cron {
            timeout_minutes, ..
        }) = self;
        Duration::from_secs(u64::from(*timeout_minutes) * 60)
    }
}

/// Reads and validates a `scheduled_query` file. `Ok` is a query warden runs or an unsupported
/// (SQL-only) one; `Err` is every problem found, sorted by position.
pub fn check_scheduled_query(source: &str) -> Result<ScheduledQueryFile, Vec<Diagnostic>> {
    check_file(
        source,
        "a scheduled query",
        "start the file with `AnalysisType: scheduled_query` and `QueryName:`",
        read::query_file,
    )
}

#[cfg(test)]
mod tests;
