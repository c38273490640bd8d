//! **Simulators** of VirusTotal, GreyNoise, Slack, TheHive 5 and Okta, for `warden demo` and
//! end-to-end tests. They are local stand-ins, not the vendors: each speaks its vendor's
//! documented wire format (`specs/external-apis.md`: paths, auth headers, status codes, error
//! envelopes, rate-limit headers) and answers with the shared fixtures' shapes, but the data
//! comes from a [`Scenario`] and nothing leaves the machine. Every response carries
//! `X-Warden-Simulator: <vendor>` so nobody mistakes one for the real service.
//!
//! Each vendor gets its own axum server on an ephemeral `127.0.0.1` port. Point Warden at them
//! with [`Simulators::resources`] and [`Simulators::credentials`] (the names the shipped
//! templates use), then read what happened with [`Simulators::requests`],
//! [`Simulators::slack_messages`], [`Simulators::thehive_cases`] and [`Simulators::okta_users`].
//! [`Simulators::click`] plays the Slack user: it returns the signed `block_actions` request
//! Slack would send to Warden's interactivity endpoint.
//!
//! ```no_run
//! # async fn demo() -> Result<(), warden_sim::Error> {
//! use warden_sim::{Scenario, Simulators, Vendor};
//! let sims = Simulators::start(Scenario::seed()).await?;
//! let vt = sims.base_url(Vendor::VirusTotal); // "http://127.0.0.1:PORT/api/v3"
//! // … run Warden with sims.resources() and sims.credentials() …
//! sims.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The crate stands apart from Warden (it imports nothing of it), so a build without the `demo`
//! feature ships no simulator. The payloads it answers with and the seed event `warden demo`
//! ingests are under `sim/data/`.
#![forbid(unsafe_code)]

mod fixtures;
mod greynoise;
mod okta;
mod scenario;
mod server;
mod slack;
mod thehive;
mod virustotal;

pub use okta::OktaUser;
pub use scenario::{
    GreyNoiseScenario, OktaStatus, Person, Scenario, SlackChannel, VirusTotalScenario,
    CLEAN_DOMAIN, PHISHING_DOMAIN, SEED_CLIENT_IP, SEED_OKTA_EVENT, SOC_CHANNEL, SPEC_MALICIOUS_IP,
};
pub use server::{RecordedRequest, SIMULATOR_HEADER};
pub use slack::{
    sign as slack_signature, EditSource, SignedRequest, SlackEdit, SlackMessage, SlackResponse,
};
pub use thehive::TheHiveCase;

use std::fmt;
use std::sync::Arc;
use tokio::sync::watch;

/// The VirusTotal simulator's API key (`x-apikey`).
pub const VIRUSTOTAL_API_KEY: &str = "warden-demo-virustotal-key";
/// The GreyNoise simulator's API key (`key` header).
pub const GREYNOISE_API_KEY: &str = "warden-demo-greynoise-key";
/// The Slack simulator's bot token (`Authorization: Bearer`).
pub const SLACK_BOT_TOKEN: &str = "xoxb-warden-demo-bot-token";
/// The secret the Slack simulator signs interactivity requests with.
pub const SLACK_SIGNING_SECRET: &str = "warden-demo-slack-signing-secret";
/// The TheHive simulator's API key (`Authorization: Bearer`).
pub const THEHIVE_API_KEY: &str = "warden-demo-thehive-key";
/// The Okta simulator's API token (`Authorization: SSWS`).
pub const OKTA_API_TOKEN: &str = "00warden-demo-okta-token";

/// A simulated vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vendor {
    /// VirusTotal API v3.
    VirusTotal,
    /// GreyNoise Community API.
    GreyNoise,
    /// Slack Web API, interactivity and `response_url`s.
    Slack,
    /// TheHive 5 (`/api/v1`).
    TheHive,
    /// Okta Management API (users and lifecycle).
    Okta,
}

