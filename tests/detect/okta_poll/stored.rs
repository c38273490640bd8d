//! The detector as the poller's sink: a page of Okta events evaluated and stored with its
//! checkpoint.

use crate::harness::{seed_event, TestApp, START};
use crate::support::each_backend;
use serde_json::json;
use std::sync::Arc;
use warden::clock::ManualClock;
use warden::detect::okta_poll::{Checkpoint, LogSink, OktaLogPoller};
use warden::secrets::Secret;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_pages_are_stored_with_their_checkpoint() {
    each_backend(|db| async move {
        let okta = MockServer::start().await;
        let seed = seed_event();
        let next = format!("{}/api/v1/logs?after=cursor-1&limit=1000", okta.uri());
        Mock::given(method("GET"))
            .and(path("/api/v1/logs"))
            .and(header("authorization", "SSWS okta-token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("link", format!("<{next}>; rel=\"next\"").as_str())
                    .set_body_json(json!([seed])),
            )
            .mount(&okta)
            .await;
        let clock = Arc::new(ManualClock::new(START));
        let app = TestApp::spawn(&db, "http://127.0.0.1:9", clock.clone()).await;
        let poller = OktaLogPoller::new(
            warden::http_client::HttpClients::new(),
            &okta.uri(),
            Secret::new("okta-token"),
        )
        .unwrap();
        let source = format!("okta:{}", okta.uri());
        let checkpoint = app.served.detector.checkpoint(&source).await.unwrap();
        assert_eq!(checkpoint, None);
        let page = poller
            .next_page(
                &Checkpoint::default(),
                jiff::Timestamp::from_millisecond(START).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(page.events.len(), 1);
        app.served
            .detector
            .deliver(&source, page.events, &page.checkpoint)
            .await
            .unwrap();
        let stored = app
            .served
            .detector
            .checkpoint(&source)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored, page.checkpoint);
        assert_eq!(stored.next.as_deref(), Some(next.as_str()));
        assert_eq!(app.alerts("Okta.AdminPrivilegeGranted").await.len(), 1);
        app.stop().await;
        db
    })
    .await;
}
