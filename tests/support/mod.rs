//! Shared by the integration suites: a fresh database per test on each backend.
#![allow(dead_code)]

use sqlx::Connection;
use std::path::PathBuf;

/// Says once per test binary, where people see it, that the Postgres half of the suite did
/// not run: `eprintln!` is captured for passing tests, a direct write to stderr is not.
fn postgres_skipped() {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "note: WARDEN_TEST_POSTGRES_URL is not set: this suite ran on SQLite only (Postgres skipped)"
        );
    });
}

/// A database that exists for one test.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres { admin: String, name: String },
}

impl TestDb {
    /// A new SQLite file in the temp directory.
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("warden-test-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("warden.db");
        TestDb {
            url: format!("sqlite://{}", file.display()),
            backend: "sqlite",
            cleanup: Cleanup::File(dir),
        }
    }

    /// A new Postgres database, when `WARDEN_TEST_POSTGRES_URL` names a server (always in CI).
    pub async fn postgres() -> Option<TestDb> {
        let admin = std::env::var("WARDEN_TEST_POSTGRES_URL").ok()?;
        let name = format!("warden_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("connect to WARDEN_TEST_POSTGRES_URL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Some(TestDb {
            url: format!("{base}/{name}"),
            backend: "postgres",
            cleanup: Cleanup::Postgres { admin, name },
        })
    }

    /// The backends to test: SQLite always, Postgres when configured.
    pub async fn all() -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite()];
        match TestDb::postgres().await {
            Some(db) => dbs.push(db),
            None => postgres_skipped(),
        }
        dbs
    }

    /// Removes the database (call at the end of a passing test; a failing one leaves it to
    /// inspect).
    pub async fn drop_db(self) {
        match self.cleanup {
            Cleanup::File(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin, name } => {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            }
        }
    }
}

/// Runs `test` on every backend, each on a fresh database, dropped when the test passes.
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: std::future::Future<Output = TestDb>,
{
    for db in TestDb::all().await {
        eprintln!("--- {}", db.backend);
        test(db).await.drop_db().await;
    }
}

/// Warden as [`warden::app::App`] assembles it, with its API on a loopback port and a client of
/// that API.
pub struct Served {
    /// The API's base URL, e.g. `http://127.0.0.1:41234`.
    pub address: String,
    /// The engine.
    pub engine: std::sync::Arc<warden::engine::Engine>,
    /// The detection stage.
    pub detector: std::sync::Arc<warden::detect::detector::Detector>,
    /// A runner, for `run_until_idle`.
    pub runner: warden::engine::Runner,
    /// The delivery queue's worker, for `deliver_due`.
    pub deliverer: warden::detect::deliver::Deliverer,
    /// The HTTP server.
    pub server: tokio::task::JoinHandle<()>,
    /// A client of the API (see [`api_client`]).
    pub http: reqwest::Client,
    /// The settings' API token, which [`Served::authorized`] sends.
    api_token: Option<warden::secrets::Secret>,
}

/// Builds the app from `settings` and serves its API on port 0.
pub async fn serve(settings: warden::app::Settings) -> Served {
    let api_token = settings.api_token.clone();
    let app = warden::app::App::build(settings)
        .await
        .unwrap_or_else(|e| panic!("build the app: {e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (router, limits) = (app.router(), app.server_limits());
    let server = tokio::spawn(warden::api::server::serve(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    Served {
        address,
        runner: app.runner(),
        deliverer: app.deliverer(),
        engine: app.engine,
        detector: app.detector,
        server,
        http: api_client(),
        api_token,
    }
}

impl Served {
    /// A request to `route` (`/webhook/…`, `/api/…`) as anyone may send it: no API token.
    pub fn request(&self, method: reqwest::Method, route: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{route}", self.address))
    }

    /// A request to `route` with the settings' API token.
    pub fn authorized(&self, method: reqwest::Method, route: &str) -> reqwest::RequestBuilder {
        let request = self.request(method, route);
        match &self.api_token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }

    /// `GET route` with the API token; asserts a 200 and returns the JSON body.
    pub async fn get(&self, route: &str) -> serde_json::Value {
        let response = self
            .authorized(reqwest::Method::GET, route)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {route}: {e}"));
        assert_eq!(response.status(), 200, "{route}");
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    }

    /// Stops serving and closes the store, as a process exit would; the database stays, for a
    /// restart over it.
    pub async fn stop(self) {
        self.server.abort();
        self.engine.store.close().await;
    }
}

/// Sends `request`; the answer's status and JSON body (`null` when the body is not JSON).
pub async fn send(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// Sends only the head of a `POST target` declaring a `length`-byte body (with `headers`), and
/// reads the answer: a limit must refuse such a body from its `Content-Length`, before reading
/// it. The answer's status and JSON body (`null` when it is not JSON).
pub async fn post_head_only(
    address: &str,
    target: &str,
    headers: &[(&str, &str)],
    length: usize,
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut head = format!("POST {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ));
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// The events of `action` in a run's detail (`GET /api/runs/{id}`), in order.
pub fn events<'a>(run: &'a serde_json::Value, action: &str) -> Vec<&'a serde_json::Value> {
    run["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .collect()
}

/// The (first) step of `action` in a run's detail.
pub fn step<'a>(run: &'a serde_json::Value, action: &str) -> Option<&'a serde_json::Value> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == action)
}

/// A client of Warden's own API, as a user's would be.
pub fn api_client() -> reqwest::Client {
    warden::http_client::api_client()
}
