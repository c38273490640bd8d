//! `warden bench …`: benchmarks that print figures, never pass/fail. The last line each prints
//! is one JSON object of figures.
//!
//! `bench runner` and `bench webhook` run the real engine against a scratch database (a temporary
//! SQLite file, or a fresh Postgres database) that they remove when done.

mod detect;
mod ingest;
mod runner;
mod webhook;

use crate::app::{Definitions, Settings};
use crate::engine::RunnerConfig;
use crate::secrets::Secrets;
use crate::store;
use crate::story::{check_story, Catalog, Story};
use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use sqlx::{ConnectOptions as _, Connection as _, Row as _};
use std::process::ExitCode;
use std::time::Instant;

/// The benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum Bench {
    /// Validate a generated story of N actions (webhook → chain of transforms, triggers and HTTP
    /// requests with templates), many times.
    Validate {
        /// Actions in the generated story.
        #[arg(long, default_value_t = 500)]
        actions: usize,
        /// Timed repetitions.
        #[arg(long, default_value_t = 50)]
        iterations: usize,
    },
    /// Drain a backlog of runs of a 5-action story (webhook, then 4 steps without I/O) with the
    /// real runner: durable steps/s, runs/s and due-to-commit latency.
    Runner(runner::Args),
    /// Post alerts to the real HTTP server at a fixed rate (open loop) while the runner runs:
    /// webhook acknowledgement latency and accepted runs/s.
    Webhook(webhook::Args),
    /// Replay events through every rule on one core: events/s for parse + evaluate.
    Detect(detect::Args),
    /// Post NDJSON batches of Okta events to `/ingest` with the shipped rules: durable events/s.
    Ingest(ingest::Args),
}

/// Runs a benchmark.
pub fn run(bench: Bench) -> anyhow::Result<ExitCode> {
    match bench {
        Bench::Validate {
            actions,
            iterations,
        } => validate(actions, iterations.max(1)),
        Bench::Runner(args) => runner::run(args),
        Bench::Webhook(args) => webhook::run(args),
        Bench::Detect(args) => detect::run(args),
        Bench::Ingest(args) => ingest::run(args),
    }
}

/// A story of `n` actions: one webhook, then a chain where each action reads its predecessors.
pub fn generated_story(n: usize) -> String {
    let mut s = String::from(
        "name: Generated\ncredentials:\n  hook: secret\n  api: token\nactions:\n  a0:\n    type: webhook\n    options: { path: generated, secret_credential: hook }\n",
    );
    for i in 1..n {
        let prev = i - 1;
        let action = match i % 4 {
            0 => format!(
                "  a{i}:\n    type: transform\n    from: a{prev}\n    options:\n      mode: message\n      payload:\n        id: \"{{{{ a0.body.id }}}}\"\n        seen: \"{{{{ a{prev} | json }}}}\"\n        n: {i}\n"
            ),
            1 => format!(
                "  a{i}:\n    type: trigger\n    from: a{prev}\n    options:\n      rules:\n        - {{ type: regex, path: \"{{{{ a0.body.name }}}}\", value: \"^adm(in)?\" }}\n        - {{ type: \"field>value\", path: \"{{{{ a0.body.count }}}}\", value: 3 }}\n      must_match: 1\n"
            ),
            2 => format!(
                "  a{i}:\n    type: http_request\n    from: a{prev}\n    options:\n      url: \"https://api.example.com/items/{{{{ a0.body.id | urlencode }}}}\"\n      method: POST\n      headers: {{ Authorization: \"Bearer {{{{ credentials.api }}}}\" }}\n      body: {{ step: \"{{{{ step.id }}}}\", prev: \"{{{{ a{prev} }}}}\" }}\n      timeout: 10s\n"
            ),
            _ => format!(
                "  a{i}:\n    type: transform\n    from: [a{prev}, a{prev}.failure]\n    options: {{ mode: delay, duration: 1s }}\n"
            ),
        };
        s.push_str(&action);
    }
    s
}

fn validate(actions: usize, iterations: usize) -> anyhow::Result<ExitCode> {
    let source = generated_story(actions);
    let catalog = Catalog::default();
    if let Err(diagnostics) = check_story("generated", &source, &catalog) {
        anyhow::bail!("the generated story is invalid: {:?}", diagnostics.first());
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let story = check_story("generated", &source, &catalog);
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(story.is_ok());
    }
    samples.sort_by(f64::total_cmp);
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let (p50, p99) = (pick(0.50), pick(0.99));
    println!(
        "validated a {actions}-action story ({} bytes) {iterations} times: p50 {p50:.2} ms, p99 {p99:.2} ms, max {:.2} ms; peak RSS {:.1} MiB",
        source.len(),
        samples[samples.len() - 1],
        peak_rss_mb()
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "validate",
            "actions": actions,
            "p50_ms": round2(p50),
            "p99_ms": round2(p99),
            "peak_rss_mb": round2(peak_rss_mb()),
        })
    );
    Ok(ExitCode::SUCCESS)
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Peak resident set size of this process, from `/proc/self/status` (Linux); 0 elsewhere.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Which database a benchmark uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh database on a Postgres server.
    Postgres,
}

