//! The one assembly of Warden: [`Settings`] in, an [`App`] out (store, stories, engine, detection
//! stage), from which the HTTP API, the runner and the background work are started.
//! `warden serve`, `warden worker`, `warden demo`, the benches and the integration tests all
//! build through here, so what they run is wired the same way.

use crate::api::server::ServerLimits;
use crate::api::{self, AppState, IngestLimits, PublicReads};
use crate::clock::Clock;
use crate::detect::budget::DecompressionBudget;
use crate::detect::deliver::{Deliverer, DeliveryPolicy};
use crate::detect::detector::Detector;
use crate::detect::load::LoadedRule;
use crate::detect::okta_poll::{self, OktaLogPoller};
use crate::detect::routing::{check_routing, Routing, Target};
use crate::detect::scheduled::ScheduledQuery;
use crate::detect::scheduler::Scheduler;
use crate::engine::{Engine, Runner, RunnerConfig, StoryBook};
use crate::http_client::canned::Canned;
use crate::http_client::{HttpClients, Outbound};
use crate::preflight::{self, Readiness};
use crate::retention::{self, Pruner};
use crate::search;
use crate::secrets::{Secret, Secrets};
use crate::store::{self, SqlStore};
use crate::story::{load, Story};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why Warden cannot start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Stories, templates, rules or destinations have problems; each is rendered with its
    /// position.
    #[error(
        "{count} problem(s) in {what}; fix them (see `{command}`) and start again:\n{rendered}"
    )]
    Invalid {
        /// What was read: `stories or templates`, `rules`, `destinations`.
        what: &'static str,
        /// The command that reports the same problems.
        command: &'static str,
        /// How many.
        count: usize,
        /// Every problem, one `path:line:col: error[…]` block each.
        rendered: String,
    },
    /// A directory or file could not be read.
    #[error("failed to read {path}: {source}")]
    Read {
        /// What.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("failed to open the database {url}: {source}")]
    Store {
        /// The URL, without its password.
        url: String,
        /// Why.
        source: store::Error,
    },
    /// The database failed while saving the stories' versions.
    #[error("failed to save story versions: {0}")]
    SaveVersions(store::Error),
    /// The Okta poller's resource or credential is unusable.
    #[error("cannot poll the Okta System Log: {0}")]
    OktaPoller(String),
}

/// Where stories, templates, rules and destinations come from.
pub enum Definitions {
    /// Directories and a file on disk, as `warden serve` reads them: anything invalid stops the
    /// build with every problem listed.
    Files {
        /// Stories directory.
        stories: PathBuf,
        /// Integration templates directory.
        templates: PathBuf,
        /// Detection rules directory (may be missing: no rules).
        rules: PathBuf,
        /// Alert destinations; `None`: `./destinations.yml` if it exists, else none.
        destinations: Option<PathBuf>,
    },
    /// Already loaded and validated (benches, tests).
    Loaded {
        /// The stories.
        stories: Vec<Story>,
        /// The rules.
        rules: Vec<LoadedRule>,
        /// The scheduled queries.
        queries: Vec<ScheduledQuery>,
        /// The destinations.
        routing: Routing,
    },
}

impl Definitions {
    /// Stories only: no rules, queries or destinations.
    pub fn stories(stories: Vec<Story>) -> Definitions {
        Definitions::Loaded {
            stories,
            rules: Vec::new(),
            queries: Vec::new(),
            routing: Routing::default(),
        }
    }
}

