//! The Okta System Log source: polls `GET /api/v1/logs` and hands new events to a [`LogSink`].
//!
//! Okta's *polling* requests (`until` unset, `sortOrder=ASCENDING`) filter on persistence time, so
//! delayed events are not skipped, and always answer with a `rel="next"` link, even on an empty
//! page (`external-apis.md` §5.5). That link is the cursor: stored as Okta sent it, followed as is,
//! never built by hand. Only the first request, or a restart after Okta rejects a cursor, uses
//! `since`. Okta may deliver an event twice, so the checkpoint keeps the last uuids seen.
//!
//! - `client`: the org URL and token, one authenticated `GET`, an answer's status and rate-limit
//!   headers classified into a [`PollError`] or events.
//! - `pagination`: the `since` request, the `Link` header's `rel="next"` target, a URL's page size.
//! - `checkpoint`: where the poller is: the first `since`, the uuid window that drops repeats.
//! - `poll`: a page ([`OktaLogPoller::next_page`]) and the loop ([`run`]) that stores pages in a
//!   [`LogSink`], waiting between polls, out rate limits and after failures.
//!
//! Time comes from the poller's [`Clock`](crate::clock::Clock) (see
//! [`OktaLogPoller::with_clock`]), so tests can place it; only sleeping uses tokio's timer.

mod checkpoint;
mod client;
mod pagination;
mod poll;

pub use checkpoint::Checkpoint;
pub use client::OktaLogPoller;
pub use poll::{run, LogSink};

use jiff::Timestamp;
use serde_json::Value;
use std::time::Duration;

/// How often [`run`] polls when the last page was not full.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Events asked for per request (Okta's maximum; its own default is 100).
pub const DEFAULT_PAGE_LIMIT: u16 = 1000;
/// How far back the very first request starts.
pub const DEFAULT_INITIAL_LOOKBACK: Duration = Duration::from_secs(3600);

/// What one request brought.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The events not seen before, in Okta's order.
    pub events: Vec<Value>,
    /// The checkpoint to persist with `events`.
    pub checkpoint: Checkpoint,
    /// The page was full: fetch the next one now rather than after the interval.
    pub more: bool,
    /// Rate-limit headers say the budget is spent: don't call before this time.
    pub pause_until: Option<Timestamp>,
}

/// Why a page could not be fetched, by what the caller does next.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// HTTP 429: wait until `until` (`X-Rate-Limit-Reset`, or a minute when absent).
    #[error("Okta rate limit exceeded; retry after {until}")]
    RateLimited {
        /// When the budget resets.
        until: Timestamp,
    },
    /// A 4xx other than 401, 403 and 429 (and other than a 400 on a cursor): the request is wrong.
    #[error("Okta rejected the request (HTTP {status} {error_code}): {summary}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Okta's `errorCode`, empty when the body had none.
        error_code: String,
        /// Okta's `errorSummary`, or the start of the body.
        summary: String,
    },
    /// A 5xx: retry with backoff.
    #[error("Okta failed (HTTP {status} {error_code}): {summary}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Okta's `errorCode`, empty when the body had none.
        error_code: String,
        /// Okta's `errorSummary`, or the start of the body.
        summary: String,
    },
    /// No usable answer: connection failure, timeout, body cut short. Retry with backoff.
    #[error("request to Okta failed: {0}")]
    Transport(String),
    /// A success status whose body is not a JSON array of events. Retry with backoff.
    #[error("unexpected answer from Okta: {0}")]
    InvalidResponse(String),
    /// Okta answered 400 to a `next` URL (or the stored one is not a System Log URL of this org):
    /// restart from the checkpoint's `since`.
    #[error("Okta cursor rejected ({error_code}): {summary}; restart from `since`")]
    CursorRejected {
        /// Okta's `errorCode`; empty when the cursor was refused before sending it.
        error_code: String,
        /// Why.
        summary: String,
    },
    /// Needs an operator: a bad org URL or token (401), a token without `okta.logs.read` (403).
    #[error("Okta System Log source misconfigured: {0}")]
    Misconfigured(String),
}
