//! `warden serve`, `warden worker` and `warden migrate`.

use crate::api::{self, AppState, IngestLimits};
use crate::detect::okta_poll::{self, OktaLogPoller};
use crate::detect::routing::{check_routing, Routing, Target};
use crate::detect::scheduled::ScheduledQuery;
use crate::detect::scheduler::Scheduler;
use crate::detect::{self, deliver::Deliverer, detector::Detector};
use crate::engine::{Clock, Engine, Runner, RunnerConfig, StoryBook, SystemClock};
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
    /// Detection rules directory (Panther rule YAML).
    #[arg(long, env = "WARDEN_RULES", default_value = "rules")]
    pub rules: PathBuf,
    /// Alert destinations file [default: ./destinations.yml if it exists; else alerts are only
    /// stored].
    #[arg(long, env = "WARDEN_DESTINATIONS")]
    pub destinations: Option<PathBuf>,
    /// The URL Warden is reached at, for alert links [default: http://WARDEN_LISTEN].
    #[arg(long, env = "WARDEN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Seconds between polls of the Okta System Log (when `okta_url` and `okta` are set).
    #[arg(long, env = "WARDEN_OKTA_POLL_SECS", default_value_t = 60)]
    pub okta_poll_secs: u64,
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
    #[arg(long, env = "WARDEN_LISTEN", default_value = DEFAULT_LISTEN)]
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

/// Where `warden serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The URL people reach Warden at: `WARDEN_PUBLIC_URL`, else `http://` + the listen address.
pub fn public_url(common: &Common, listen: &str) -> String {
    common
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{listen}"))
}

/// Loads stories (refusing to start on invalid ones), opens the store and builds the engine,
/// with credentials and resources from the environment.
pub async fn build_engine(common: &Common, public_url: &str) -> anyhow::Result<Arc<Engine>> {
    let secrets = Secrets::from_env().context("Failed to read credentials")?;
    build_engine_with(common, public_url, secrets, Arc::new(SystemClock)).await
}

/// As [`build_engine`], with the given credentials, resources and clock.
pub async fn build_engine_with(
    common: &Common,
    public_url: &str,
    secrets: Secrets,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Engine>> {
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
    let store = SqlStore::open(&common.database_url)
        .await
        .with_context(|| {
            format!(
                "Failed to open the database {}",
                store::redact_url(&common.database_url)
            )
        })?;
    let stories = StoryBook::new(loaded.stories);
    stories
        .save_versions(&store, clock.now())
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
        public_url: public_url.to_owned(),
    }))
}

/// The detection stage and the scheduled queries it runs.
pub struct Detection {
    /// The detector.
    pub detector: Arc<Detector>,
    /// Scheduled queries read from the rules directory.
    pub queries: Vec<ScheduledQuery>,
}

/// Loads rules and destinations (refusing to start on invalid ones) and builds the detection
/// stage over `engine`'s store.
pub fn build_detector(common: &Common, engine: &Engine) -> anyhow::Result<Detection> {
    let (rules, queries) = if common.rules.exists() {
        let loaded = detect::load::load(std::slice::from_ref(&common.rules))
            .with_context(|| format!("Failed to read {}", common.rules.display()))?;
        if loaded.error_count() > 0 {
            for report in loaded.invalid_files() {
                for d in &report.diagnostics {
                    eprintln!("{}", d.render(&report.path));
                }
            }
            bail!(
                "{} problem(s) in rules; fix them (see `warden rules test`) and start again",
                loaded.error_count()
            );
        }
        let queries = loaded.queries.into_iter().map(|q| q.query).collect();
        (loaded.rules, queries)
    } else {
        tracing::info!(rules = %common.rules.display(), "No rules directory: detection has no rules.");
        (Vec::new(), Vec::new())
    };
    let routing = read_routing(common.destinations.as_deref())?;
    for destination in routing.all() {
        if let Target::StoryWebhook(path) = &destination.target {
            if engine.stories.webhook(path).is_none() {
                bail!(
                    "destination `{}` delivers to the story webhook `{path}`, which no story has",
                    destination.id
                );
            }
        }
    }
    let detector = Detector::new(
        rules,
        routing,
        engine.store.clone(),
        engine.clock.clone(),
        &engine.public_url,
    );
    Ok(Detection {
        detector: Arc::new(detector),
        queries,
    })
}

