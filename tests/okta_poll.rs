//! The Okta System Log poller against a wiremock Okta that follows `external-apis.md` §5.5:
//! polling requests only (`until` unset, `sortOrder=ASCENDING`), an opaque `after` cursor in a
//! `rel="next"` link sent as its own `link` header next to `rel="self"`, a `next` link on every
//! page (even an empty one), rate-limit headers on every response, Okta's error bodies.
//! Events are the shapes of `fixtures/okta/systemlog-page.json` (copied from the shared
//! fixtures), with fresh uuids and recent `published` times where a test needs many.

use jiff::{SignedDuration, Timestamp};
use reqwest::Url;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use warden::detect::okta_poll::{run, Checkpoint, LogSink, OktaLogPoller, PollError};
use warden::http_client::HttpClients;
use warden::secrets::Secret;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "00Qx-okta-test-token-must-not-leak";
/// `okta/systemlog-page.json`: three events answering
/// `GET /api/v1/logs?since=2020-05-01T00%3A00%3A00.000Z&limit=3&sortOrder=ASCENDING`.
const PAGE_FIXTURE: &str = include_str!("fixtures/okta/systemlog-page.json");
/// `okta/api/error-429.json`.
const ERROR_429_FIXTURE: &str = include_str!("fixtures/okta/error-429.json");
/// A bound on waits that should end at once, so a bug fails the test instead of hanging it.
const HANG_GUARD: Duration = Duration::from_secs(10);

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn fixture_events() -> Vec<Value> {
    serde_json::from_str(PAGE_FIXTURE).unwrap()
}

/// `count` fixture-shaped events, each with its own uuid, published a second apart, the last a
/// minute before `now`.
fn events(count: usize, now: Timestamp) -> Vec<Value> {
    let fixtures = fixture_events();
    (0..count)
        .map(|i| {
            let mut event = fixtures[i % fixtures.len()].clone();
            event["uuid"] = json!(format!("{i:08x}-0000-4000-8000-{i:012x}"));
            let age = SignedDuration::from_secs(60 + (count - 1 - i) as i64);
            event["published"] = json!(format!("{:.3}", now - age));
            event
        })
        .collect()
}

fn poller(server: &MockServer, token: &str) -> OktaLogPoller {
    OktaLogPoller::new(HttpClients::new().direct, &server.uri(), Secret::new(token))
        .unwrap()
        .with_page_limit(3)
        .with_backoff(Duration::from_millis(10), Duration::from_millis(50))
}

/// Okta's error body (§5.3), with the rate-limit headers every response carries.
fn okta_error(status: u16, code: &str, summary: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({
            "errorCode": code, "errorSummary": summary, "errorLink": code,
            "errorId": "oaeTestErrorId000000000", "errorCauses": []
        }))
        .insert_header("X-Rate-Limit-Limit", "120")
        .insert_header("X-Rate-Limit-Remaining", "118")
        .insert_header("X-Rate-Limit-Reset", "1630001160")
}

/// Okta's System Log in polling mode. Events are kept in persistence order; a cursor is the
/// position in that order plus a serial number, opaque to the poller and valid only if issued.
#[derive(Clone)]
struct OktaLog {
    base: String,
    now: Timestamp,
    events: Arc<Mutex<Vec<Value>>>,
    /// Every `next` link sent, in order.
    issued: Arc<Mutex<Vec<String>>>,
}

impl OktaLog {
    async fn start(now: Timestamp, events: Vec<Value>) -> (MockServer, OktaLog) {
        let server = MockServer::start().await;
        let log = OktaLog {
            base: server.uri(),
            now,
            events: Arc::new(Mutex::new(events)),
            issued: Arc::default(),
        };
        Mock::given(method("GET"))
            .and(path("/api/v1/logs"))
            .respond_with(log.clone())
            .mount(&server)
            .await;
        (server, log)
    }

    fn push(&self, events: Vec<Value>) {
        self.events.lock().unwrap().extend(events);
    }

    fn issued(&self) -> Vec<String> {
        self.issued.lock().unwrap().clone()
    }

    /// The position an issued `after` token stands for.
    fn position(&self, after: &str) -> Option<usize> {
        let issued = self.issued.lock().unwrap();
        let known = issued.iter().any(|link| {
            Url::parse(link)
                .unwrap()
                .query_pairs()
                .any(|(name, value)| name == "after" && value == after)
        });
        known.then(|| after.split('_').next()?.parse().ok())?
    }
}

