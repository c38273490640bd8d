//! Polling: one page after a checkpoint ([`OktaLogPoller::next_page`]), and the loop ([`run`])
//! that stores pages in a [`LogSink`] and decides how long to wait before the next request.

use jiff::Timestamp;
use reqwest::Url;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::watch;

use super::client::OktaLogPoller;
use super::pagination::{limit_of, since_url};
use super::{Checkpoint, Page, PollError};
use crate::backoff::Failures;

/// Bounds a wait read from `X-Rate-Limit-Reset`, against clock skew or a bogus header.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(600);

impl OktaLogPoller {
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
                            self.origin()
                        ),
                    })
                }
            },
            None => {
                let since = checkpoint.start(now, self.initial_lookback);
                (since_url(&self.logs, since, self.page_limit), Some(since))
            }
        };
        let answer = self.get(&url, now, since_sent.is_none()).await?;
        let next = match answer.next_link {
            Some(link) => match url.join(&link) {
                Ok(next) if self.is_org_logs_url(&next) => Some(next.to_string()),
                // Following it would send the token elsewhere.
                _ => {
                    return Err(PollError::Misconfigured(format!(
                        "Okta's next link is not a System Log URL on {}; configure the org URL Okta uses in its links",
                        self.origin()
                    )))
                }
            },
            None => {
                // Polling mode always has one; without it, restart from `since` next time.
                tracing::warn!(url = %crate::escape::Escaped(&url), "Okta sent no rel=\"next\" link; the next poll restarts from `since`.");
                None
            }
        };
        let received = answer.events.len();
        let more = next.is_some() && received >= limit_of(&url);
        let (events, checkpoint) = checkpoint.advance(answer.events, next, since_sent);
        tracing::debug!(
            received,
            new = events.len(),
            more,
            "Fetched an Okta System Log page."
        );
        Ok(Page {
            events,
            checkpoint,
            more,
            pause_until: answer.pause_until,
        })
    }
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
/// delivery in flight is finished. The time is the poller's clock
/// ([`OktaLogPoller::with_clock`]).
pub async fn run(
    poller: OktaLogPoller,
    source: &str,
    sink: &impl LogSink,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures = Failures::new(poller.backoff);
    let mut checkpoint = loop {
        match sink.checkpoint(source).await {
            Ok(stored) => break stored.unwrap_or_default(),
            Err(error) => {
                let wait = failures.next(fastrand::f64());
                tracing::error!(source, error = %crate::escape::Escaped(format!("{error:#}")), wait_ms = millis(wait), "Reading the Okta checkpoint failed; retrying.");
                if !sleep_unless_stopped(wait, &mut shutdown).await {
                    return;
                }
            }
        }
    };
    failures.reset();
    tracing::info!(
        source,
        resuming = checkpoint.next.is_some(),
        "Okta System Log poller started."
    );
    while !*shutdown.borrow() {
        let fetched = tokio::select! {
            fetched = poller.next_page(&checkpoint, poller.now()) => fetched,
            _ = stopped(&mut shutdown) => break,
        };
        let wait = match fetched {
            Ok(page) => {
                let changed = !page.events.is_empty() || page.checkpoint != checkpoint;
                let events = page.events.len();
                if changed {
                    if let Err(error) = sink.deliver(source, page.events, &page.checkpoint).await {
                        // The page is fetched again from the old checkpoint.
                        let wait = failures.next(fastrand::f64());
                        tracing::error!(source, error = %crate::escape::Escaped(format!("{error:#}")), wait_ms = millis(wait), "Storing Okta events failed; retrying.");
                        wait
                    } else {
                        checkpoint = page.checkpoint;
                        failures.reset();
                        tracing::debug!(
                            source,
                            events,
                            more = page.more,
                            "Delivered Okta System Log events."
                        );
                        let wait = if page.more { Duration::ZERO } else { interval };
                        wait.max(until(page.pause_until, poller.now()))
                    }
                } else {
                    failures.reset();
                    interval.max(until(page.pause_until, poller.now()))
                }
            }
            Err(PollError::RateLimited { until: reset }) => {
                // At least the backoff: a reset already past (clock skew) must not become a
                // tight loop of 429s.
                let wait = until(Some(reset), poller.now()).max(failures.next(fastrand::f64()));
                tracing::warn!(source, reset = %reset, wait_ms = millis(wait), "Okta rate limit reached; waiting.");
                wait
            }
            Err(PollError::CursorRejected {
                error_code,
                summary,
            }) => {
                tracing::warn!(source, error_code = %crate::escape::Escaped(&error_code), summary = %crate::escape::Escaped(&summary), since = ?checkpoint.since, "Okta rejected the cursor; restarting from `since`.");
                checkpoint.next = None;
                continue;
            }
            Err(
                error @ (PollError::Server { .. }
                | PollError::Transport(_)
                | PollError::InvalidResponse(_)),
            ) => {
                let wait = failures.next(fastrand::f64());
                tracing::warn!(source, error = %crate::escape::Escaped(&error), wait_ms = millis(wait), "Okta System Log poll failed; retrying.");
                wait
            }
            Err(error @ (PollError::Rejected { .. } | PollError::Misconfigured(_))) => {
                // Retrying will not help until an operator acts, but stopping would leave the
                // source silently dead: keep trying, backing off to the cap.
                let wait = failures.next(fastrand::f64());
                tracing::error!(source, error = %crate::escape::Escaped(&error), wait_ms = millis(wait), "Okta System Log poll failed; an operator must act.");
                wait
            }
        };
        if !sleep_unless_stopped(wait, &mut shutdown).await {
            break;
        }
    }
    tracing::info!(source, "Okta System Log poller stopped.");
}

