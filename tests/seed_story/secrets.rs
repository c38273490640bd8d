//! Secrets stay secret, per integration: every vendor's credential is used (once accepted, once
//! refused), and afterwards no stored row, log line, API answer or recorded error holds it.

use super::*;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use warden_sim::Vendor;

/// Everything logged by this test binary, at debug level and finer for Warden.
pub(crate) fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,warden=trace")
            .with_writer(move || Sink(buffer))
            .try_init();
        buffer
    })
}

struct Sink(&'static Mutex<Vec<u8>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every byte the database holds: the SQLite files, or each Postgres row as text.
pub(crate) async fn stored(db: &TestDb) -> String {
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        let mut all = Vec::new();
        for suffix in ["", "-wal", "-journal"] {
            all.extend(std::fs::read(format!("{path}{suffix}")).unwrap_or_default());
        }
        return String::from_utf8_lossy(&all).into_owned();
    }
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|row| row.get(0))
    .collect();
    assert!(tables.len() > 5, "the schema is there: {tables:?}");
    let mut all = String::new();
    for table in tables {
        let rows = sqlx::query(&format!("SELECT t::text FROM \"{table}\" t"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for row in rows {
            all.push_str(&row.get::<String, _>(0));
            all.push('\n');
        }
    }
    all
}

/// Everything the API shows of the seed story's runs and of the alerts.
async fn shown(h: &Harness) -> String {
    let mut all = String::new();
    for run in h.stack.seed_runs().await.unwrap() {
        all.push_str(&h.run(&run["id"]).await.to_string());
    }
    let alerts = h.stack.api("/api/alerts").await.unwrap();
    for alert in alerts["alerts"].as_array().unwrap() {
        let id = alert["id"].as_str().unwrap();
        all.push_str(
            &h.stack
                .api(&format!("/api/alerts/{id}"))
                .await
                .unwrap()
                .to_string(),
        );
    }
    all
}

/// Checks that no `(whose, secret)` is in the database, the API's answers or the logs.
async fn assert_nowhere(db: &TestDb, h: &Harness, secrets: &[(String, String)]) {
    let store = stored(db).await;
    assert!(
        store.contains(SEED_CLIENT_IP),
        "the scan reads the stored events"
    );
    let api = shown(h).await;
    let log = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert!(log.contains("warden"), "logs are captured");
    for (whose, secret) in secrets {
        for (place, text) in [
            ("the database", &store),
            ("the API", &api),
            ("the logs", &log),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "{whose}'s secret appears in {place}"
            );
        }
    }
}

/// Ingests the seed event and, when asked, answers "denied", so every vendor is called.
async fn play(h: &Harness) -> Value {
    let run = h.ingest_seed().await;
    if h.stack.open_prompt().is_some() {
        h.answer("denied").await;
    }
    h.run(&run["id"]).await
}

/// Each vendor in turn gets a key its simulator refuses: its step fails as misconfigured (the
/// key was sent and rejected), and the refused key is nowhere afterwards. The other vendors'
/// keys, accepted on the same run, are nowhere either.
#[tokio::test]
async fn no_credential_reaches_the_store_the_logs_the_api_or_an_error() {
    logs();
    for vendor in Vendor::ALL {
        each_backend(|db| async move {
            let refused = format!("canary-{}-{}", vendor.name(), uuid::Uuid::now_v7().simple());
            let h = Harness::start_with(
                &db,
                calm(),
                vec![(vendor.name().to_owned(), refused.clone())],
            )
            .await;
            let run = play(&h).await;
            let sent = h.stack.sims.requests();
            assert!(
                sent.iter().any(|r| r.vendor == vendor),
                "{vendor:?} was called with the refused key: {sent:?}"
            );
            assert_eq!(run["status"], "failed", "{vendor:?}: {run:#}");
            let failed = run["steps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["state"] == "failed")
                .expect("a failed step");
            assert_eq!(
                failed["error"]["class"], "misconfigured",
                "{vendor:?}: {failed}"
            );

            let mut secrets = vec![(format!("{vendor:?} (refused)"), refused)];
            for (name, value) in h.stack.sims.credentials() {
                if name != vendor.name() {
                    secrets.push((name.to_owned(), value));
                }
            }
            assert_nowhere(&db, &h, &secrets).await;
            h.stop().await;
            db
        })
        .await;
    }
}

/// The same with every key accepted: the whole story runs, and no key is anywhere after.
#[tokio::test]
async fn accepted_credentials_leave_no_trace_either() {
    logs();
    each_backend(|db| async move {
        let h = Harness::start(&db, calm()).await;
        let run = play(&h).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        let secrets: Vec<(String, String)> = (h.stack.sims.credentials().into_iter())
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        assert_nowhere(&db, &h, &secrets).await;
        h.stop().await;
        db
    })
    .await;
}