impl Respond for OktaLog {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let expected = format!("SSWS {TOKEN}");
        if request.headers.get("authorization").map(|v| v.as_bytes()) != Some(expected.as_bytes()) {
            return okta_error(401, "E0000011", "Invalid token provided");
        }
        let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        // Okta would answer a bounded query (gaps, a last page without `next`); the poller must
        // never send one. (This rejection is the mock's, not Okta's.)
        if query.contains_key("until")
            || query.get("sortOrder").map(String::as_str) != Some("ASCENDING")
        {
            return okta_error(
                400,
                "E0000001",
                "Api validation failed: test mock accepts polling requests only",
            );
        }
        let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
            None => 100,
            Some(Ok(limit)) if limit <= 1000 => limit,
            Some(_) => return okta_error(400, "E0000001", "Api validation failed: 'limit'"),
        };
        let log = self.events.lock().unwrap().clone();
        let (page, position) = if let Some(after) = query.get("after") {
            // Okta's next links carry `since` too (see the fixture); `after` wins.
            let Some(start) = self.position(after) else {
                return okta_error(400, "E0000001", "Api validation failed: 'after'");
            };
            let page: Vec<Value> = log.iter().skip(start).take(limit).cloned().collect();
            let position = start + page.len();
            (page, position)
        } else {
            let Some(since) = query.get("since").and_then(|s| s.parse::<Timestamp>().ok()) else {
                return okta_error(400, "E0000001", "Api validation failed: 'since': The date format in your query is not recognized. Please enter dates using ISO8601 string format.");
            };
            if since < self.now - SignedDuration::from_hours(180 * 24) {
                return okta_error(400, "E0000053", "Invalid parameter: The since parameter is over 180 days prior to the current day.");
            }
            // Persistence time, which polling filters on, is approximated by `published`.
            let mut page = Vec::new();
            let mut position = log.len();
            for (index, event) in log.iter().enumerate() {
                if ts(event["published"].as_str().unwrap()) >= since {
                    page.push(event.clone());
                    if page.len() == limit {
                        position = index + 1;
                        break;
                    }
                }
            }
            (page, position)
        };
        let mut issued = self.issued.lock().unwrap();
        let mut next = Url::parse(&format!("{}/api/v1/logs", self.base)).unwrap();
        {
            // The request's parameters but `after`, then the new cursor (the fixture's shape).
            let mut pairs = next.query_pairs_mut();
            for (name, value) in request
                .url
                .query_pairs()
                .filter(|(name, _)| name != "after")
            {
                pairs.append_pair(&name, &value);
            }
            pairs.append_pair("after", &format!("{position}_{}", issued.len()));
        }
        issued.push(next.to_string());
        ResponseTemplate::new(200)
            .set_body_json(page)
            .insert_header("X-Rate-Limit-Limit", "120")
            .insert_header("X-Rate-Limit-Remaining", "119")
            .insert_header(
                "X-Rate-Limit-Reset",
                (self.now.as_second() + 60).to_string().as_str(),
            )
            .append_header(
                "link",
                format!("<{}{}>; rel=\"self\"", self.base, target(&request.url)).as_str(),
            )
            .append_header("link", format!("<{next}>; rel=\"next\"").as_str())
    }
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

