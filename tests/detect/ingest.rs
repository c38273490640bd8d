//! Bad ingest input gets a clear 4xx, and the good lines of a batch are kept.

use crate::harness::{seed_event, TestApp, START, TOKEN};
use crate::support::{self, TestDb};
use reqwest::Method;
use std::io::Write;
use std::sync::Arc;
use warden::clock::ManualClock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_4xx_and_good_lines_are_kept() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db, "http://127.0.0.1:9", Arc::new(ManualClock::new(START))).await;
    let seed = seed_event().to_string();

    // NDJSON with a malformed line: reported by number, the rest evaluated.
    let body = format!("{seed}\n{{\"eventType\": \n\n[1]\n{seed}\n");
    let (status, report) = app.ingest("Okta.SystemLog", body).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["accepted"], 2);
    assert_eq!(report["rejected"], 2);
    assert_eq!(report["errors"][0]["line"], 2);
    assert!(report["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("invalid JSON"));
    assert_eq!(report["errors"][1]["line"], 4);

    // A JSON array, gzipped.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(format!("[{seed}, {seed}]").as_bytes())
        .unwrap();
    let (status, report) = app.ingest("Okta.SystemLog", gz.finish().unwrap()).await;
    assert_eq!(
        (status, report["accepted"].as_u64()),
        (200, Some(2)),
        "{report}"
    );

    // Binary garbage.
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (status, error) = app.ingest("Okta.SystemLog", garbage).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["code"], "invalid_body");

    // Text that is not JSON at all.
    let (status, error) = app.ingest("Okta.SystemLog", "hello\nworld\n").await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["details"]["errors"][1]["line"], 2);

    // A bad log type name.
    let (status, _) = app.ingest("Okta%2FSystemLog", seed.clone()).await;
    assert_eq!(status, 404);

    // No token.
    let response = app
        .served
        .request(Method::POST, "/ingest/Okta.SystemLog")
        .body(seed.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A 100 MB body is refused from its Content-Length, before it is read.
    let (status, answer) = support::post_head_only(
        &app.served.address,
        "/ingest/Okta.SystemLog",
        &[
            ("Authorization", &format!("Bearer {TOKEN}")),
            ("Content-Type", "application/x-ndjson"),
        ],
        104_857_600,
    )
    .await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["code"], "payload_too_large", "{answer}");

    assert!(app.alerts("Okta.AdminPrivilegeGranted").await.len() == 1);
    app.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_past_the_shared_decompression_budget_gets_503() {
    let db = TestDb::sqlite();
    let served = support::serve(warden::app::Settings {
        api_token: Some(warden::secrets::Secret::new(TOKEN)),
        ingest_limits: warden::api::IngestLimits {
            max_decompressed: 8 << 20,
            decompressed_in_flight: 256 << 10,
            ..Default::default()
        },
        ..warden::app::Settings::new(&db.url, warden::app::Definitions::stories(Vec::new()))
    })
    .await;
    let gzip = |text: &str| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap()
    };
    let ingest = |body: Vec<u8>| {
        support::send(
            served
                .authorized(Method::POST, "/ingest/Okta.SystemLog")
                .body(body),
        )
    };
    // 2 MiB once decompressed: under the request's limit, over what all requests may share.
    let (status, answer) = ingest(gzip(&"{\"a\":1}\n".repeat(256 << 10))).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["code"], "busy");
    // A small gzip body fits, and the refused one gave its share back.
    let (status, answer) = ingest(gzip(&"{\"a\":1}\n".repeat(1000))).await;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (200, Some(1000)),
        "{answer}"
    );
    assert_eq!(served.detector.rules().count(), 0);
    served.stop().await;
    db.drop_db().await;
}

/// Bounds each request: the answer is due within the store's acquire timeout (1.5 s); before it
/// came after 30 s. A hang detector, not a speed assertion.
const ANSWERED_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_during_a_database_outage_gets_503_with_retry_after_then_works_again() {
    let Some(mut db) = TestDb::postgres().await else {
        eprintln!("WARDEN_TEST_POSTGRES_URL is not set: Postgres skipped");
        return;
    };
    let mut outage = crate::outage_proxy::Outage::in_front_of(&mut db).await;
    let app = TestApp::spawn(&db, "http://127.0.0.1:9", Arc::new(ManualClock::new(START))).await;
    let seed = seed_event().to_string();
    let ingest = || {
        app.served
            .authorized(Method::POST, "/ingest/Okta.SystemLog")
            .body(seed.clone())
            .send()
    };

    outage.cut().await;
    let response = tokio::time::timeout(ANSWERED_WITHIN, ingest())
        .await
        .expect("ingest is answered while the database is away")
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").cloned();
    let error: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(status, 503, "{error}");
    assert_eq!(error["code"], "unavailable", "{error}");
    assert!(retry_after.is_some(), "Retry-After is sent");

    outage.restore().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let response = tokio::time::timeout(ANSWERED_WITHIN, ingest())
            .await
            .expect("ingest is answered")
            .unwrap();
        if response.status() == 200 {
            let report: serde_json::Value =
                serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            assert_eq!(report["accepted"], 1, "{report}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "ingest works again");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.stop().await;
    db.drop_db().await;
}
