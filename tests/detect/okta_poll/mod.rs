//! The Okta System Log poller against a wiremock Okta that follows `external-apis.md` §5.5:
//! polling requests only (`until` unset, `sortOrder=ASCENDING`), an opaque `after` cursor in a
//! `rel="next"` link sent as its own `link` header next to `rel="self"`, a `next` link on every
//! page (even an empty one), rate-limit headers on every response, Okta's error bodies.
//! Events are the shapes of `fixtures/okta/systemlog-page.json` (copied from the shared
//! fixtures), with fresh uuids and recent `published` times where a test needs many.
//!
//! `pages`: one request and its page; `errors`: how Okta's failures are classified; `run`: the
//! polling loop over a sink; `stored`: the detector as that sink.

mod errors;
mod pages;
mod run;
mod stored;

use jiff::{SignedDuration, Timestamp};
use reqwest::Url;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use warden::detect::okta_poll::OktaLogPoller;
use warden::http_client::HttpClients;
use warden::secrets::Secret;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "00Qx-okta-test-token-must-not-leak";
/// `okta/systemlog-page.json`: three events answering
/// `GET /api/v1/logs?since=2020-05-01T00%3A00%3A00.000Z&limit=3&sortOrder=ASCENDING`.
const PAGE_FIXTURE: &str = include_str!("../../fixtures/okta/systemlog-page.json");
/// `okta/api/error-429.json`.
const ERROR_429_FIXTURE: &str = include_str!("../../fixtures/okta/error-429.json");

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
    OktaLogPoller::new(HttpClients::new(), &server.uri(), Secret::new(token))
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

fn assert_token_absent(text: &str, token: &str) {
    assert!(!text.contains(token), "the token leaked: {text}");
}