/// Everything the assembly needs.
pub struct Settings {
    /// `sqlite://FILE` or `postgres://…`; migrated on build.
    pub database_url: String,
    /// Stories, templates, rules and destinations.
    pub definitions: Definitions,
    /// Credentials and resources.
    pub secrets: Secrets,
    /// Time: the system's in production, a manual clock in tests.
    pub clock: Arc<dyn Clock>,
    /// The URL people reach Warden at (prompt links, alert links).
    pub public_url: String,
    /// The bearer token `/api/*` and `/ingest` require.
    pub api_token: Option<Secret>,
    /// Open the API without a token (trusted machines only).
    pub dev: bool,
    /// Serve `/metrics` without the API token (a scraper on a trusted network); else it needs the
    /// token like `/api`.
    pub metrics_open: bool,
    /// Body limits of `POST /ingest`.
    pub ingest_limits: IngestLimits,
    /// The HTTP server's timeouts and connection limit.
    pub server: ServerLimits,
    /// Requests in progress at once on the public routes (webhooks, Slack, prompt links).
    pub max_public_reads: usize,
    /// Runner tuning.
    pub runner: RunnerConfig,
    /// Alert delivery retries.
    pub delivery: DeliveryPolicy,
    /// How often to poll the Okta System Log (when its resource and credential are set);
    /// `None`: never (workers, tests).
    pub okta_poll: Option<Duration>,
    /// Which destinations outbound requests (stories, Slack, the Okta poller, alert delivery to
    /// URLs) may reach; [`Outbound::PublicOnly`] refuses loopback, private, link-local and other
    /// non-public addresses.
    pub outbound: Outbound,
    /// How long finished runs and rule matches are kept before the background sweep deletes
    /// them (`warden serve` defaults to [`retention::DEFAULT_AGE`], 30 days); `None`: forever
    /// (the default here, for tests and benches).
    pub retention: Option<Duration>,
    /// `warden test` only: canned vendor answers in place of the network (every outbound
    /// request is answered by it, none is sent). `None` everywhere else.
    pub canned: Option<Arc<dyn Canned>>,
}

impl Settings {
    /// Settings with defaults for everything but where the data and definitions are.
    pub fn new(database_url: impl Into<String>, definitions: Definitions) -> Settings {
        Settings {
            database_url: database_url.into(),
            definitions,
            secrets: Secrets::default(),
            clock: Arc::new(crate::clock::SystemClock),
            public_url: "http://127.0.0.1:8080".into(),
            api_token: None,
            dev: false,
            metrics_open: false,
            ingest_limits: IngestLimits::default(),
            server: ServerLimits::default(),
            max_public_reads: PublicReads::DEFAULT,
            runner: RunnerConfig::default(),
            delivery: DeliveryPolicy::default(),
            okta_poll: None,
            outbound: Outbound::Any,
            retention: None,
            canned: None,
        }
    }
}

/// Warden assembled: the engine and the detection stage over one store.
pub struct App {
    /// The engine: store, stories, secrets, HTTP, clock, metrics.
    pub engine: Arc<Engine>,
    /// Each story's readiness: the credentials and resources it needs that are not set.
    pub readiness: Vec<Readiness>,
    /// The detection stage.
    pub detector: Arc<Detector>,
    queries: Vec<ScheduledQuery>,
    api_token: Option<Secret>,
    dev: bool,
    metrics_open: bool,
    ingest_limits: IngestLimits,
    server: ServerLimits,
    public_reads: PublicReads,
    decompression: Arc<DecompressionBudget>,
    runner: RunnerConfig,
    delivery: DeliveryPolicy,
    okta_poll: Option<Duration>,
    retention: Option<Duration>,
}

impl App {
    /// Loads and checks the definitions, opens (and migrates) the store, saves the stories'
    /// versions and builds the engine and the detector.
    pub async fn build(settings: Settings) -> Result<App, Error> {
        let (stories, rules, queries, routing) = match settings.definitions {
            Definitions::Files {
                stories,
                templates,
                rules,
                destinations,
            } => {
                let stories = load_stories(&stories, &templates)?;
                let (rules, queries) = load_rules(&rules)?;
                let routing = read_routing(destinations.as_deref())?;
                (stories, rules, queries, routing)
            }
            Definitions::Loaded {
                stories,
                rules,
                queries,
                routing,
            } => (stories, rules, queries, routing),
        };
        let store = SqlStore::open(&settings.database_url)
            .await
            .map_err(|source| Error::Store {
                url: store::redact_url(&settings.database_url),
                source,
            })?;
        let stories = StoryBook::new(stories);
        let mut routing = routing;
        skip_unknown_story_webhooks(&mut routing, &stories);
        stories
            .save_versions(&store, settings.clock.now())
            .await
            .map_err(Error::SaveVersions)?;
        if settings.outbound == Outbound::PublicOnly {
            tracing::info!(
                "Outbound guard on: requests to loopback, private, link-local and other non-public addresses are refused."
            );
        }
        let readiness =
            preflight::check(stories.all().iter().map(AsRef::as_ref), &settings.secrets);
        for story in readiness.iter().filter(|r| !r.is_ready()) {
            tracing::warn!(
                story = %story.story,
                "{}; its webhooks answer 503 until then (`warden check` says who needs what).",
                story.summary()
            );
        }
        let not_ready = readiness
            .iter()
            .filter(|r| !r.is_ready())
            .map(|r| (r.story.clone(), r.summary()))
            .collect();
        let engine = Arc::new(Engine {
            store,
            stories,
            not_ready,
            secrets: settings.secrets,
            http: match settings.canned {
                Some(responder) => HttpClients::canned(responder),
                None => HttpClients::with_outbound(settings.outbound),
            },
            clock: settings.clock,
            metrics: Default::default(),
            wake: Default::default(),
            public_url: settings.public_url,
        });
        let detector = Arc::new(Detector::new(
            rules,
            routing,
            engine.store.clone(),
            engine.clock.clone(),
            &engine.public_url,
        ));
        Ok(App {
            engine,
            readiness,
            detector,
            queries,
            api_token: settings.api_token,
            dev: settings.dev,
            metrics_open: settings.metrics_open,
            ingest_limits: settings.ingest_limits,
            server: settings.server,
            public_reads: PublicReads::new(settings.max_public_reads),
            decompression: DecompressionBudget::new(settings.ingest_limits.decompressed_in_flight),
            runner: settings.runner,
            delivery: settings.delivery,
            okta_poll: settings.okta_poll,
            retention: settings.retention,
        })
    }

