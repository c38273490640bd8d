//! Shared by the integration suites: a fresh database per test on each backend.
#![allow(dead_code)]

use sqlx::Connection;
use std::path::PathBuf;

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
            None => eprintln!("WARDEN_TEST_POSTGRES_URL is not set: Postgres skipped"),
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

/// Warden as [`warden::app::App`] assembles it, with its API on a loopback port.
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
}

/// Builds the app from `settings` and serves its API on port 0.
pub async fn serve(settings: warden::app::Settings) -> Served {
    let app = warden::app::App::build(settings)
        .await
        .unwrap_or_else(|e| panic!("build the app: {e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Served {
        address,
        runner: app.runner(),
        deliverer: app.deliverer(),
        engine: app.engine,
        detector: app.detector,
        server,
    }
}

/// A client of Warden's own API, as a user's would be (not an outbound vendor call, so not one
/// of `http_client`'s).
#[allow(clippy::disallowed_methods)]
pub fn api_client() -> reqwest::Client {
    reqwest::Client::new()
}
