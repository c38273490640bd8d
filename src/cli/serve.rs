//! `warden serve`, `warden worker` and `warden migrate`.

use crate::api::server::{self, ServerLimits};
use crate::app::{App, Definitions, Settings};
use crate::engine::RunnerConfig;
use crate::http_client::Outbound;
use crate::preflight;
use crate::secrets::{Secret, Secrets};
use crate::store::{self, SqlStore};
use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    /// stored]. Empty (`WARDEN_DESTINATIONS=`): alerts are only stored.
    // A `String`: clap's path parser refuses the empty value that means "none".
    #[arg(long, env = "WARDEN_DESTINATIONS")]
    pub destinations: Option<String>,
    /// The URL Warden is reached at, for alert links [default: http://WARDEN_LISTEN].
    #[arg(long, env = "WARDEN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Seconds between polls of the Okta System Log (when `okta_url` and `okta` are set).
    #[arg(long, env = "WARDEN_OKTA_POLL_SECS", default_value_t = 60)]
    pub okta_poll_secs: u64,
    /// Seconds a step lease lasts before another worker may take the step over.
    #[arg(long, env = "WARDEN_LEASE_SECS", default_value_t = 30)]
    pub lease_secs: u64,
    /// Times a step may be lost with its worker (lease expired while running) before it fails
    /// as `poisoned` instead of running again; lost leases never spend an action's attempts.
    #[arg(long, env = "WARDEN_POISON_LIMIT", default_value_t = 20)]
    pub poison_limit: u32,
    /// Steps executing at once in this process.
    #[arg(long, env = "WARDEN_CONCURRENCY", default_value_t = crate::engine::runner::DEFAULT_MAX_IN_FLIGHT)]
    pub concurrency: usize,
    /// Outbound guard: `private` refuses requests (stories, Slack, Okta, alert URLs) to
    /// loopback, private, link-local (cloud metadata), shared, multicast and other non-public
    /// addresses, checked after DNS resolution; `off` reaches any address.
    #[arg(long, env = "WARDEN_OUTBOUND_GUARD", value_enum, default_value_t = OutboundGuard::Off)]
    pub outbound_guard: OutboundGuard,
    /// Days finished runs (with their steps and events) and rule matches are kept; 0 keeps them
    /// forever. Keep at least 28: the Bypass-MFA scheduled query counts four weeks of matches.
    #[arg(long, env = "WARDEN_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u64,
}

/// `--outbound-guard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutboundGuard {
    /// Any destination.
    Off,
    /// Public addresses only.
    Private,
}

impl From<OutboundGuard> for Outbound {
    fn from(guard: OutboundGuard) -> Outbound {
        match guard {
            OutboundGuard::Off => Outbound::Any,
            OutboundGuard::Private => Outbound::PublicOnly,
        }
    }
}