    /// The HTTP API (webhooks, Slack, prompts, ingest, `/api`, `/healthz`, `/metrics`) and the
    /// web console at `/`.
    pub fn router(&self) -> axum::Router {
        let state = AppState {
            engine: self.engine.clone(),
            api_token: self.api_token.clone(),
            dev: self.dev,
            metrics_open: self.metrics_open,
            detector: self.detector.clone(),
            ingest_limits: self.ingest_limits,
            public_reads: self.public_reads.clone(),
            decompression: self.decompression.clone(),
        };
        api::router(state.clone()).merge(crate::console::router(state))
    }

    /// The HTTP server's limits, for [`api::server::serve`].
    pub fn server_limits(&self) -> ServerLimits {
        self.server
    }

    /// A runner over the engine (tests drive it with `run_until_idle`).
    pub fn runner(&self) -> Runner {
        Runner::new(self.engine.clone(), self.runner.clone())
    }

    /// The alert delivery queue's worker.
    pub fn deliverer(&self) -> Deliverer {
        Deliverer::new(self.engine.clone(), self.detector.clone(), self.delivery)
    }

    /// Payload search's indexer over this app's store.
    pub fn indexer(&self) -> search::Indexer {
        search::Indexer::new(self.engine.clone())
    }

    /// Starts the work that runs beside the API: the runner, alert delivery, payload search's
    /// indexer, scheduled queries (when there are any), the Okta poller (when configured) and the
    /// retention sweep (when `Settings::retention` is set).
    pub fn start(&self) -> Result<Running, Error> {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = vec![
            tokio::spawn(self.runner().run(stopped.clone())),
            tokio::spawn(self.deliverer().run(stopped.clone())),
        ];
        let scheduler = Scheduler::new(
            self.detector.clone(),
            self.queries.clone(),
            self.engine.clock.clone(),
        );
        if !scheduler.queries().is_empty() {
            tracing::info!(
                queries = scheduler.queries().len(),
                "Scheduled queries are on."
            );
            tasks.push(tokio::spawn(scheduler.run(stopped.clone())));
        }
        if let Some(interval) = self.okta_poll {
            if let Some((poller, source)) = self.okta_poller()? {
                tracing::info!(%source, interval_secs = interval.as_secs(), "Polling the Okta System Log.");
                let (detector, stopped) = (self.detector.clone(), stopped.clone());
                tasks.push(tokio::spawn(async move {
                    okta_poll::run(poller, &source, &*detector, interval, stopped).await;
                }));
            }
        }
        tasks.push(tokio::spawn(self.indexer().run(stopped.clone())));
        if let Some(age) = self.retention {
            if age < retention::MINIMUM_ADVISED {
                tracing::warn!(
                    retention_days = age.as_secs() / 86_400,
                    "Retention is under 28 days: scheduled queries over four weeks of matches (Bypass-MFA) will miss some."
                );
            }
            tracing::info!(
                retention_days = age.as_secs() / 86_400,
                "Finished runs and rule matches past retention are pruned hourly."
            );
            let pruner = Pruner::new(self.engine.clone(), retention::Policy::new(age));
            tasks.push(tokio::spawn(pruner.run(stopped.clone())));
        }
        Ok(Running {
            stop,
            tasks,
            engine: self.engine.clone(),
        })
    }

