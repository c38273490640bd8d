//! The Okta System Log source: polls `GET /api/v1/logs` and hands new events to a [`LogSink`].
//!
//! Okta's *polling* requests (`until` unset, `sortOrder=ASCENDING`) filter on persistence time, so
//! delayed events are not skipped, and always answer with a `rel="next"` link, even on an empty
//! page (`external-apis.md` §5.5). That link is the cursor: stored as Okta sent it, followed as is,
//! never built by hand. Only the first request, or a restart after Okta rejects a cursor, uses
//! `since`. Okta may deliver an event twice, so the checkpoint keeps the last uuids seen.

use jiff::{SignedDuration, Timestamp};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, LINK};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::watch;

use crate::secrets::Secret;

/// How often [`run`] polls when the last page was not full.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Events asked for per request (Okta's maximum; its own default is 100).
pub const DEFAULT_PAGE_LIMIT: u16 = 1000;
/// How far back the very first request starts.
pub const DEFAULT_INITIAL_LOOKBACK: Duration = Duration::from_secs(3600);

const MAX_PAGE_LIMIT: u16 = 1000;
/// Okta's default when a `next` link carries no `limit`.
const OKTA_DEFAULT_LIMIT: usize = 100;
/// Okta returns nothing older, and a `since` past 180 days is a 400 (`E0000053`).
const RETENTION: SignedDuration = SignedDuration::from_hours(90 * 24);
/// At least one full page, so a redelivered page is recognised.
const RECENT_UUIDS: usize = 1000;
/// Okta's query timeout is 30 s: leave it time to answer with its own 500 (`E0000009`).
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(40);
/// Okta's rate-limit windows are per minute: the wait when a 429 names no reset.
const RATE_LIMIT_FALLBACK: SignedDuration = SignedDuration::from_secs(60);
/// Bounds a wait read from `X-Rate-Limit-Reset`, against clock skew or a bogus header.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(600);
const DEFAULT_MIN_BACKOFF: Duration = Duration::from_secs(2);
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(300);
const LOGS_PATH: &str = "/api/v1/logs";

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

/// Reads Okta's System Log for one org, a page at a time.
#[derive(Debug, Clone)]
pub struct OktaLogPoller {
    http: reqwest::Client,
    org: Url,
    logs: Url,
    token: Secret,
    page_limit: u16,
    initial_lookback: SignedDuration,
    request_timeout: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
}

impl OktaLogPoller {
    /// A poller for the org at `org_url` (`https://<org>.okta.com`; plain `http` only on
    /// `localhost`/`127.0.0.1`/`[::1]`, for tests), authenticating with an SSWS API token.
    pub fn new(http: reqwest::Client, org_url: &str, token: Secret) -> Result<Self, PollError> {
        let org = parse_org_url(org_url)?;
        if token.expose().is_empty() {
            return Err(PollError::Misconfigured(
                "the Okta API token is empty".into(),
            ));
        }
        let logs = org.join(LOGS_PATH).expect("a fixed path joins");
        Ok(OktaLogPoller {
            http,
            org,
            logs,
            token,
            page_limit: DEFAULT_PAGE_LIMIT,
            initial_lookback: SignedDuration::try_from(DEFAULT_INITIAL_LOOKBACK)
                .expect("an hour fits"),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            min_backoff: DEFAULT_MIN_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
        })
    }

    /// Events per request, 1..=1000 (clamped). Applies to `since` requests; a `next` link keeps
    /// the limit it was issued with.
    pub fn with_page_limit(mut self, limit: u16) -> Self {
        self.page_limit = limit.clamp(1, MAX_PAGE_LIMIT);
        self
    }

    /// How far back the first request starts (at most Okta's 90-day retention).
    pub fn with_initial_lookback(mut self, lookback: Duration) -> Self {
        self.initial_lookback = SignedDuration::try_from(lookback)
            .unwrap_or(RETENTION)
            .min(RETENTION);
        self
    }