/// Path and query of a URL.
fn target(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The URL a request was sent to (wiremock rebuilds it on `localhost`; the `Host` header has
/// the real authority).
fn sent_to(request: &Request) -> String {
    let host = request.headers["host"].to_str().unwrap();
    format!("http://{host}{}", target(&request.url))
}

fn query(request: &Request) -> HashMap<String, String> {
    request.url.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn first_poll_is_a_polling_request_with_ssws_auth_and_next_is_followed_as_sent() {
    let now = ts("2026-03-01T12:00:00Z");
    let log = events(3, now);
    let (server, okta) = OktaLog::start(now, log.clone()).await;
    let poller = poller(&server, TOKEN).with_page_limit(10);

    let first = poller.next_page(&Checkpoint::default(), now).await.unwrap();
    assert_eq!(first.events, log);
    assert!(!first.more);
    assert_eq!(first.pause_until, None);
    assert_eq!(
        first.checkpoint.next.as_deref(),
        Some(okta.issued()[0].as_str())
    );
    assert_eq!(
        first.checkpoint.since.as_deref(),
        Some("2026-03-01T11:59:00.000Z")
    );
    let sent = &requests(&server).await[0];
    assert_eq!(sent.url.path(), "/api/v1/logs");
    assert_eq!(
        sent.url.query(),
        Some("since=2026-03-01T11%3A00%3A00.000Z&sortOrder=ASCENDING&limit=10")
    );
    assert_eq!(
        sent.headers["authorization"],
        format!("SSWS {TOKEN}").as_str()
    );
    assert_eq!(sent.headers["accept"], "application/json");

    let second = poller.next_page(&first.checkpoint, now).await.unwrap();
    assert!(second.events.is_empty());
    assert_eq!(sent_to(&requests(&server).await[1]), okta.issued()[0]);
}

#[tokio::test]
async fn the_fixture_page_is_read_and_remaining_zero_pauses_until_reset() {
    let server = MockServer::start().await;
    let rebase = |link: &str| link.replace("https://example.okta.com", &server.uri());
    // The manifest's request, status and headers, with `X-Rate-Limit-Remaining` spent.
    Mock::given(method("GET"))
        .and(path("/api/v1/logs"))
        .and(query_param("since", "2020-05-01T00:00:00.000Z"))
        .and(query_param("limit", "3"))
        .and(query_param("sortOrder", "ASCENDING"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(PAGE_FIXTURE, "application/json")
                .insert_header("X-Rate-Limit-Limit", "120")
                .insert_header("X-Rate-Limit-Remaining", "0")
                .insert_header("X-Rate-Limit-Reset", "1630001160")
                .append_header("link", rebase("<https://example.okta.com/api/v1/logs?since=2020-05-01T00%3A00%3A00.000Z&limit=3&sortOrder=ASCENDING>; rel=\"self\"").as_str())
                .append_header("link", rebase("<https://example.okta.com/api/v1/logs?since=2020-05-01T00%3A00%3A00.000Z&limit=3&sortOrder=ASCENDING&after=1630001102936_1>; rel=\"next\"").as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let checkpoint = Checkpoint {
        since: Some("2020-05-01T00:00:00.000Z".into()),
        ..Checkpoint::default()
    };

    let page = poller(&server, TOKEN)
        .next_page(&checkpoint, ts("2020-05-02T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(page.events, fixture_events());
    assert!(page.more, "3 events at limit=3 is a full page");
    assert_eq!(
        page.pause_until,
        Some(Timestamp::from_second(1630001160).unwrap())
    );
    assert_eq!(
        page.checkpoint,
        Checkpoint {
            next: Some(format!("{}/api/v1/logs?since=2020-05-01T00%3A00%3A00.000Z&limit=3&sortOrder=ASCENDING&after=1630001102936_1", server.uri())),
            since: Some("2021-08-26T16:25:02.936Z".into()),
            recent_uuids: vec![
                "5d730bf4-8b95-11ea-8cbe-bf2eaab2e9ef".into(),
                "2a992f80-d1ad-4f62-900e-8c68bb72a21b".into(),
                "b6f1c3de-0a7e-4c1b-9d51-3f2a8e6c7b10".into(),
            ],
        }
    );
}

#[tokio::test]
async fn full_page_asks_for_more_and_an_empty_page_keeps_its_new_next_link() {
    let now = ts("2026-03-01T12:00:00Z");
    let log = events(5, now);
    let (server, okta) = OktaLog::start(now, log[..3].to_vec()).await;
    let poller = poller(&server, TOKEN);

    let full = poller.next_page(&Checkpoint::default(), now).await.unwrap();
    assert_eq!(full.events, log[..3]);
    assert!(full.more);
    let empty = poller.next_page(&full.checkpoint, now).await.unwrap();
    assert!(empty.events.is_empty());
    assert!(
        !empty.more,
        "polling mode's next link is no sign of more data"
    );
    assert_eq!(
        empty.checkpoint.next.as_deref(),
        Some(okta.issued()[1].as_str())
    );
    assert_ne!(empty.checkpoint.next, full.checkpoint.next);
    assert_eq!(empty.checkpoint.since, full.checkpoint.since);

    okta.push(log[3..].to_vec());
    let later = poller.next_page(&empty.checkpoint, now).await.unwrap();
    assert_eq!(later.events, log[3..]);
    assert!(!later.more);
    assert_eq!(sent_to(&requests(&server).await[2]), okta.issued()[1]);
}

#[tokio::test]
async fn redelivered_uuids_are_dropped_across_and_within_pages() {
    let now = ts("2026-03-01T12:00:00Z");
    let log = events(4, now);
    let (a, b, c, d) = (&log[0], &log[1], &log[2], &log[3]);
    let (server, _okta) = OktaLog::start(
        now,
        vec![
            a.clone(),
            b.clone(),
            c.clone(),
            b.clone(),
            d.clone(),
            d.clone(),
        ],
    )
    .await;
    let poller = poller(&server, TOKEN);

    let first = poller.next_page(&Checkpoint::default(), now).await.unwrap();
    assert_eq!(first.events, log[..3]);
    let second = poller.next_page(&first.checkpoint, now).await.unwrap();
    assert_eq!(second.events, log[3..]);
    assert!(
        second.more,
        "fullness counts what Okta sent, repeats included"
    );
    let uuids: Vec<String> = log
        .iter()
        .map(|e| e["uuid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(second.checkpoint.recent_uuids, uuids);
}

#[tokio::test]
async fn too_many_requests_is_rate_limited_until_the_reset() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/logs"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_raw(ERROR_429_FIXTURE, "application/json")
                .insert_header("X-Rate-Limit-Limit", "600")
                .insert_header("X-Rate-Limit-Remaining", "0")
                .insert_header("X-Rate-Limit-Reset", "1609459260"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/logs"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "errorCode": "E0000047",
            "errorSummary": "API call exceeded rate limit due to too many requests."
        })))
        .mount(&server)
        .await;
    let poller = poller(&server, TOKEN);
    let now = ts("2021-01-01T00:00:00Z");

    let error = poller
        .next_page(&Checkpoint::default(), now)
        .await
        .unwrap_err();
    assert!(
        matches!(error, PollError::RateLimited { until } if until == Timestamp::from_second(1609459260).unwrap()),
        "{error:?}"
    );
    // No reset header: Okta's windows are per minute.
    let error = poller
        .next_page(&Checkpoint::default(), now)
        .await
        .unwrap_err();
    assert!(
        matches!(error, PollError::RateLimited { until } if until == ts("2021-01-01T00:01:00Z")),
        "{error:?}"
    );
}

#[tokio::test]
async fn bad_request_on_a_cursor_is_cursor_rejected_but_on_since_is_rejected() {
    let now = ts("2026-03-01T12:00:00Z");
    let (server, _okta) = OktaLog::start(now, events(3, now)).await;
    let okta_poller = poller(&server, TOKEN);
    let expired = Checkpoint {
        next: Some(format!(
            "{}/api/v1/logs?limit=3&sortOrder=ASCENDING&after=expired_0",
            server.uri()
        )),
        ..Checkpoint::default()
    };
    let error = okta_poller.next_page(&expired, now).await.unwrap_err();
    assert!(
        matches!(&error, PollError::CursorRejected { error_code, .. } if error_code == "E0000001"),
        "{error:?}"
    );

    // A stored cursor on another host is refused before the token goes there.
    let elsewhere = Checkpoint {
        next: Some("https://attacker.example/api/v1/logs?after=1".into()),
        ..Checkpoint::default()
    };
    let error = okta_poller.next_page(&elsewhere, now).await.unwrap_err();
    assert!(
        matches!(error, PollError::CursorRejected { .. }),
        "{error:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(okta_error(400, "E0000001", "Api validation failed: 'until': The date format in your query is not recognized. Please enter dates using ISO8601 string format. 'until': must be a valid date-time or empty."))
        .mount(&server)
        .await;
    let error = poller(&server, TOKEN)
        .next_page(&Checkpoint::default(), now)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PollError::Rejected { status: 400, error_code, .. } if error_code == "E0000001"),
        "{error:?}"
    );
}

#[tokio::test]
async fn server_errors_and_timeouts_are_retriable_classes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(okta_error(500, "E0000009", "Your last request took too long to complete. This is likely due to a load issue on our side. We've logged this and will address it."))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&server)
        .await;
    let now = ts("2026-03-01T12:00:00Z");
    let poller = poller(&server, TOKEN).with_request_timeout(Duration::from_millis(100));

    let error = poller
        .next_page(&Checkpoint::default(), now)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PollError::Server { status: 500, error_code, .. } if error_code == "E0000009"),
        "{error:?}"
    );
    let error = poller
        .next_page(&Checkpoint::default(), now)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PollError::Transport(message) if message.contains("timed out")),
        "{error:?}"
    );
}