    /// The Okta System Log poller, when the `okta_url` resource and the `okta` credential are
    /// set, with the checkpoint source it stores its position under.
    fn okta_poller(&self) -> Result<Option<(OktaLogPoller, String)>, Error> {
        let secrets = &self.engine.secrets;
        let (Some(org), Some(token)) = (secrets.resource("okta_url"), secrets.credential("okta"))
        else {
            return Ok(None);
        };
        let http = self.engine.http.clone();
        let poller = OktaLogPoller::new(http, org, token.clone())
            .map_err(|e| Error::OktaPoller(e.to_string()))?
            .with_clock(self.engine.clock.clone());
        Ok(Some((poller, format!("okta:{org}"))))
    }
}

/// The background work of a started [`App`].
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    engine: Arc<Engine>,
}

impl Running {
    /// Stops claiming new work, lets in-flight steps and deliveries finish (each bounded by its
    /// own drain timeout), then closes the store.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.engine.store.close().await;
    }
}

/// Loads and validates the stories under `stories` with the templates under `templates`.
pub fn load_stories(stories: &Path, templates: &Path) -> Result<Vec<Story>, Error> {
    let loaded =
        load::load(std::slice::from_ref(&stories.to_path_buf()), templates).map_err(|source| {
            Error::Read {
                path: stories.display().to_string(),
                source,
            }
        })?;
    if loaded.error_count() > 0 {
        let rendered = loaded
            .reports
            .iter()
            .flat_map(|r| r.diagnostics.iter().map(|d| d.render(&r.path)))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(Error::Invalid {
            what: "stories or templates",
            command: "warden validate",
            count: loaded.error_count(),
            rendered,
        });
    }
    Ok(loaded.stories)
}

fn load_rules(rules: &Path) -> Result<(Vec<LoadedRule>, Vec<ScheduledQuery>), Error> {
    if !rules.exists() {
        tracing::info!(rules = %rules.display(), "No rules directory: detection has no rules.");
        return Ok((Vec::new(), Vec::new()));
    }
    let loaded = crate::detect::load::load(std::slice::from_ref(&rules.to_path_buf())).map_err(
        |source| Error::Read {
            path: rules.display().to_string(),
            source,
        },
    )?;
    if loaded.error_count() > 0 {
        let rendered = loaded
            .invalid_files()
            .flat_map(|r| r.diagnostics.iter().map(|d| d.render(&r.path)))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(Error::Invalid {
            what: "rules",
            command: "warden rules test",
            count: loaded.error_count(),
            rendered,
        });
    }
    let queries = loaded.queries.into_iter().map(|q| q.query).collect();
    Ok((loaded.rules, queries))
}

fn read_routing(path: Option<&Path>) -> Result<Routing, Error> {
    let default = Path::new("destinations.yml");
    let path = match path {
        // `WARDEN_DESTINATIONS=` (empty): none, whatever ./destinations.yml says.
        Some(path) if path.as_os_str().is_empty() => return Ok(Routing::default()),
        Some(path) => path,
        None if default.exists() => default,
        None => return Ok(Routing::default()),
    };
    let shown = path.display().to_string();
    let invalid = |rendered: String, count: usize| Error::Invalid {
        what: "destinations",
        command: "warden serve",
        count,
        rendered,
    };
    let source = load::read_source(path).map_err(|d| invalid(d.render(&shown), 1))?;
    check_routing(&source).map_err(|problems| {
        let rendered: Vec<String> = problems.iter().map(|d| d.render(&shown)).collect();
        invalid(rendered.join("\n"), problems.len())
    })
}

/// Drops, with a WARN each, the story-webhook destinations no loaded story has: a stories
/// folder without the shipped story still starts, and those alerts are stored only.
fn skip_unknown_story_webhooks(routing: &mut Routing, stories: &StoryBook) {
    let skipped = routing.remove_unless(|destination| match &destination.target {
        Target::StoryWebhook(path) => stories.webhook(path).is_some(),
        Target::Url { .. } => true,
    });
    for destination in skipped {
        if let Target::StoryWebhook(path) = &destination.target {
            tracing::warn!(
                destination = %destination.id,
                story_webhook = %path,
                "A destination delivers to a story webhook no loaded story has; it is skipped (alerts it would take are stored only)."
            );
        }
    }
}
