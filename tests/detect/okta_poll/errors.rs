//! Okta's failures, classified: 429 until the reset, a 400 on a cursor or on `since`, 5xx and
//! timeouts retriable, 401 and 403 misconfigured, and the token in none of them.

use super::*;
use warden::detect::okta_poll::{Checkpoint, PollError};

/// How asking for the first page fails.
async fn first_page_error(poller: &OktaLogPoller, now: Timestamp) -> PollError {
    poller
        .next_page(&Checkpoint::default(), now)
        .await
        .unwrap_err()
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

    let error = first_page_error(&poller, now).await;
    assert!(
        matches!(error, PollError::RateLimited { until } if until == Timestamp::from_second(1609459260).unwrap()),
        "{error:?}"
    );
    // No reset header: Okta's windows are per minute.
    let error = first_page_error(&poller, now).await;
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
    let error = first_page_error(&poller(&server, TOKEN), now).await;
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

    let error = first_page_error(&poller, now).await;
    assert!(
        matches!(&error, PollError::Server { status: 500, error_code, .. } if error_code == "E0000009"),
        "{error:?}"
    );
    let error = first_page_error(&poller, now).await;
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
    let error = first_page_error(&poller_with_wrong_token, now).await;
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
    let error = first_page_error(&poller(&server, TOKEN), now).await;
    assert!(matches!(error, PollError::Misconfigured(_)), "{error:?}");
    assert!(error.to_string().contains("E0000006"), "{error}");
    assert_token_absent(&format!("{error} {error:?}"), TOKEN);
}