#[tokio::test]
async fn unauthorized_and_forbidden_are_misconfigured_without_the_token() {
    let now = ts("2026-03-01T12:00:00Z");
    let (server, _okta) = OktaLog::start(now, events(1, now)).await;
    let wrong = "00Wrong-token-that-must-not-leak";
    let poller_with_wrong_token = poller(&server, wrong);
    assert!(!format!("{poller_with_wrong_token:?}").contains(wrong));
    let error = poller_with_wrong_token
        .next_page(&Checkpoint::default(), now)
        .await
        .unwrap_err();
    assert!(matches!(error, PollError::Misconfigured(_)), "{error:?}");
    assert!(error.to_string().contains("E0000011"), "{error}");
    assert_token_absent(&format!("{error} {error:?}"), wrong);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(okta_error(
            403,
            "E0000006",
            "You do not have permission to perform the requested action",
        ))
        .mount(&server)
        .await;
    let error = poller(&server, TOKEN)
        .next_page(&Checkpoint::default(), now)
        .await
        .unwrap_err();
    assert!(matches!(error, PollError::Misconfigured(_)), "{error:?}");
    assert!(error.to_string().contains("E0000006"), "{error}");
    assert_token_absent(&format!("{error} {error:?}"), TOKEN);
}

fn assert_token_absent(text: &str, token: &str) {
    assert!(!text.contains(token), "the token leaked: {text}");
}