impl Vendor {
    /// All five, in a fixed order.
    pub const ALL: [Vendor; 5] = [
        Vendor::VirusTotal,
        Vendor::GreyNoise,
        Vendor::Slack,
        Vendor::TheHive,
        Vendor::Okta,
    ];

    /// Lower-case name: the credential name the shipped templates use, and the value of
    /// `X-Warden-Simulator`.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::VirusTotal => "virustotal",
            Vendor::GreyNoise => "greynoise",
            Vendor::Slack => "slack",
            Vendor::TheHive => "thehive",
            Vendor::Okta => "okta",
        }
    }

    /// The resource the shipped templates read the base URL from.
    pub fn resource(self) -> &'static str {
        match self {
            Vendor::VirusTotal => "virustotal_url",
            Vendor::GreyNoise => "greynoise_url",
            Vendor::Slack => "slack_url",
            Vendor::TheHive => "thehive_url",
            Vendor::Okta => "okta_url",
        }
    }

    /// The credential value the simulator accepts.
    pub fn credential(self) -> &'static str {
        match self {
            Vendor::VirusTotal => VIRUSTOTAL_API_KEY,
            Vendor::GreyNoise => GREYNOISE_API_KEY,
            Vendor::Slack => SLACK_BOT_TOKEN,
            Vendor::TheHive => THEHIVE_API_KEY,
            Vendor::Okta => OKTA_API_TOKEN,
        }
    }

    /// What follows the origin in the base URL, matching the real vendors' base URLs
    /// (`https://www.virustotal.com/api/v3`, `https://slack.com/api`, …).
    fn base_path(self) -> &'static str {
        match self {
            Vendor::VirusTotal => "/api/v3",
            Vendor::Slack => "/api",
            Vendor::GreyNoise | Vendor::TheHive | Vendor::Okta => "",
        }
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What can go wrong starting the simulators or playing a Slack user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A loopback port could not be bound.
    #[error("failed to start a simulator: {0}")]
    Io(#[from] std::io::Error),
    /// No live Slack message has this `ts`.
    #[error("no Slack message has ts {0}")]
    UnknownMessage(String),
    /// The message has no button with this value.
    #[error("Slack message {ts} has no button with value {value:?}")]
    UnknownButton {
        /// The message's ts.
        ts: String,
        /// The value asked for.
        value: String,
    },
    /// The message is in a channel, so who clicks must be said (`click_as`).
    #[error("Slack message {0} is not in a DM; say who clicks with click_as")]
    NotADirectMessage(String),
    /// No Slack user has this id.
    #[error("no Slack user {0}")]
    UnknownUser(String),
}

/// The five simulators, running. Dropping this stops them abruptly; prefer
/// [`Simulators::shutdown`].
pub struct Simulators {
    servers: Vec<(Vendor, server::Server)>,
    journal: server::Journal,
    slack: Arc<slack::Slack>,
    thehive: Arc<thehive::TheHive>,
    okta: Arc<okta::Okta>,
}

impl Simulators {
    /// Starts all five on ephemeral loopback ports, seeded from `scenario`.
    pub async fn start(scenario: Scenario) -> Result<Simulators, Error> {
        let journal = server::Journal::new();
        let mut listeners = Vec::new();
        for vendor in Vendor::ALL {
            let listener = server::bind().await?;
            let origin = format!("http://{}", listener.local_addr()?);
            listeners.push((vendor, listener, origin));
        }
        let base = |vendor: Vendor| {
            let origin = &listeners
                .iter()
                .find(|l| l.0 == vendor)
                .expect("all bound")
                .2;
            (origin.clone(), format!("{origin}{}", vendor.base_path()))
        };
        let slack = Arc::new(slack::Slack::new(
            &scenario,
            &base(Vendor::Slack).0,
            journal.clone(),
        ));
        let thehive = Arc::new(thehive::TheHive::new(&scenario));
        let okta = Arc::new(okta::Okta::new(&scenario, &base(Vendor::Okta).0));
        let virustotal = Arc::new(virustotal::VirusTotal::new(
            &scenario.virustotal,
            &base(Vendor::VirusTotal).1,
        ));
        let greynoise = Arc::new(greynoise::GreyNoise::new(&scenario.greynoise));
        let mut servers = Vec::new();
        for (vendor, listener, _) in listeners {
            let router = match vendor {
                Vendor::VirusTotal => virustotal::router(virustotal.clone()),
                Vendor::GreyNoise => greynoise::router(greynoise.clone()),
                Vendor::Slack => slack::router(slack.clone()),
                Vendor::TheHive => thehive::router(thehive.clone()),
                Vendor::Okta => okta::router(okta.clone()),
            };
            servers.push((
                vendor,
                server::serve(listener, vendor, router, journal.clone())?,
            ));
        }
        Ok(Simulators {
            servers,
            journal,
            slack,
            thehive,
            okta,
        })
    }