/// The Okta System Log poller, when the `okta_url` resource and the `okta` credential are set
/// (and `WARDEN_OKTA_POLL` is not `off`).
fn okta_poller(engine: &Engine) -> anyhow::Result<Option<(OktaLogPoller, String)>> {
    if std::env::var("WARDEN_OKTA_POLL").as_deref() == Ok("off") {
        return Ok(None);
    }
    let (Some(org), Some(token)) = (
        engine.secrets.resource("okta_url"),
        engine.secrets.credential("okta"),
    ) else {
        return Ok(None);
    };
    let poller = OktaLogPoller::new(engine.http.for_redirects(false).clone(), org, token.clone())
        .context("Cannot poll the Okta System Log")?
        .with_clock(engine.clock.clone());
    Ok(Some((poller, format!("okta:{org}"))))
}

/// Background work beside the runner: alert delivery, scheduled queries and the Okta poller.
fn spawn_detection(
    engine: &Arc<Engine>,
    detection: &Detection,
    poll_interval: Duration,
    stopped: &watch::Receiver<bool>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let detector = &detection.detector;
    let mut tasks = vec![tokio::spawn(
        Deliverer::new(engine.clone(), detector.clone(), Default::default()).run(stopped.clone()),
    )];
    let scheduler = Scheduler::new(
        detector.clone(),
        detection.queries.clone(),
        engine.clock.clone(),
    );
    if !scheduler.queries().is_empty() {
        tracing::info!(
            queries = scheduler.queries().len(),
            "Scheduled queries are on."
        );
        tasks.push(tokio::spawn(scheduler.run(stopped.clone())));
    }
    if let Some((poller, source)) = okta_poller(engine)? {
        tracing::info!(%source, interval_secs = poll_interval.as_secs(), "Polling the Okta System Log.");
        let (detector, stopped) = (detector.clone(), stopped.clone());
        tasks.push(tokio::spawn(async move {
            okta_poll::run(poller, &source, &*detector, poll_interval, stopped).await;
        }));
    }
    Ok(tasks)
}

fn read_routing(path: Option<&std::path::Path>) -> anyhow::Result<Routing> {
    let default = std::path::Path::new("destinations.yml");
    let path = match path {
        Some(path) => path,
        None if default.exists() => default,
        None => return Ok(Routing::default()),
    };
    let shown = path.display().to_string();
    let source = load::read_source(path).map_err(|d| anyhow::anyhow!("{}", d.render(&shown)))?;
    check_routing(&source).map_err(|problems| {
        let rendered: Vec<String> = problems.iter().map(|d| d.render(&shown)).collect();
        anyhow::anyhow!("{}", rendered.join("\n"))
    })
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
        let engine = build_engine(&args.common, &public_url(&args.common, &args.listen)).await?;
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
        let detection = build_detector(&args.common, &engine)?;
        let detector = detection.detector.clone();
        let (stop, stopped) = watch::channel(false);
        let runner = Runner::new(engine.clone(), runner_config(&args.common));
        let runner = tokio::spawn(runner.run(stopped.clone()));
        let background = spawn_detection(
            &engine,
            &detection,
            Duration::from_secs(args.common.okta_poll_secs.max(1)),
            &stopped,
        )?;
        let app = api::router(AppState {
            engine: engine.clone(),
            api_token,
            dev: args.dev,
            detector: detector.clone(),
            ingest_limits: IngestLimits::default(),
        });
        tracing::info!(
            listen = %listener.local_addr()?,
            stories = engine.stories.all().len(),
            rules = detector.rules().count(),
            "Warden is serving."
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("The HTTP server failed")?;
        tracing::info!("Shutting down: no new requests; draining steps.");
        let _ = stop.send(true);
        let _ = runner.await;
        for task in background {
            let _ = task.await;
        }
        engine.store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// `warden worker`: a runner only, for extra processes sharing a Postgres database.
pub fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    runtime()?.block_on(async {
        let listen = std::env::var("WARDEN_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.into());
        let engine = build_engine(&args.common, &public_url(&args.common, &listen)).await?;
        let detection = build_detector(&args.common, &engine)?;
        let (stop, stopped) = watch::channel(false);
        let runner = Runner::new(engine.clone(), runner_config(&args.common));
        let runner = tokio::spawn(runner.run(stopped.clone()));
        // Workers share the delivery queue and the scheduled queries (each tick is claimed in
        // the database, so it runs once). Polling Okta stays with `warden serve`.
        let deliverer = Deliverer::new(
            engine.clone(),
            detection.detector.clone(),
            Default::default(),
        );
        let scheduler = Scheduler::new(detection.detector, detection.queries, engine.clock.clone());
        let background = [
            tokio::spawn(deliverer.run(stopped.clone())),
            tokio::spawn(scheduler.run(stopped)),
        ];
        tracing::info!("Warden worker is running.");
        shutdown_signal().await;
        let _ = stop.send(true);
        let _ = runner.await;
        for task in background {
            let _ = task.await;
        }
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
