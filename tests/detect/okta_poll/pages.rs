//! One request and its page: the first polling request, Okta's own fixture page, full and empty
//! pages with their `next` links, uuids delivered twice.

use super::*;
use warden::detect::okta_poll::Checkpoint;
use wiremock::matchers::query_param;

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
