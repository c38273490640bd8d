//! The polling loop over a [`LogSink`]: full pages back to back, a stored checkpoint resumed, a
//! rejected cursor restarted from `since`, backoff and rate limits waited out, shutdown mid
//! request, and no log line with the token.

use super::*;
use std::future::Future;
use tokio::sync::watch;
use warden::detect::okta_poll::{run, Checkpoint, LogSink};

/// A bound on waits that should end at once, so a bug fails the test instead of hanging it.
const HANG_GUARD: Duration = Duration::from_secs(10);

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

/// The interval of every run here: an hour, so only a full page (`more`) brings the next one at
/// once, and only shutdown can end the sleep after the last.
const INTERVAL: Duration = Duration::from_secs(3600);

/// Runs the poller until `until` resolves, then signals shutdown; fails if `run` does not end.
async fn run_until(poller: OktaLogPoller, sink: &MemorySink, until: impl Future<Output = ()>) {
    let (stop, shutdown) = watch::channel(false);
    let both = async {
        tokio::join!(run(poller, "okta", sink, INTERVAL, shutdown), async {
            until.await;
            stop.send(true).unwrap();
        })
    };
    tokio::time::timeout(HANG_GUARD, both)
        .await
        .expect("run stops when shutdown is signalled");
}

/// Runs the poller until `sink` has had `count` deliveries.
async fn run_until_delivered(poller: OktaLogPoller, sink: &MemorySink, count: usize) {
    run_until(poller, sink, sink.wait_for_deliveries(count)).await;
}

/// Resolves once `server` has received `count` requests.
async fn received(server: &MockServer, count: usize) {
    while requests(server).await.len() < count {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn run_fetches_full_pages_back_to_back_then_sleeps_until_shutdown() {
    let now = warden::clock::system_now();
    let log = events(7, now);
    let (server, _okta) = OktaLog::start(now, log.clone()).await;
    let sink = MemorySink::new(None);

    // Only `more` can bring the second and third pages, and only shutdown can end the sleep
    // after them.
    run_until_delivered(poller(&server, TOKEN), &sink, 3).await;
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

    run_until_delivered(poller(&server, TOKEN), &sink, 1).await;
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

    run_until_delivered(poller(&server, TOKEN), &sink, 1).await;
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

    run_until_delivered(poller(&server, TOKEN), &sink, 1).await;
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

    run_until(poller(&server, TOKEN), &sink, received(&server, 1)).await;
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
    run_until_delivered(poller(&server, TOKEN), &sink, 1).await;
    let wrong = "00Wrong-token-that-must-not-leak";
    run_until(poller(&server, wrong), &sink, received(&server, 3)).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("Delivered Okta System Log events."), "{logs}");
    assert!(logs.contains("E0000011"), "{logs}");
    assert_token_absent(&logs, TOKEN);
    assert_token_absent(&logs, wrong);
}