impl Backend {
    fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where the scratch database goes.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// The database backend.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// Postgres: the server to use, as a URL to an existing database there (default
    /// `postgres://postgres@127.0.0.1:5432/postgres`); a fresh database is created beside it and
    /// dropped at the end. SQLite: `sqlite://FILE`, a file that must not exist yet (default: a
    /// temporary file); it is deleted at the end.
    #[arg(long)]
    pub database_url: Option<String>,
}

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists only for one benchmark.
pub struct ScratchDb {
    /// What the store connects to.
    pub url: String,
    /// What the summary shows.
    pub shown: String,
    drop: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl ScratchDb {
    /// Creates an empty database (the store migrates it when it opens).
    pub async fn create(args: &DbArgs) -> anyhow::Result<ScratchDb> {
        let suffix = format!("{}_{:08x}", std::process::id(), fastrand::u32(..));
        match args.backend {
            Backend::Sqlite => {
                let path = match &args.database_url {
                    Some(url) => {
                        let Some(file) = url.strip_prefix("sqlite://") else {
                            bail!(
                                "--backend sqlite needs a `sqlite://FILE` URL, not `{}`",
                                store::redact_url(url)
                            );
                        };
                        std::path::PathBuf::from(file.split('?').next().unwrap_or(file))
                    }
                    None => std::env::temp_dir().join(format!("warden_bench_{suffix}.db")),
                };
                if path.exists() {
                    bail!(
                        "{} exists; the benchmark deletes its database, so give a new file",
                        path.display()
                    );
                }
                Ok(ScratchDb {
                    url: format!("sqlite://{}", path.display()),
                    shown: path.display().to_string(),
                    drop: Cleanup::File(path),
                })
            }
            Backend::Postgres => {
                let admin_url = args.database_url.as_deref().unwrap_or(DEFAULT_POSTGRES_URL);
                if !(admin_url.starts_with("postgres://") || admin_url.starts_with("postgresql://"))
                {
                    bail!(
                        "--backend postgres needs a `postgres://…` URL, not `{}`",
                        store::redact_url(admin_url)
                    );
                }
                let name = format!("warden_bench_{suffix}");
                let mut admin = admin_connection(admin_url).await.with_context(|| {
                    format!("Failed to connect to {}", store::redact_url(admin_url))
                })?;
                sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .with_context(|| format!("Failed to create the database {name}"))?;
                let _ = admin.close().await;
                let url = with_database(admin_url, &name);
                Ok(ScratchDb {
                    shown: store::redact_url(&url),
                    url,
                    drop: Cleanup::Postgres {
                        admin_url: admin_url.to_owned(),
                        name,
                    },
                })
            }
        }
    }

    /// Deletes the database; the store must be closed first.
    pub async fn remove(self) -> anyhow::Result<()> {
        match self.drop {
            Cleanup::File(path) => {
                for extra in ["", "-wal", "-shm", "-journal"] {
                    let mut file = path.clone().into_os_string();
                    file.push(extra);
                    match std::fs::remove_file(&file) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(e)
                                .with_context(|| format!("Failed to delete {}", path.display()));
                        }
                        _ => {}
                    }
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                let mut admin = admin_connection(&admin_url).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .with_context(|| format!("Failed to drop the database {name}"))?;
                let _ = admin.close().await;
            }
        }
        Ok(())
    }
}

/// A connection for creating and dropping databases (which sqlx would log as slow statements).
async fn admin_connection(url: &str) -> anyhow::Result<sqlx::postgres::PgConnection> {
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    Ok(options.disable_statement_logging().connect().await?)
}

/// `postgres://u@h:5432/db?x=y` with `db` replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let authority = url.find("://").map_or(0, |i| i + 3);
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let host_end = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    format!("{}/{name}{query}", &base[..host_end])
}

/// Runs `body` on a scratch database and removes the database whatever the outcome.
pub async fn with_scratch_db<F, Fut, T>(args: &DbArgs, body: F) -> anyhow::Result<T>
where
    F: FnOnce(String, String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let db = ScratchDb::create(args).await?;
    let result = body(db.url.clone(), db.shown.clone()).await;
    let removed = db.remove().await;
    let value = result?;
    removed?;
    Ok(value)
}

/// The webhook secret of the benchmark story.
pub const BENCH_SECRET: &str = "bench-secret";
/// The benchmark story's id and webhook path.
pub const BENCH_STORY_ID: &str = "bench";

/// The benchmark story: a Panther-style webhook, then four actions without outbound I/O.
pub const BENCH_STORY: &str = r#"name: Bench triage
description: Benchmark story; its steps do no outbound I/O.
credentials:
  hook: Webhook secret.