/// An in-memory [`LogSink`]: one stored checkpoint, the deliveries in order.
struct MemorySink {
    stored: Mutex<Option<Checkpoint>>,
    deliveries: Mutex<Vec<Vec<Value>>>,
    delivered: watch::Sender<usize>,
}

impl MemorySink {
    fn new(stored: Option<Checkpoint>) -> MemorySink {
        MemorySink {
            stored: Mutex::new(stored),
            deliveries: Mutex::default(),
            delivered: watch::channel(0).0,
        }
    }

    async fn wait_for_deliveries(&self, count: usize) {
        let mut delivered = self.delivered.subscribe();
        tokio::time::timeout(HANG_GUARD, delivered.wait_for(|n| *n >= count))
            .await
            .expect("deliveries arrive")
            .unwrap();
    }

    fn events(&self) -> Vec<Value> {
        self.deliveries.lock().unwrap().concat()
    }

    fn stored(&self) -> Option<Checkpoint> {
        self.stored.lock().unwrap().clone()
    }
}

impl LogSink for MemorySink {
    async fn checkpoint(&self, source: &str) -> anyhow::Result<Option<Checkpoint>> {
        assert_eq!(source, "okta");
        Ok(self.stored())
    }

    async fn deliver(
        &self,
        source: &str,
        events: Vec<Value>,
        checkpoint: &Checkpoint,
    ) -> anyhow::Result<()> {
        assert_eq!(source, "okta");
        *self.stored.lock().unwrap() = Some(checkpoint.clone());
        self.deliveries.lock().unwrap().push(events);
        self.delivered.send_modify(|n| *n += 1);
        Ok(())
    }
}

/// Runs the poller until `until` resolves, then signals shutdown; fails if `run` does not end.
async fn run_until(
    poller: OktaLogPoller,
    sink: &MemorySink,
    interval: Duration,
    until: impl Future<Output = ()>,
) {
    let (stop, shutdown) = watch::channel(false);
    let both = async {
        tokio::join!(run(poller, "okta", sink, interval, shutdown), async {
            until.await;
            stop.send(true).unwrap();
        })
    };
    tokio::time::timeout(HANG_GUARD, both)
        .await
        .expect("run stops when shutdown is signalled");
}

