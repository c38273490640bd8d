//! `warden serve`, `warden worker` and `warden migrate`.

use crate::api::{self, AppState};
use crate::engine::{Engine, Runner, RunnerConfig, StoryBook, SystemClock};
use crate::http_client::HttpClients;
use crate::secrets::{Secret, Secrets};
use crate::store::{self, SqlStore};
use crate::story::load;
use anyhow::{bail, Context as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Where the data and definitions are.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// Database URL: `sqlite://FILE` (default, in the working directory) or `postgres://…`.
    #[arg(long, env = "WARDEN_DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Stories directory.
    #[arg(long, env = "WARDEN_STORIES", default_value = "stories")]
    pub stories: PathBuf,
    /// Integration templates directory.
    #[arg(long, env = "WARDEN_TEMPLATES", default_value = "templates")]
    pub templates: PathBuf,
    /// Seconds a step lease lasts before another worker may take the step over.
    #[arg(long, env = "WARDEN_LEASE_SECS", default_value_t = 30)]
    pub lease_secs: u64,
    /// Steps executing at once in this process.
    #[arg(long, env = "WARDEN_CONCURRENCY", default_value_t = 64)]
    pub concurrency: usize,
}

/// `warden serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// Address to listen on.
    #[arg(long, env = "WARDEN_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Open the API without a token (trusted machines only).
    #[arg(long)]
    dev: bool,
}

/// `warden worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    common: Common,
}

/// `warden migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Database URL.
    #[arg(long, env = "WARDEN_DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL)]
    database_url: String,
}

/// Starts logging: `WARDEN_LOG` filters (default `info`), `WARDEN_LOG_FORMAT=json` for JSON lines.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::env::var("WARDEN_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Failed to start the async runtime")
}

/// Loads stories (refusing to start on invalid ones), opens the store and builds the engine.
pub async fn build_engine(common: &Common) -> anyhow::Result<Arc<Engine>> {
    let loaded = load::load(std::slice::from_ref(&common.stories), &common.templates)
        .with_context(|| format!("Failed to read {}", common.stories.display()))?;
    if loaded.error_count() > 0 {
        for report in &loaded.reports {
            for d in &report.diagnostics {
                eprintln!("{}", d.render(&report.path));
            }
        }
        bail!(
            "{} problem(s) in stories or templates; fix them (see `warden validate`) and start again",
            loaded.error_count()
        );
    }
    let secrets = Secrets::from_env().context("Failed to read credentials")?;
    let store = SqlStore::open(&common.database_url)
        .await
        .with_context(|| {
            format!(
                "Failed to open the database {}",
                store::redact_url(&common.database_url)
            )
        })?;
    let stories = StoryBook::new(loaded.stories);
    let clock = Arc::new(SystemClock);
    stories
        .save_versions(&store, crate::engine::Clock::now(&*clock))
        .await
        .context("Failed to save story versions")?;
    Ok(Arc::new(Engine {
        store,
        stories,
        secrets,
        http: HttpClients::new(),
        clock,
        metrics: Default::default(),
        wake: Default::default(),
    }))
}

fn runner_config(common: &Common) -> RunnerConfig {
    RunnerConfig {
        lease: Duration::from_secs(common.lease_secs.max(1)),
        max_in_flight: common.concurrency.max(1),
        ..RunnerConfig::default()
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// `warden serve`: webhooks, API and a runner in one process.
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    runtime()?.block_on(async {
        let engine = build_engine(&args.common).await?;
        let api_token = std::env::var("WARDEN_API_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        if api_token.is_none() && !args.dev {
            tracing::warn!("WARDEN_API_TOKEN is not set: /api/* answers 401 (use --dev to open it on a trusted machine).");
        }
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("Failed to listen on {}", args.listen))?;
        let (stop, stopped) = watch::channel(false);
        let runner = Runner::new(engine.clone(), runner_config(&args.common));
        let runner = tokio::spawn(runner.run(stopped));
        let app = api::router(AppState {
            engine: engine.clone(),
            api_token,
            dev: args.dev,
        });
        tracing::info!(listen = %listener.local_addr()?, stories = engine.stories.all().len(), "Warden is serving.");
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("The HTTP server failed")?;
        tracing::info!("Shutting down: no new requests; draining steps.");
        let _ = stop.send(true);
        let _ = runner.await;
        engine.store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// `warden worker`: a runner only, for extra processes sharing a Postgres database.
pub fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    runtime()?.block_on(async {
        let engine = build_engine(&args.common).await?;
        let (stop, stopped) = watch::channel(false);
        let runner =
            tokio::spawn(Runner::new(engine.clone(), runner_config(&args.common)).run(stopped));
        tracing::info!("Warden worker is running.");
        shutdown_signal().await;
        let _ = stop.send(true);
        let _ = runner.await;
        engine.store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// `warden migrate`: applies pending migrations and says which.
pub fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let shown = store::redact_url(&args.database_url);
        let store = SqlStore::connect(&args.database_url)
            .await
            .with_context(|| format!("Failed to connect to {shown}"))?;
        let applied = store
            .migrate()
            .await
            .with_context(|| format!("Failed to migrate {shown}"))?;
        if applied.is_empty() {
            println!("{shown}: the schema is current; nothing to apply");
        } else {
            println!("{shown}: applied migrations {applied:?}");
        }
        store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}