    /// Client-side limit on one request (default 40 s, above Okta's own 30 s query timeout).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// [`run`]'s wait after a failure: from `min`, doubling up to `max` (defaults 2 s and 5 min).
    pub fn with_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max.max(min);
        self
    }

    /// Fetches the page after `checkpoint`: the events not seen before, the checkpoint to persist
    /// with them, whether to fetch again at once. `now` places the first `since`.
    pub async fn next_page(
        &self,
        checkpoint: &Checkpoint,
        now: Timestamp,
    ) -> Result<Page, PollError> {
        let (url, since_sent) = match &checkpoint.next {
            Some(next) => match Url::parse(next) {
                Ok(url) if self.is_org_logs_url(&url) => (url, None),
                _ => {
                    return Err(PollError::CursorRejected {
                        error_code: String::new(),
                        summary: format!(
                            "the stored cursor is not a System Log URL on {}",
                            self.org.origin().ascii_serialization()
                        ),
                    })
                }
            },
            None => {
                let since = self.since(checkpoint, now);
                (self.since_url(since), Some(since))
            }
        };
        let mut auth =
            HeaderValue::from_str(&format!("SSWS {}", self.token.expose())).map_err(|_| {
                PollError::Misconfigured("the Okta API token is not a valid header value".into())
            })?;
        auth.set_sensitive(true);
        let response = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json")
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|error| PollError::Transport(describe(&error)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|error| PollError::Transport(describe(&error)))?;
        let reset = rate_limit_reset(&headers);
        if status == StatusCode::TOO_MANY_REQUESTS {
            let until = reset.unwrap_or_else(|| {
                now.saturating_add(RATE_LIMIT_FALLBACK)
                    .unwrap_or(Timestamp::MAX)
            });
            return Err(PollError::RateLimited { until });
        }
        if !status.is_success() {
            return Err(self.error_for(status, &body, since_sent.is_none()));
        }
        let events: Vec<Value> = serde_json::from_slice(&body).map_err(|error| {
            PollError::InvalidResponse(format!("the body is not a JSON array of events: {error}"))
        })?;

        let next = match next_link(&headers) {
            Some(link) => match url.join(&link) {
                Ok(next) if self.is_org_logs_url(&next) => Some(next.to_string()),
                // Following it would send the token elsewhere.
                _ => {
                    return Err(PollError::Misconfigured(format!(
                        "Okta's next link is not a System Log URL on {}; configure the org URL Okta uses in its links",
                        self.org.origin().ascii_serialization()
                    )))
                }
            },
            None => {
                // Polling mode always has one; without it, restart from `since` next time.
                tracing::warn!(url = %url, "Okta sent no rel=\"next\" link; the next poll restarts from `since`.");
                None
            }
        };
        let received = events.len();
        let more = next.is_some() && received >= limit_of(&url);
        let start = since_sent.or_else(|| parse_time(checkpoint.since.as_deref()));
        let (events, since, recent_uuids) = drop_seen(events, &checkpoint.recent_uuids, start);
        tracing::debug!(
            received,
            new = events.len(),
            more,
            "Fetched an Okta System Log page."
        );
        let pause_until = match rate_limit_remaining(&headers) {
            Some(0) => reset,
            _ => None,
        };
        Ok(Page {
            events,
            checkpoint: Checkpoint {
                next,
                since: since.map(|t| format!("{t:.3}")),
                recent_uuids,
            },
            more,
            pause_until,
        })
    }

    /// The stored `since`, else `now` minus the initial lookback; within Okta's retention.
    fn since(&self, checkpoint: &Checkpoint, now: Timestamp) -> Timestamp {
        let stored = parse_time(checkpoint.since.as_deref());
        if stored.is_none() && checkpoint.since.is_some() {
            tracing::warn!(since = ?checkpoint.since, "Unreadable checkpoint `since`; using the initial lookback.");
        }
        let oldest = now.saturating_sub(RETENTION).unwrap_or(Timestamp::MIN);
        let wanted =
            stored.unwrap_or_else(|| now.saturating_sub(self.initial_lookback).unwrap_or(oldest));
        wanted.clamp(oldest, now)
    }

    fn since_url(&self, since: Timestamp) -> Url {
        let mut url = self.logs.clone();
        url.query_pairs_mut()
            .append_pair("since", &format!("{since:.3}"))
            .append_pair("sortOrder", "ASCENDING")
            .append_pair("limit", &self.page_limit.to_string());
        url
    }

    /// Whether `url` is this org's System Log endpoint: the only place the token may go.
    fn is_org_logs_url(&self, url: &Url) -> bool {
        url.origin() == self.org.origin() && url.path() == LOGS_PATH
    }

    /// The one place an HTTP status becomes a [`PollError`] (429 is handled before).
    fn error_for(&self, status: StatusCode, body: &[u8], on_cursor: bool) -> PollError {
        let (error_code, summary) = okta_error(body, self.token.expose());
        let code = status.as_u16();
        match status {
            StatusCode::BAD_REQUEST if on_cursor => PollError::CursorRejected {
                error_code,
                summary,
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => PollError::Misconfigured(format!(
                "Okta answered HTTP {code} {error_code}: {summary} (check the API token and its okta.logs.read permission)"
            )),
            s if s.is_client_error() => PollError::Rejected {
                status: code,
                error_code,
                summary,
            },
            s if s.is_server_error() => PollError::Server {
                status: code,
                error_code,
                summary,
            },
            _ => PollError::InvalidResponse(format!("HTTP {code}")),
        }
    }
}

