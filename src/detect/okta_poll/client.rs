//! The HTTP side: which org and token, one authenticated `GET`, and the one place an answer's
//! status and rate-limit headers become a [`PollError`] or an [`Answer`].

use jiff::{SignedDuration, Timestamp};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

use super::checkpoint::RETENTION;
use super::pagination::next_link;
use super::{PollError, DEFAULT_INITIAL_LOOKBACK, DEFAULT_PAGE_LIMIT};
use crate::backoff::Backoff;
use crate::clock::{Clock, SystemClock};
use crate::http_client::HttpClients;
use crate::secrets::Secret;

const MAX_PAGE_LIMIT: u16 = 1000;
/// Okta's query timeout is 30 s: leave it time to answer with its own 500 (`E0000009`).
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(40);
/// Okta's rate-limit windows are per minute: the wait when a 429 names no reset.
const RATE_LIMIT_FALLBACK: SignedDuration = SignedDuration::from_secs(60);
const DEFAULT_MIN_BACKOFF: Duration = Duration::from_secs(2);
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Jitter takes off up to a quarter of a wait, so several pollers failing together do not retry
/// together.
const BACKOFF_SPREAD: f64 = 0.25;
pub(super) const LOGS_PATH: &str = "/api/v1/logs";

/// Reads Okta's System Log for one org, a page at a time.
#[derive(Debug, Clone)]
pub struct OktaLogPoller {
    http: HttpClients,
    org: Url,
    pub(super) logs: Url,
    token: Secret,
    pub(super) page_limit: u16,
    pub(super) initial_lookback: SignedDuration,
    request_timeout: Duration,
    /// [`run`](super::run)'s waits after failures.
    pub(super) backoff: Backoff,
    clock: Arc<dyn Clock>,
}

/// A successful answer: its events and what its headers say.
#[derive(Debug)]
pub(super) struct Answer {
    /// The body, a JSON array of events.
    pub(super) events: Vec<Value>,
    /// The `rel="next"` link as sent (maybe relative), if any.
    pub(super) next_link: Option<String>,
    /// The rate-limit budget is spent until then (`X-Rate-Limit-Remaining: 0`).
    pub(super) pause_until: Option<Timestamp>,
}

impl OktaLogPoller {
    /// A poller for the org at `org_url` (`https://<org>.okta.com`; plain `http` only on
    /// `localhost`/`127.0.0.1`/`[::1]`, for tests), authenticating with an SSWS API token.
    pub fn new(http: HttpClients, org_url: &str, token: Secret) -> Result<Self, PollError> {
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
            backoff: Backoff {
                first: DEFAULT_MIN_BACKOFF,
                cap: DEFAULT_MAX_BACKOFF,
                spread: BACKOFF_SPREAD,
            },
            clock: Arc::new(SystemClock),
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

    /// [`run`](super::run)'s wait after a failure: from `min`, doubling up to `max` (defaults 2 s
    /// and 5 min), each less up to a quarter at random.
    pub fn with_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff.first = min;
        self.backoff.cap = max.max(min);
        self
    }

    /// The clock [`run`](super::run) reads: where the first `since` falls and how long a
    /// rate-limit reset is away (default: the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The clock's time.
    pub(super) fn now(&self) -> Timestamp {
        let millis = self.clock.now();
        Timestamp::from_millisecond(millis).unwrap_or(if millis < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        })
    }

    /// The org's origin, for messages.
    pub(super) fn origin(&self) -> String {
        self.org.origin().ascii_serialization()
    }

    /// Whether `url` is this org's System Log endpoint: the only place the token may go.
    pub(super) fn is_org_logs_url(&self, url: &Url) -> bool {
        url.origin() == self.org.origin() && url.path() == LOGS_PATH
    }

    /// `GET url` with the token. `now` dates a 429 that names no reset; `on_cursor` says `url` is
    /// a stored `next` link, so a 400 means the cursor is refused.
    pub(super) async fn get(
        &self,
        url: &Url,
        now: Timestamp,
        on_cursor: bool,
    ) -> Result<Answer, PollError> {
        let mut auth =
            HeaderValue::from_str(&format!("SSWS {}", self.token.expose())).map_err(|_| {
                PollError::Misconfigured("the Okta API token is not a valid header value".into())
            })?;
        auth.set_sensitive(true);
        let request = self
            .http
            .direct
            .get(url.clone())
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json")
            .timeout(self.request_timeout);
        let response = self.http.send(request).await.map_err(|error| match error {
            crate::http_client::Error::Refused(refused) => {
                PollError::Misconfigured(format!("request refused: {refused}"))
            }
            crate::http_client::Error::Request(error) => PollError::Transport(describe(&error)),
        })?;
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
            return Err(self.error_for(status, &body, on_cursor));
        }
        let events: Vec<Value> = serde_json::from_slice(&body).map_err(|error| {
            PollError::InvalidResponse(format!("the body is not a JSON array of events: {error}"))
        })?;
        Ok(Answer {
            events,
            next_link: next_link(&headers),
            pause_until: match rate_limit_remaining(&headers) {
                Some(0) => reset,
                _ => None,
            },
        })
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
    let scrub = |text: String| text.replace(token, crate::secrets::REDACTED);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn poller() -> OktaLogPoller {
        OktaLogPoller::new(
            crate::http_client::HttpClients::new(),
            "https://example.okta.com",
            Secret::new("t0ken"),
        )
        .unwrap()
    }

    #[test]
    fn org_url_must_be_https_except_on_loopback() {
        let new = |url: &str| {
            OktaLogPoller::new(
                crate::http_client::HttpClients::new(),
                url,
                Secret::new("t"),
            )
        };
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
                crate::http_client::HttpClients::new(),
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
    fn page_limit_is_clamped_to_oktas_maximum() {
        assert_eq!(poller().with_page_limit(5000).page_limit, 1000);
        assert_eq!(poller().with_page_limit(0).page_limit, 1);
    }

    #[test]
    fn time_is_the_given_clocks() {
        let at = "2026-03-01T12:00:00Z".parse::<Timestamp>().unwrap();
        let clock = Arc::new(ManualClock::new(at.as_millisecond()));
        let poller = poller().with_clock(clock.clone());
        assert_eq!(poller.now(), at);
        clock.advance(Duration::from_secs(90));
        assert_eq!(poller.now().to_string(), "2026-03-01T12:01:30Z");
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

    #[tokio::test]
    async fn with_the_outbound_guard_a_loopback_org_is_refused_as_misconfigured() {
        let guarded = crate::http_client::HttpClients::with_outbound(
            crate::http_client::Outbound::PublicOnly,
        );
        let poller = OktaLogPoller::new(guarded, "http://127.0.0.1:9", Secret::new("t0ken"))
            .expect("loopback http is a valid org URL");
        let error = poller
            .get(&poller.logs, Timestamp::UNIX_EPOCH, false)
            .await
            .expect_err("refused");
        let PollError::Misconfigured(message) = &error else {
            panic!("not misconfigured: {error:?}");
        };
        assert!(message.contains("loopback address"), "{message}");
        assert!(!message.contains("t0ken"), "{message}");
    }
}