#[tokio::test]
async fn run_fetches_full_pages_back_to_back_then_sleeps_until_shutdown() {
    let now = warden::clock::system_now();
    let log = events(7, now);
    let (server, _okta) = OktaLog::start(now, log.clone()).await;
    let sink = MemorySink::new(None);

    // An hour's interval: only `more` can bring the second and third pages, and only shutdown
    // can end the sleep after them.
    run_until(
        poller(&server, TOKEN),
        &sink,
        Duration::from_secs(3600),
        sink.wait_for_deliveries(3),
    )
    .await;
    assert_eq!(sink.events(), log);
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn run_resumes_from_the_stored_checkpoint() {
    let now = warden::clock::system_now();
    let log = events(5, now);
    let (server, _okta) = OktaLog::start(now, log.clone()).await;
    // A previous process delivered the first page and stored its checkpoint.
    let previous = poller(&server, TOKEN)
        .next_page(&Checkpoint::default(), now)
        .await
        .unwrap();
    let sink = MemorySink::new(Some(previous.checkpoint.clone()));

    run_until(
        poller(&server, TOKEN),
        &sink,
        Duration::from_secs(3600),
        sink.wait_for_deliveries(1),
    )
    .await;
    assert_eq!(sink.events(), log[3..]);
    let sent = requests(&server).await;
    assert_eq!(Some(sent_to(&sent[1])), previous.checkpoint.next);
}

#[tokio::test]
async fn run_restarts_from_since_when_the_cursor_is_rejected() {
    let now = warden::clock::system_now();
    let log = events(5, now);
    let (server, _okta) = OktaLog::start(now, log.clone()).await;
    let stored = Checkpoint {
        next: Some(format!(
            "{}/api/v1/logs?limit=3&sortOrder=ASCENDING&after=expired_9",
            server.uri()
        )),
        since: Some(log[2]["published"].as_str().unwrap().to_owned()),
        recent_uuids: vec![log[2]["uuid"].as_str().unwrap().to_owned()],
    };
    let sink = MemorySink::new(Some(stored.clone()));

    run_until(
        poller(&server, TOKEN),
        &sink,
        Duration::from_secs(3600),
        sink.wait_for_deliveries(1),
    )
    .await;
    // Events before `since` are not asked for; the one at `since` was seen already.
    assert_eq!(sink.events(), log[3..]);
    let sent = requests(&server).await;
    assert_eq!(Some(sent_to(&sent[0])), stored.next);
    let restart = query(&sent[1]);
    assert_eq!(restart.get("since"), stored.since.as_ref());
    assert_eq!(restart["sortOrder"], "ASCENDING");
    assert!(!restart.contains_key("after") && !restart.contains_key("until"));
    assert!(sink.stored().unwrap().next.unwrap().contains("after="));
}

#[tokio::test]
async fn run_backs_off_after_a_server_error_and_waits_out_a_rate_limit() {
    let now = warden::clock::system_now();
    let log = events(2, now);
    let (server, _okta) = OktaLog::start(now, log.clone()).await;
    // The log's catch-all mock was mounted first: these one-offs outrank it.
    Mock::given(method("GET"))
        .respond_with(okta_error(
            500,
            "E0000009",
            "Your last request took too long to complete.",
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let reset = (now.as_second() - 1).to_string();
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_raw(ERROR_429_FIXTURE, "application/json")
                .insert_header("X-Rate-Limit-Remaining", "0")
                .insert_header("X-Rate-Limit-Reset", reset.as_str()),
        )
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let sink = MemorySink::new(None);

    run_until(
        poller(&server, TOKEN),
        &sink,
        Duration::from_secs(3600),
        sink.wait_for_deliveries(1),
    )
    .await;
    assert_eq!(sink.events(), log);
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn run_abandons_a_request_in_flight_on_shutdown() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(Duration::from_secs(60)),
        )
        .mount(&server)
        .await;
    let sink = MemorySink::new(None);

    run_until(
        poller(&server, TOKEN),
        &sink,
        Duration::from_secs(3600),
        async {
            while requests(&server).await.is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        },
    )
    .await;
    assert!(sink.events().is_empty());
}

/// Collects everything a `fmt` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_log_line_carries_the_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    // The test runtime is single-threaded, so the thread's default catches every task's logs.
    let _guard = tracing::subscriber::set_default(subscriber);

    let now = warden::clock::system_now();
    let (server, _okta) = OktaLog::start(now, events(2, now)).await;
    let sink = MemorySink::new(None);
    run_until(
        poller(&server, TOKEN),
        &sink,
        Duration::from_secs(3600),
        sink.wait_for_deliveries(1),
    )
    .await;
    let wrong = "00Wrong-token-that-must-not-leak";
    run_until(
        poller(&server, wrong),
        &sink,
        Duration::from_secs(3600),
        async {
            while requests(&server).await.len() < 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        },
    )
    .await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("Delivered Okta System Log events."), "{logs}");
    assert!(logs.contains("E0000011"), "{logs}");
    assert_token_absent(&logs, TOKEN);
    assert_token_absent(&logs, wrong);
}