/// Settings read from the environment only (they hold secrets or are per-name), listed under
/// `serve --help` and `worker --help`.
const ENVIRONMENT_HELP: &str = "\
Also read from the environment:
  WARDEN_API_TOKEN              Bearer token /api/* requires (else 401; --dev opens it on loopback)
  WARDEN_CREDENTIAL_<NAME>      a credential, e.g. WARDEN_CREDENTIAL_VIRUSTOTAL (`warden check` lists what stories need)
  WARDEN_CREDENTIALS_FILE       a 0600 file of `name: value` credential lines
  WARDEN_RESOURCE_<NAME>        a resource (base URLs), e.g. WARDEN_RESOURCE_THEHIVE_URL
  WARDEN_RESOURCES_FILE         a file of `name: value` resource lines
  WARDEN_LOG                    log filter, e.g. info, warn, warden=debug (default info)
  WARDEN_LOG_FORMAT=json        JSON log lines (default text; colour only on a terminal)
  WARDEN_OKTA_POLL=off          do not poll the Okta System Log even when okta_url and okta are set";

/// `warden serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = ENVIRONMENT_HELP)]
pub struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// Address to listen on.
    #[arg(long, env = "WARDEN_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: String,
    /// Open the API without a token (trusted machines only).
    #[arg(long)]
    dev: bool,
    /// Serve `/metrics` without the API token (for a scraper on a trusted network).
    #[arg(long, env = "WARDEN_METRICS_OPEN")]
    metrics_open: bool,
    /// Refuse to start when a story lacks a credential or resource it needs (else that story's
    /// webhooks answer 503 naming what to set).
    #[arg(long, env = "WARDEN_STRICT")]
    strict: bool,
    #[command(flatten)]
    server: ServerArgs,
}

/// The HTTP server's limits (see `api::server`).
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Seconds a client has to send a request's head (from connecting, or from the first byte of
    /// a keep-alive connection's next request).
    #[arg(long, env = "WARDEN_HEADER_TIMEOUT_SECS", default_value_t = ServerLimits::DEFAULT.header_timeout.as_secs())]
    header_timeout_secs: u64,
    /// Seconds a client has to send a request's body, from the end of its head.
    #[arg(long, env = "WARDEN_BODY_TIMEOUT_SECS", default_value_t = ServerLimits::DEFAULT.body_timeout.as_secs())]
    body_timeout_secs: u64,
    /// Seconds a keep-alive connection may wait silently for its next request.
    #[arg(long, env = "WARDEN_IDLE_TIMEOUT_SECS", default_value_t = ServerLimits::DEFAULT.idle_timeout.as_secs())]
    idle_timeout_secs: u64,
    /// Connections open at once; more wait to be accepted (lowered to fit the open-files limit).
    #[arg(long, env = "WARDEN_MAX_CONNECTIONS", default_value_t = ServerLimits::DEFAULT.max_connections)]
    max_connections: usize,
    /// Seconds requests in progress may take to finish after SIGTERM before their connections
    /// are closed.
    #[arg(long, env = "WARDEN_SHUTDOWN_SECS", default_value_t = ServerLimits::DEFAULT.shutdown_grace.as_secs())]
    shutdown_secs: u64,
    /// Requests in progress at once on the public routes (webhooks, Slack, prompt links), whose
    /// bodies are read before the sender is authenticated; more wait a second, then get 503.
    #[arg(long, env = "WARDEN_MAX_PUBLIC_READS", default_value_t = crate::api::PublicReads::DEFAULT)]
    max_public_reads: usize,
}

impl ServerArgs {
    /// The limits these options ask for.
    pub fn limits(&self) -> ServerLimits {
        let secs = |s: u64| Duration::from_secs(s.max(1));
        ServerLimits {
            header_timeout: secs(self.header_timeout_secs),
            body_timeout: secs(self.body_timeout_secs),
            idle_timeout: secs(self.idle_timeout_secs),
            max_connections: self.max_connections.max(1),
            shutdown_grace: Duration::from_secs(self.shutdown_secs),
        }
    }
}

/// `warden worker`.
#[derive(Debug, clap::Args)]
#[command(after_help = ENVIRONMENT_HELP)]
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
    init_logging_at("info");
}

/// Starts logging at `default_level` unless `WARDEN_LOG` says otherwise; colour only when stderr
/// is a terminal (a log file or journald gets plain text).
pub fn init_logging_at(default_level: &str) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
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

/// What `serve` prints once it listens: each story's webhook URLs and what it lacks, then where
/// to look next.
fn what_next(app: &App) -> String {
    let base = app.engine.public_url.trim_end_matches('/');
    let mut out = String::from("\n");
    out.push_str(&preflight::report(&app.readiness, base));
    if app.readiness.iter().any(|r| !r.is_ready()) {
        out.push_str(
            "\nSet what is missing (or put it in WARDEN_CREDENTIALS_FILE / WARDEN_RESOURCES_FILE) and restart;\n\
             `warden check` lists it again without starting. Without vendor accounts, `warden demo`\n\
             plays the seed story against local simulators.\n",
        );
    }
    out.push_str(&format!(
        "\nConsole: {base}/   (sign in with WARDEN_API_TOKEN)\n\
         Runs:    curl -H \"Authorization: Bearer $WARDEN_API_TOKEN\" {base}/api/runs\n\
         Health:  {base}/healthz   Ready: {base}/readyz\n\n"
    ));
    out
}

/// Where `warden serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The URL people reach Warden at: `WARDEN_PUBLIC_URL`, else `http://` + the listen address.
pub fn public_url(common: &Common, listen: &str) -> String {
    public_url_or_listen(common.public_url.as_deref(), listen)
}

/// `public_url` if set, else `http://` + the listen address.
pub fn public_url_or_listen(public_url: Option<&str>, listen: &str) -> String {
    public_url.map_or_else(|| format!("http://{listen}"), str::to_owned)
}

impl Common {
    /// The assembly's settings for these definitions, credentials from the environment and the
    /// system clock.
    pub fn settings(&self, public_url: &str) -> anyhow::Result<Settings> {
        let secrets = Secrets::from_env().context("Failed to read credentials")?;
        Ok(Settings {
            secrets,
            public_url: public_url.to_owned(),
            runner: runner_config(self),
            outbound: self.outbound_guard.into(),
            retention: (self.retention_days > 0)
                .then(|| Duration::from_secs(self.retention_days.saturating_mul(86_400))),
            ..Settings::new(&self.database_url, self.definitions())
        })
    }

    /// Where the stories, templates, rules and destinations are.
    pub fn definitions(&self) -> Definitions {
        Definitions::Files {
            stories: self.stories.clone(),
            templates: self.templates.clone(),
            rules: self.rules.clone(),
            destinations: self.destinations.as_ref().map(PathBuf::from),
        }
    }
}

fn runner_config(common: &Common) -> RunnerConfig {
    RunnerConfig {
        lease: Duration::from_secs(common.lease_secs.max(1)),
        max_in_flight: common.concurrency.max(1),
        poison_limit: common.poison_limit.max(1),
        ..RunnerConfig::default()
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
pub(crate) async fn shutdown_signal() {
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

/// Who may use the API, from `--dev`, whether `WARDEN_API_TOKEN` is set and where Warden
/// listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiAccess {
    /// Bearer token required (a token is set; `--dev` then changes nothing).
    Token,
    /// Open without a token: `--dev`, no token, loopback only.
    Open,
    /// No token and no `--dev`: every API request gets 401.
    Closed,
}

/// `--dev` on an address other machines can reach.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("--dev opens the API without a token, so it only listens on loopback (127.0.0.1 or [::1]); set WARDEN_API_TOKEN and drop --dev to listen elsewhere")]
pub struct DevNotLoopback;

/// Decides [`ApiAccess`]. `--dev` is refused unless every address `listen` resolved to is
/// loopback, token or not; with a token, the token is still required (a forgotten `--dev` must
/// not silently open an API that was given a token).
pub fn api_access(
    dev: bool,
    token_set: bool,
    listen: &[SocketAddr],
) -> Result<ApiAccess, DevNotLoopback> {
    if dev && (listen.is_empty() || !listen.iter().all(|a| a.ip().is_loopback())) {
        return Err(DevNotLoopback);
    }
    Ok(match (token_set, dev) {
        (true, _) => ApiAccess::Token,
        (false, true) => ApiAccess::Open,
        (false, false) => ApiAccess::Closed,
    })
}

/// `warden serve`: webhooks, API and a runner in one process.
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    match server::raise_open_files_limit() {
        Ok(limit) => tracing::debug!(open_files_limit = limit, "Open-files limit raised."),
        Err(error) => tracing::warn!(%error, "Could not raise the open-files limit."),
    }
    runtime()?.block_on(async {
        let api_token = std::env::var("WARDEN_API_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host(&args.listen)
            .await
            .with_context(|| format!("Failed to resolve the listen address {}", args.listen))?
            .collect();
        let access = api_access(args.dev, api_token.is_some(), &addresses)
            .map_err(|refused| anyhow::anyhow!("{refused} (listen: {})", args.listen))?;
        match access {
            ApiAccess::Closed => tracing::warn!("WARDEN_API_TOKEN is not set: /api/* answers 401 (use --dev to open it on a trusted machine)."),
            ApiAccess::Token if args.dev => tracing::warn!("--dev is ignored because WARDEN_API_TOKEN is set: the API still requires the token."),
            ApiAccess::Open => tracing::warn!("--dev: the API is open without a token, on loopback only."),
            ApiAccess::Token => {}
        }
        let okta_poll = (std::env::var("WARDEN_OKTA_POLL").as_deref() != Ok("off"))
            .then(|| Duration::from_secs(args.common.okta_poll_secs.max(1)));
        let settings = Settings {
            api_token,
            dev: access == ApiAccess::Open,
            metrics_open: args.metrics_open,
            okta_poll,
            server: args.server.limits(),
            max_public_reads: args.server.max_public_reads,
            ..args
                .common
                .settings(&public_url(&args.common, &args.listen))?
        };
        let app = App::build(settings).await?;
        let unready = app.readiness.iter().filter(|r| !r.is_ready()).count();
        if args.strict && unready > 0 {
            eprint!("{}", preflight::report(&app.readiness, &app.engine.public_url));
            anyhow::bail!("--strict: {unready} story(ies) lack credentials or resources (listed above)");
        }
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("Failed to listen on {}", args.listen))?;
        let running = app.start()?;
        tracing::info!(
            listen = %listener.local_addr()?,
            stories = app.engine.stories.all().len(),
            not_ready = unready,
            rules = app.detector.rules().count(),
            "Warden is serving."
        );
        eprint!("{}", what_next(&app));
        server::serve(
            listener,
            app.router(),
            app.server_limits(),
            shutdown_signal(),
        )
        .await;
        tracing::info!("Shutting down: no new requests; draining steps.");
        running.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// `warden worker`: a runner only, for extra processes sharing a Postgres database. Workers
/// share the delivery queue and the scheduled queries (each tick is claimed in the database, so
/// it runs once); polling Okta stays with `warden serve`.
pub fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    runtime()?.block_on(async {
        let listen = std::env::var("WARDEN_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.into());
        let settings = args.common.settings(&public_url(&args.common, &listen))?;
        let app = App::build(settings).await?;
        let running = app.start()?;
        tracing::info!("Warden worker is running.");
        shutdown_signal().await;
        running.stop().await;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn dev_is_refused_off_loopback_even_with_a_token() {
        for listen in [
            &["0.0.0.0:8080"][..],
            &["10.0.0.5:80"],
            &["[::]:8080"],
            &["127.0.0.1:8080", "10.0.0.5:8080"],
            &[],
        ] {
            let listen = addresses(listen);
            assert_eq!(
                api_access(true, false, &listen),
                Err(DevNotLoopback),
                "{listen:?}"
            );
            assert_eq!(
                api_access(true, true, &listen),
                Err(DevNotLoopback),
                "{listen:?}"
            );
        }
    }

    #[test]
    fn dev_opens_the_api_on_loopback_unless_a_token_is_set() {
        for listen in [
            &["127.0.0.1:8080"][..],
            &["[::1]:8080"],
            &["127.0.0.1:1", "[::1]:1"],
        ] {
            let listen = addresses(listen);
            assert_eq!(api_access(true, false, &listen), Ok(ApiAccess::Open));
            assert_eq!(api_access(true, true, &listen), Ok(ApiAccess::Token));
        }
    }

    #[test]
    fn without_dev_the_token_decides_anywhere() {
        let listen = addresses(&["0.0.0.0:8080"]);
        assert_eq!(api_access(false, true, &listen), Ok(ApiAccess::Token));
        assert_eq!(api_access(false, false, &listen), Ok(ApiAccess::Closed));
    }
}