/// How long from `now` until `time`, zero if past, at most [`MAX_RATE_LIMIT_WAIT`].
fn until(time: Option<Timestamp>, now: Timestamp) -> Duration {
    let Some(time) = time else {
        return Duration::ZERO;
    };
    Duration::try_from(time.duration_since(now))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::secrets::Secret;
    use std::sync::{Arc, Mutex};
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_reset_is_waited_for_from_the_given_time_and_bounded() {
        let now = ts("2026-03-01T12:00:00Z");
        assert_eq!(until(None, now), Duration::ZERO);
        assert_eq!(
            until(Some(ts("2026-03-01T12:00:42Z")), now),
            Duration::from_secs(42)
        );
        assert_eq!(until(Some(ts("2026-03-01T11:59:00Z")), now), Duration::ZERO);
        assert_eq!(
            until(Some(ts("2026-03-02T12:00:00Z")), now),
            MAX_RATE_LIMIT_WAIT
        );
    }

    /// Records what [`run`] stores; signals each delivery.
    struct Recorder {
        stored: Mutex<Option<Checkpoint>>,
        delivered: watch::Sender<usize>,
    }

    impl LogSink for Recorder {
        async fn checkpoint(&self, _: &str) -> anyhow::Result<Option<Checkpoint>> {
            Ok(None)
        }

        async fn deliver(
            &self,
            _: &str,
            _: Vec<Value>,
            checkpoint: &Checkpoint,
        ) -> anyhow::Result<()> {
            *self.stored.lock().unwrap() = Some(checkpoint.clone());
            self.delivered.send_modify(|n| *n += 1);
            Ok(())
        }
    }

    #[tokio::test]
    async fn run_places_the_first_since_by_the_pollers_clock() {
        let okta = MockServer::start().await;
        let next = format!("{}/api/v1/logs?after=1", okta.uri());
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!([]))
                    .insert_header("link", format!("<{next}>; rel=\"next\"").as_str()),
            )
            .mount(&okta)
            .await;
        // Years from the system clock, so only the manual clock can place this `since`.
        let clock = Arc::new(ManualClock::new(
            ts("2020-05-01T01:00:00Z").as_millisecond(),
        ));
        let poller = OktaLogPoller::new(
            crate::http_client::HttpClients::new(),
            &okta.uri(),
            Secret::new("t"),
        )
        .unwrap()
        .with_clock(clock);
        let (stored, delivered) = watch::channel(0);
        let sink = Recorder {
            stored: Mutex::new(None),
            delivered: stored,
        };
        let (stop, shutdown) = watch::channel(false);
        let mut seen = delivered.clone();
        let polling = async {
            tokio::join!(
                run(poller, "okta", &sink, Duration::from_secs(3600), shutdown),
                async {
                    seen.wait_for(|n| *n >= 1).await.unwrap();
                    stop.send(true).unwrap();
                }
            )
        };
        tokio::time::timeout(Duration::from_secs(10), polling)
            .await
            .expect("run stops when shutdown is signalled");

        let requests = okta.received_requests().await.unwrap();
        let since = requests[0]
            .url
            .query_pairs()
            .find(|(name, _)| name == "since")
            .map(|(_, value)| value.into_owned());
        assert_eq!(since.as_deref(), Some("2020-05-01T00:00:00.000Z"));
        let stored = sink.stored.lock().unwrap().clone().unwrap();
        assert_eq!(stored.next.as_deref(), Some(next.as_str()));
        assert_eq!(stored.since.as_deref(), Some("2020-05-01T00:00:00.000Z"));
    }
}