fn parse_org_url(org_url: &str) -> Result<Url, PollError> {
    // The URL is not echoed: it might carry a password in its user part.
    let bad = |why: &str| PollError::Misconfigured(format!("the Okta org URL {why}"));
    let url = Url::parse(org_url).map_err(|error| bad(&format!("is not a URL: {error}")))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("must use https")),
    }
    if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must name a host and no user"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "must be the org's origin only (https://<org>.okta.com)",
        ));
    }
    Ok(url)
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

/// The `limit` a request asked for (a `next` link carries its own).
fn limit_of(url: &Url) -> usize {
    url.query_pairs()
        .find(|(name, _)| name == "limit")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(OKTA_DEFAULT_LIMIT)
}

/// The `rel="next"` target among all `Link` header values (Okta sends `self` and `next` as
/// separate headers; one header may also hold several comma-separated links).
fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(parse_link_header)
        .find(|(_, rels)| rels.iter().any(|rel| rel.eq_ignore_ascii_case("next")))
        .map(|(target, _)| target)
}

/// `<url>; rel="a b", <url2>; rel=c` → `[(url, [a, b]), (url2, [c])]`.
fn parse_link_header(value: &str) -> Vec<(String, Vec<String>)> {
    let mut links = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|i| open + i) else {
            break;
        };
        let target = rest[open + 1..close].trim().to_owned();
        rest = &rest[close + 1..];
        // Parameters run to the next comma outside quotes.
        let mut in_quotes = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                in_quotes ^= c == '"';
                c == ',' && !in_quotes
            })
            .map_or(rest.len(), |(i, _)| i);
        let rels = rest[..end]
            .split(';')
            .filter_map(|param| param.split_once('='))
            .filter(|(name, _)| name.trim().eq_ignore_ascii_case("rel"))
            .flat_map(|(_, value)| {
                value
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        links.push((target, rels));
        rest = &rest[end..];
    }
    links
}

fn rate_limit_remaining(headers: &HeaderMap) -> Option<u64> {
    header_number(headers, "x-rate-limit-remaining")
}

