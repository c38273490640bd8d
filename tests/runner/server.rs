//! The server under connection abuse: idle sockets and half-sent requests do not keep others
//! from being answered, and are closed after the header timeout.

use super::*;
use reqwest::Method;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warden::api::server::{open_files_limit, ServerLimits};

/// Idle and half-sent connections to open: 2,000 and 200, or fewer when this process's
/// open-files limit would not hold them (each is two descriptors here, client and server side).
fn abuse_counts() -> (usize, usize) {
    let limit = open_files_limit().unwrap_or(1024) as usize;
    let room = limit.saturating_sub(512) / 2;
    if room >= 2_200 {
        (2_000, 200)
    } else {
        eprintln!("open-files limit {limit}: scaling the connections down to {room}");
        (room * 10 / 11, room / 11)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_do_not_stop_the_server() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn_with(
        &db,
        &[("pipeline", PIPELINE)],
        "http://127.0.0.1:9",
        start_clock(),
        |settings| {
            settings.server = ServerLimits {
                header_timeout: Duration::from_secs(2),
                ..ServerLimits::default()
            }
        },
    )
    .await;
    let host = app.served.address.trim_start_matches("http://").to_owned();
    let (idle_count, half_count) = abuse_counts();
    let mut idle = Vec::new();
    for _ in 0..idle_count {
        idle.push(TcpStream::connect(&host).await.unwrap());
    }
    let mut half = Vec::new();
    for _ in 0..half_count {
        let mut stream = TcpStream::connect(&host).await.unwrap();
        let head = format!("POST /webhook/alerts/{SECRET} HTTP/1.1\r\nHost: {host}\r\nContent-Le");
        stream.write_all(head.as_bytes()).await.unwrap();
        half.push(stream);
    }

    // Answered, not timed: the bound only keeps a broken server from hanging the suite.
    let bound = Duration::from_secs(30);
    let health = tokio::time::timeout(bound, app.request(Method::GET, "/healthz").send())
        .await
        .expect("/healthz is answered while the abusive connections are open")
        .unwrap();
    assert_eq!(health.status(), 200);
    let body = json!({"alertId": "under-load", "ip": "1.1.1.1", "score": 1}).to_string();
    let (status, answer) = tokio::time::timeout(bound, app.post_webhook("alerts", SECRET, &body))
        .await
        .expect("a valid webhook is answered while the abusive connections are open");
    assert_eq!(status, 202, "{answer}");

    // The server closes each half-sent request's connection after the header timeout: the
    // client reads the end of the stream (or a reset), not silence.
    for mut stream in half {
        let mut buf = [0u8; 512];
        let read = tokio::time::timeout(bound, async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(read.is_ok(), "a half-sent request's connection stayed open");
    }
    drop(idle);
    app.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_and_stops_waiting_after_its_deadline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let limits = ServerLimits {
        header_timeout: Duration::from_secs(600),
        idle_timeout: Duration::from_secs(600),
        shutdown_grace: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(warden::api::server::serve(
        listener,
        router,
        limits,
        async {
            let _ = stopped.await;
        },
    ));
    let mut idle = TcpStream::connect(&host).await.unwrap();
    let mut half = TcpStream::connect(&host).await.unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server stops within its shutdown deadline")
        .unwrap();
    for stream in [&mut idle, &mut half] {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "the connection is closed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_slack_interaction_is_refused_before_its_signature_is_checked() {
    let db = TestDb::sqlite();
    let app = TestApp::offline(&db, &[("pipeline", PIPELINE)]).await;
    // 200 KiB: over Slack's cap (64 KiB), under axum's default limit (2 MiB) that applied before.
    let body = format!("payload={}", "x".repeat(200 * 1024));
    let (status, answer) = support::send(
        app.request(Method::POST, "/slack/interactions")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", (START / 1000).to_string())
            .header("x-slack-signature", "v0=00")
            .body(body),
    )
    .await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["code"], "payload_too_large");
    // Declared, not sent: refused from the Content-Length alone.
    let (status, _) =
        support::post_head_only(&app.served.address, "/slack/interactions", &[], 1 << 20).await;
    assert_eq!(status, 413);
    app.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_requests_past_their_slots_get_503() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn_with(
        &db,
        &[("pipeline", PIPELINE)],
        "http://127.0.0.1:9",
        start_clock(),
        |settings| settings.max_public_reads = 1,
    )
    .await;
    let host = app.served.address.trim_start_matches("http://").to_owned();
    // A sender that declares a body and trickles it holds the one slot.
    let mut slow = TcpStream::connect(&host).await.unwrap();
    let head = format!(
        "POST /webhook/alerts/{SECRET} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = json!({"alertId": "second", "ip": "1.1.1.1", "score": 1}).to_string();
    let (status, answer) = app.post_webhook("alerts", SECRET, &body).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["code"], "busy");
    // Health and the API are not public-body routes: unaffected.
    let health = app.request(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(health.status(), 200);
    drop(slow);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, answer) = app.post_webhook("alerts", SECRET, &body).await;
    assert_eq!(status, 202, "{answer}");
    app.stop().await;
    db.drop_db().await;
}

#[test]
fn warden_serve_refuses_dev_off_loopback_with_exit_code_2() {
    let dir = std::env::temp_dir().join(format!("warden-dev-{}", std::process::id()));
    // Valid (empty) definitions, so that only `--dev` can stop it.
    for sub in ["stories", "templates", "rules"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["serve", "--dev", "--listen", "0.0.0.0:0"])
        .env(
            "WARDEN_DATABASE_URL",
            format!("sqlite://{}", dir.join("warden.db").display()),
        )
        .env("WARDEN_STORIES", dir.join("stories"))
        .env("WARDEN_TEMPLATES", dir.join("templates"))
        .env_remove("WARDEN_DESTINATIONS")
        .env("WARDEN_OKTA_POLL", "off")
        .current_dir(&dir)
        .env("WARDEN_RULES", dir.join("rules"))
        .env_remove("WARDEN_API_TOKEN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("`warden serve --dev --listen 0.0.0.0:0` kept running");
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("loopback"), "{stderr}");
    assert!(
        !dir.join("warden.db").exists(),
        "refused before opening the database"
    );
    let _ = std::fs::remove_dir_all(dir);
}