    /// The base URL to give Warden as `vendor`'s resource (no trailing slash), e.g.
    /// `http://127.0.0.1:41234/api/v3` for VirusTotal.
    pub fn base_url(&self, vendor: Vendor) -> String {
        let (_, server) = self
            .servers
            .iter()
            .find(|(v, _)| *v == vendor)
            .expect("all running");
        format!("http://{}{}", server.addr, vendor.base_path())
    }

    /// `(resource name, base URL)` for all five: `virustotal_url`, `greynoise_url`, … .
    pub fn resources(&self) -> Vec<(&'static str, String)> {
        Vendor::ALL
            .iter()
            .map(|v| (v.resource(), self.base_url(*v)))
            .collect()
    }

    /// `(credential name, value)` the simulators accept: `virustotal`, `greynoise`, `slack`,
    /// `thehive`, `okta`, plus `slack_signing_secret`.
    pub fn credentials(&self) -> Vec<(&'static str, String)> {
        let mut credentials: Vec<_> = Vendor::ALL
            .iter()
            .map(|v| (v.name(), v.credential().to_string()))
            .collect();
        credentials.push(("slack_signing_secret", SLACK_SIGNING_SECRET.to_string()));
        credentials
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.journal.entries()
    }

    /// A counter that moves whenever a simulator answers a request or a click is made, to wait
    /// for progress without polling.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.journal.subscribe()
    }

    /// Messages the bot posted, with their current text and blocks and every edit.
    pub fn slack_messages(&self) -> Vec<SlackMessage> {
        self.slack.messages()
    }

    /// Every body POSTed to a `response_url`, in order.
    pub fn slack_responses(&self) -> Vec<SlackResponse> {
        self.slack.responses()
    }

    /// Plays the DM's user clicking the button whose `value` is `action_value` on the message
    /// `message_ts`: the signed `block_actions` request Slack would POST to the app's
    /// interactivity URL. Send it with [`SignedRequest::send`].
    pub fn click(&self, message_ts: &str, action_value: &str) -> Result<SignedRequest, Error> {
        self.slack.click(None, message_ts, action_value)
    }

    /// As [`Simulators::click`], by a given Slack user (for messages in channels).
    pub fn click_as(
        &self,
        slack_user_id: &str,
        message_ts: &str,
        action_value: &str,
    ) -> Result<SignedRequest, Error> {
        self.slack
            .click(Some(slack_user_id), message_ts, action_value)
    }

    /// The Slack users' ids, in the scenario's order (who can click in a channel).
    pub fn slack_user_ids(&self) -> Vec<String> {
        self.slack.user_ids()
    }

    /// Every case created, with its observables.
    pub fn thehive_cases(&self) -> Vec<TheHiveCase> {
        self.thehive.cases()
    }

    /// Every Okta user's current state.
    pub fn okta_users(&self) -> Vec<OktaUser> {
        self.okta.users()
    }

    /// One Okta user by id or login.
    pub fn okta_user(&self, id_or_login: &str) -> Option<OktaUser> {
        self.okta.user(id_or_login)
    }

    /// Stops all five, letting requests in flight finish.
    pub async fn shutdown(self) {
        for (_, server) in self.servers {
            server.shutdown().await;
        }
    }
}