fn rate_limit_reset(headers: &HeaderMap) -> Option<Timestamp> {
    let seconds = header_number(headers, "x-rate-limit-reset")?;
    Timestamp::from_second(i64::try_from(seconds).ok()?).ok()
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Okta's `errorCode` and `errorSummary`, or the start of a body that is not Okta's error JSON;
/// scrubbed of the token in case anything on the way echoed it.
fn okta_error(body: &[u8], token: &str) -> (String, String) {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct OktaError {
        #[serde(default)]
        error_code: String,
        #[serde(default)]
        error_summary: String,
    }
    let (code, summary) = match serde_json::from_slice::<OktaError>(body) {
        Ok(error) => (error.error_code, error.error_summary),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            (String::new(), text.trim().chars().take(200).collect())
        }
    };
    let scrub = |text: String| text.replace(token, "[redacted]");
    (scrub(code), scrub(summary))
}

/// A reqwest error with its causes (its `Display` alone omits them, e.g. "timed out").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Where [`run`] sends pages. Implemented by the pipeline over the database; by an in-memory fake
/// in tests.
pub trait LogSink: Send + Sync {
    /// The stored checkpoint for `source`, if any.
    fn checkpoint(
        &self,
        source: &str,
    ) -> impl std::future::Future<Output = anyhow::Result<Option<Checkpoint>>> + Send;
    /// Durably stores `events` and `checkpoint` together (one transaction), so a crash never
    /// loses or replays a page.
    fn deliver(
        &self,
        source: &str,
        events: Vec<Value>,
        checkpoint: &Checkpoint,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
}

/// Polls until `shutdown` turns true (or its sender is dropped): every `interval`, at once while
/// pages are full, waiting out rate limits, backing off exponentially on failures, restarting
/// from `since` when Okta rejects the cursor. A fetch in flight is abandoned on shutdown; a
/// delivery in flight is finished.
pub async fn run(
    poller: OktaLogPoller,
    source: &str,
    sink: &impl LogSink,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(poller.min_backoff, poller.max_backoff);
    let mut checkpoint = loop {
        match sink.checkpoint(source).await {
            Ok(stored) => break stored.unwrap_or_default(),
            Err(error) => {
                let wait = backoff.next();
                tracing::error!(source, error = %format!("{error:#}"), wait_ms = millis(wait), "Reading the Okta checkpoint failed; retrying.");
                if !sleep_unless_stopped(wait, &mut shutdown).await {
                    return;
                }
            }
        }
    };
    backoff.reset();
    tracing::info!(
        source,
        resuming = checkpoint.next.is_some(),
        "Okta System Log poller started."
    );
    while !*shutdown.borrow() {
        let fetched = tokio::select! {
            fetched = poller.next_page(&checkpoint, Timestamp::now()) => fetched,
            _ = stopped(&mut shutdown) => break,
        };
        let wait = match fetched {
            Ok(page) => {
                let changed = !page.events.is_empty() || page.checkpoint != checkpoint;
                let events = page.events.len();
                if changed {
                    if let Err(error) = sink.deliver(source, page.events, &page.checkpoint).await {
                        // The page is fetched again from the old checkpoint.
                        let wait = backoff.next();
                        tracing::error!(source, error = %format!("{error:#}"), wait_ms = millis(wait), "Storing Okta events failed; retrying.");
                        wait
                    } else {
                        checkpoint = page.checkpoint;
                        backoff.reset();
                        tracing::debug!(
                            source,
                            events,
                            more = page.more,
                            "Delivered Okta System Log events."
                        );
                        let wait = if page.more { Duration::ZERO } else { interval };
                        wait.max(until(page.pause_until))
                    }
                } else {
                    backoff.reset();
                    interval.max(until(page.pause_until))
                }
            }
            Err(PollError::RateLimited { until: reset }) => {
                // At least the backoff: a reset already past (clock skew) must not become a
                // tight loop of 429s.
                let wait = until(Some(reset)).max(backoff.next());
                tracing::warn!(source, reset = %reset, wait_ms = millis(wait), "Okta rate limit reached; waiting.");
                wait
            }
            Err(PollError::CursorRejected {
                error_code,
                summary,
            }) => {
                tracing::warn!(source, error_code, summary, since = ?checkpoint.since, "Okta rejected the cursor; restarting from `since`.");
                checkpoint.next = None;
                continue;
            }
            Err(
                error @ (PollError::Server { .. }
                | PollError::Transport(_)
                | PollError::InvalidResponse(_)),
            ) => {
                let wait = backoff.next();
                tracing::warn!(source, %error, wait_ms = millis(wait), "Okta System Log poll failed; retrying.");
                wait
            }
            Err(error @ (PollError::Rejected { .. } | PollError::Misconfigured(_))) => {
                // Retrying will not help until an operator acts, but stopping would leave the
                // source silently dead: keep trying, backing off to the cap.
                let wait = backoff.next();
                tracing::error!(source, %error, wait_ms = millis(wait), "Okta System Log poll failed; an operator must act.");
                wait
            }
        };
        if !sleep_unless_stopped(wait, &mut shutdown).await {
            break;
        }
    }
    tracing::info!(source, "Okta System Log poller stopped.");
}

/// How long until `time`, zero if past, at most [`MAX_RATE_LIMIT_WAIT`].
fn until(time: Option<Timestamp>) -> Duration {
    let Some(time) = time else {
        return Duration::ZERO;
    };
    Duration::try_from(time.duration_since(Timestamp::now()))
        .unwrap_or(Duration::ZERO)
        .min(MAX_RATE_LIMIT_WAIT)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Resolves when shutdown is signalled or can no longer be (sender dropped).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Sleeps for `wait`; false if shutdown came first.
async fn sleep_unless_stopped(wait: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if wait.is_zero() {
        return !*shutdown.borrow();
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = stopped(shutdown) => false,
    }
}

/// Exponential backoff with jitter, from `min` doubling to `max`.
#[derive(Debug)]
struct Backoff {
    min: Duration,
    max: Duration,
    last: Option<Duration>,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            last: None,
        }
    }

