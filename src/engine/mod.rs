//! The durable runner: [`machine`] decides (pure), [`runner`] claims, executes and commits.
//! [`execute`] builds a step's context and dispatches to its kind in `actions`; [`stories`] finds
//! the story version a run pinned; [`operate`] is what people do to runs (retry, cancel, re-run,
//! answer a prompt).

pub mod entry;
pub mod execute;
pub mod machine;
pub mod operate;
pub mod runner;
pub mod stories;

pub use runner::{Runner, RunnerConfig};
pub use stories::StoryBook;

use crate::actions::Env;
use crate::clock::Clock;
use crate::http_client::HttpClients;
use crate::metrics::Metrics;
use crate::secrets::Secrets;
use crate::store::SqlStore;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;

/// Everything a step needs, shared by the runner and the API.
#[derive(Debug)]
pub struct Engine {
    /// The database.
    pub store: SqlStore,
    /// Stories, current and pinned.
    pub stories: StoryBook,
    /// Credentials and resources.
    pub secrets: Secrets,
    /// Outbound HTTP.
    pub http: HttpClients,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Counters.
    pub metrics: Metrics,
    /// Wakes this process's runner when it adds due work itself.
    pub wake: Notify,
    /// The URL people reach Warden at (prompt links, alert links).
    pub public_url: String,
    /// Stories missing a credential or resource they need, with what to set
    /// ([`crate::preflight`]): their webhooks refuse new runs.
    pub not_ready: HashMap<String, String>,
}

impl Engine {
    /// Why `story` cannot start runs yet (the settings to set), if it cannot.
    pub fn not_ready(&self, story: &str) -> Option<&str> {
        self.not_ready.get(story).map(String::as_str)
    }

    /// What actions may use of the engine.
    pub fn action_env(&self) -> Env<'_, SqlStore> {
        Env {
            store: &self.store,
            http: &self.http,
            clock: self.clock.as_ref(),
            secrets: &self.secrets,
            stories: &self.stories,
            public_url: &self.public_url,
        }
    }
}