actions:
  alert:
    type: webhook
    options:
      path: bench
      secret_credential: hook
      dedupe_key: "{{ alert.body.alertId }}"
  enrich:
    type: transform
    from: alert
    options:
      mode: message
      payload:
        alert_id: "{{ alert.body.alertId }}"
        user: "{{ alert.body.alertContext.target[0].alternateId }}"
        ip: "{{ alert.body.alertContext.client.ipAddress }}"
        severity: "{{ alert.body.severity }}"
  is_severe:
    type: trigger
    from: enrich
    options:
      must_match: 1
      rules:
        - { type: regex, path: "{{ enrich.severity }}", value: "^(HIGH|CRITICAL)$" }
        - { type: "field==value", path: "{{ alert.body.alertContext.actor.alternateId }}", value: "root@example.com" }
  summarize:
    type: transform
    from: [is_severe, is_severe.no_match]
    options:
      mode: message
      payload:
        title: "{{ alert.body.title }} for {{ enrich.user }}"
        where: "{{ alert.body.alertContext.client.geographicalContext.city }}, {{ alert.body.alertContext.client.geographicalContext.country }}"
        severe: "{{ is_severe.matched }}"
  record:
    type: transform
    from: summarize
    options:
      mode: message
      payload:
        outcome: triaged
        alert_id: "{{ enrich.alert_id }}"
        summary: "{{ summarize.title }} ({{ summarize.where }})"
"#;

/// Steps per run of the benchmark story, not counting the webhook's entry step.
pub const STEPS_PER_RUN: u64 = 4;

/// The bench story, validated.
pub fn bench_story() -> anyhow::Result<Story> {
    check_story(BENCH_STORY_ID, BENCH_STORY, &Catalog::default())
        .map_err(|d| anyhow::anyhow!("the bench story is invalid: {:?}", d.first()))
}

/// Settings over `url` with `definitions`, the system clock, the bench story's webhook secret
/// and `concurrency` steps in flight.
pub fn bench_settings(url: &str, definitions: Definitions, concurrency: usize) -> Settings {
    Settings {
        secrets: Secrets::default().with_credential("hook", BENCH_SECRET),
        runner: RunnerConfig {
            max_in_flight: concurrency.max(1),
            ..RunnerConfig::default()
        },
        ..Settings::new(url, definitions)
    }
}

/// A load generator's client of Warden's API (not an outbound vendor call).
#[allow(clippy::disallowed_methods)]
pub fn load_client() -> reqwest::Client {
    reqwest::Client::new()
}

/// A builder for a load generator's client of Warden's API.
#[allow(clippy::disallowed_methods)]
pub fn load_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
}

/// A Panther-like alert (≈ 700 bytes of JSON), unique per `n`.
pub fn panther_alert(n: u64) -> Value {
    let id = uuid::Uuid::now_v7().simple().to_string();
    json!({
        "alertId": id,
        "title": "Okta administrator privileges granted",
        "type": "RULE",
        "severity": if n % 4 == 0 { "CRITICAL" } else { "HIGH" },
        "ruleId": "Okta.AdminRoleAssigned",
        "createdAt": "2025-01-01T00:00:00Z",
        "link": format!("https://panther.example.com/alerts/{id}"),
        "alertContext": {
            "actor": { "alternateId": "admin@example.com", "displayName": "Jane Admin" },
            "client": {
                "ipAddress": format!("203.0.113.{}", n % 250),
                "geographicalContext": { "city": "Berlin", "country": "Germany" },
                "userAgent": { "rawUserAgent": "Mozilla/5.0 (X11; Linux x86_64)" }
            },
            "target": [{
                "id": format!("00u{n:017}"),
                "alternateId": format!("user{}@example.com", n % 1000),
                "type": "User"
            }],
            "eventType": "user.account.privilege.grant"
        }
    })
}

/// A multi-threaded runtime, as `warden serve` uses.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Failed to start the async runtime")
}

/// Logs warnings and errors only (the engine logs every run at `info`); `WARDEN_LOG` overrides.
pub fn init_quiet_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs in the database by status, read over a connection of its own.
pub async fn run_statuses(url: &str) -> anyhow::Result<Vec<(String, i64)>> {
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let rows = sqlx::query("SELECT status, COUNT(*) FROM runs GROUP BY status")
        .fetch_all(&mut conn)
        .await?;
    let _ = conn.close().await;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// The `q` quantile of sorted samples (nearest rank); 0 when there are none.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_story_is_valid_and_has_four_steps_after_its_webhook() {
        let story = check_story(BENCH_STORY_ID, BENCH_STORY, &Catalog::default())
            .unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(story.actions.len() as u64, STEPS_PER_RUN + 1);
    }

    #[test]
    fn scratch_postgres_urls_keep_server_and_options() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "b"),
            "postgres://u:p@h/b?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "b"),
            "postgres://h:5432/b"
        );
    }
}