    fn next(&mut self) -> Duration {
        let base = self
            .last
            .map_or(self.min, |last| last.saturating_mul(2).min(self.max));
        self.last = Some(base);
        // Up to a quarter less, so several pollers failing together do not retry together.
        base.mul_f64(1.0 - fastrand::f64() / 4.0)
    }

    fn reset(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn poller() -> OktaLogPoller {
        OktaLogPoller::new(
            reqwest::Client::new(),
            "https://example.okta.com",
            Secret::new("t0ken"),
        )
        .unwrap()
    }

    fn headers(links: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for link in links {
            headers.append(LINK, HeaderValue::from_str(link).unwrap());
        }
        headers
    }

    #[test]
    fn next_link_is_found_among_separate_link_headers() {
        let headers = headers(&[
            "<https://example.okta.com/api/v1/logs?limit=3>; rel=\"self\"",
            "<https://example.okta.com/api/v1/logs?limit=3&after=1630001102936_1>; rel=\"next\"",
        ]);
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://example.okta.com/api/v1/logs?limit=3&after=1630001102936_1")
        );
    }

    #[test]
    fn next_link_is_found_in_a_combined_header_with_unquoted_or_multiple_rels() {
        let headers = headers(&[
            "<https://a/x?b=1,2>; rel=\"self\", <https://a/y>; title=\"a, b\"; rel=\"prev next\"",
        ]);
        assert_eq!(next_link(&headers).as_deref(), Some("https://a/y"));
        let headers = self::headers(&["<https://a/z>;rel=next"]);
        assert_eq!(next_link(&headers).as_deref(), Some("https://a/z"));
    }

    #[test]
    fn only_self_means_no_next_link() {
        assert_eq!(next_link(&headers(&["<https://a/x>; rel=\"self\""])), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn org_url_must_be_https_except_on_loopback() {
        let new = |url: &str| OktaLogPoller::new(reqwest::Client::new(), url, Secret::new("t"));
        assert!(new("https://example.okta.com").is_ok());
        assert!(new("https://example.okta.com/").is_ok());
        assert!(new("http://127.0.0.1:8080").is_ok());
        assert!(new("http://localhost:8080").is_ok());
        assert!(new("http://[::1]:8080").is_ok());
        for bad in [
            "http://example.okta.com",
            "ftp://example.okta.com",
            "https://example.okta.com/api",
            "https://example.okta.com/?x=1",
            "https://user:pw@example.okta.com",
            "example.okta.com",
        ] {
            assert!(
                matches!(new(bad), Err(PollError::Misconfigured(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            OktaLogPoller::new(
                reqwest::Client::new(),
                "https://example.okta.com",
                Secret::default()
            ),
            Err(PollError::Misconfigured(_))
        ));
    }

    #[test]
    fn stored_cursor_on_another_origin_or_path_is_refused() {
        let poller = poller();
        let accepted = |link: &str| Url::parse(link).is_ok_and(|url| poller.is_org_logs_url(&url));
        assert!(accepted("https://example.okta.com/api/v1/logs?after=1"));
        for bad in [
            "https://evil.example/api/v1/logs?after=1",
            "http://example.okta.com/api/v1/logs?after=1",
            "https://example.okta.com/api/v1/users",
            "not a url",
        ] {
            assert!(!accepted(bad), "{bad}");
        }
    }

    #[test]
    fn first_since_is_the_lookback_and_a_stored_since_is_kept_within_retention() {
        let now: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
        let poller = poller();
        assert_eq!(
            poller.since(&Checkpoint::default(), now).to_string(),
            "2026-03-01T11:00:00Z"
        );
        let stored = |since: &str| Checkpoint {
            since: Some(since.into()),
            ..Checkpoint::default()
        };
        assert_eq!(
            poller.since(&stored("2026-02-27T08:00:00.123Z"), now),
            "2026-02-27T08:00:00.123Z".parse::<Timestamp>().unwrap()
        );
        // Past the retention Okta returns nothing, and past 180 days it answers 400.
        assert_eq!(
            poller.since(&stored("2025-01-01T00:00:00Z"), now),
            now.saturating_sub(RETENTION).unwrap()
        );
        assert_eq!(poller.since(&stored("2027-01-01T00:00:00Z"), now), now);
    }

    #[test]
    fn since_request_is_a_polling_request() {
        let url = poller()
            .with_page_limit(5000)
            .since_url("2026-03-01T11:00:00Z".parse().unwrap());
        assert_eq!(
            url.as_str(),
            "https://example.okta.com/api/v1/logs?since=2026-03-01T11%3A00%3A00.000Z&sortOrder=ASCENDING&limit=1000"
        );
        assert_eq!(limit_of(&url), 1000);
        assert_eq!(
            limit_of(&Url::parse("https://a/api/v1/logs?after=x").unwrap()),
            100
        );
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
    fn error_bodies_give_code_and_summary_without_the_token() {
        let body = br#"{"errorCode":"E0000011","errorSummary":"Invalid token provided"}"#;
        assert_eq!(
            okta_error(body, "t0ken"),
            ("E0000011".into(), "Invalid token provided".into())
        );
        let (code, summary) = okta_error(b"<html>bad gateway t0ken</html>", "t0ken");
        assert_eq!(code, "");
        assert_eq!(summary, "<html>bad gateway [redacted]</html>");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(5));
        let first = backoff.next();
        assert!(first > Duration::from_millis(1499) && first <= Duration::from_secs(2));
        assert!(backoff.next() <= Duration::from_secs(4));
        assert!(backoff.next() <= Duration::from_secs(5));
        assert!(backoff.next() >= Duration::from_millis(3750));
        backoff.reset();
        assert!(backoff.next() <= Duration::from_secs(2));
    }
}
