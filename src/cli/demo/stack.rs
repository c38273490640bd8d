//! Warden whole, in one process, over the vendor simulators. It is the same wiring as
//! `warden serve`: stories, templates, rules and destinations from disk, the HTTP API, the
//! detector, alert delivery and the runner. `warden demo` drives it on the system clock;
//! the seed story's end-to-end tests drive it on a manual clock, on SQLite and Postgres.

use crate::app::{App, Definitions, Settings};
use crate::clock::Clock;
use crate::detect::deliver::Deliverer;
use crate::detect::detector::Detector;
use crate::engine::{Engine, Runner};
use crate::secrets::{random_hex, Secret, Secrets};
use anyhow::{bail, Context as _};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use warden_sim::{Scenario, Simulators, SlackMessage};

/// The seed story's webhook path.
pub const SEED_WEBHOOK: &str = "panther-okta-admin";
/// The seed story's id.
pub const SEED_STORY: &str = "panther-okta-admin-grant";

/// What to start.
pub struct StackOptions {
    /// `sqlite://…` or `postgres://…`; the database must exist and may be empty.
    pub database_url: String,
    /// The engine's clock: the system's for the demo, a manual one in tests.
    pub clock: Arc<dyn Clock>,
    /// The simulated vendors' world.
    pub scenario: Scenario,
    /// The directory holding `stories/`, `templates/`, `rules/` and `destinations.yml`.
    pub root: PathBuf,
    /// Credentials set after the simulators' own (to stage a refused key).
    pub credentials: Vec<(String, String)>,
}

/// A running Warden wired to running simulators.
pub struct Stack {
    /// The five vendor simulators.
    pub sims: Simulators,
    /// The engine.
    pub engine: Arc<Engine>,
    /// The detection stage.
    pub detector: Arc<Detector>,
    /// The API's base URL, e.g. `http://127.0.0.1:41234`.
    pub address: String,
    runner: Runner,
    deliverer: Deliverer,
    server: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
    api_token: Secret,
    webhook_secret: Secret,
}

impl Stack {
    /// Starts the simulators, then Warden configured with their URLs and credentials.
    pub async fn start(options: StackOptions) -> anyhow::Result<Stack> {
        let sims = Simulators::start(options.scenario)
            .await
            .context("Failed to start the vendor simulators")?;
        let webhook_secret = Secret::new(random_hex(24)?);
        let api_token = Secret::new(random_hex(24)?);
        let mut secrets =
            Secrets::default().with_credential("panther_webhook", webhook_secret.expose());
        for (name, value) in sims.credentials() {
            secrets = secrets.with_credential(name, &value);
        }
        for (name, url) in sims.resources() {
            secrets = secrets.with_resource(name, &url);
        }
        for (name, value) in &options.credentials {
            secrets = secrets.with_credential(name, value);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("Failed to listen on a loopback port")?;
        let address = format!("http://{}", listener.local_addr()?);
        let root = &options.root;
        let definitions = Definitions::Files {
            stories: root.join("stories"),
            templates: root.join("templates"),
            rules: root.join("rules"),
            destinations: Some(root.join("destinations.yml")),
        };
        let app = App::build(Settings {
            secrets,
            clock: options.clock,
            public_url: address.clone(),
            api_token: Some(api_token.clone()),
            ..Settings::new(options.database_url, definitions)
        })
        .await?;
        let server = tokio::spawn(crate::api::server::serve(
            listener,
            app.router(),
            app.server_limits(),
            std::future::pending(),
        ));
        Ok(Stack {
            runner: app.runner(),
            deliverer: app.deliverer(),
            sims,
            engine: app.engine,
            detector: app.detector,
            address,
            server,
            http: crate::http_client::api_client(),
            api_token,
            webhook_secret,
        })
    }

    /// Posts log events (a JSON object, array or NDJSON) to `POST /ingest/{log_type}`, as a log
    /// shipper would, and returns the report.
    pub async fn ingest(&self, log_type: &str, body: &str) -> anyhow::Result<Value> {
        let url = format!("{}/ingest/{log_type}", self.address);
        let response = self
            .http
            .post(url)
            .bearer_auth(self.api_token.expose())
            .header("content-type", "application/x-ndjson")
            .body(body.to_owned())
            .send()
            .await?;
        expect_json(response, 200).await
    }

    /// Posts `body` to the seed story's webhook, as Panther does; the status and answer.
    pub async fn post_alert(&self, body: &str) -> anyhow::Result<(u16, Value)> {
        let url = format!(
            "{}/webhook/{SEED_WEBHOOK}/{}",
            self.address,
            self.webhook_secret.expose()
        );
        let response = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, json_body(response).await))
    }

    /// Delivers due alerts and runs due steps until neither has anything left to do now.
    pub async fn settle(&self) -> anyhow::Result<()> {
        loop {
            let delivered = self.deliverer.deliver_due().await?;
            let stepped = self.runner.run_until_idle().await?;
            if delivered == 0 && stepped == 0 {
                return Ok(());
            }
        }
    }

    /// `GET /api/runs/{id}`: the run with its steps and events.
    pub async fn run(&self, id: &str) -> anyhow::Result<Value> {
        self.api(&format!("/api/runs/{id}")).await
    }

    /// The seed story's runs, newest first.
    pub async fn seed_runs(&self) -> anyhow::Result<Vec<Value>> {
        let runs = self.api(&format!("/api/runs?story={SEED_STORY}")).await?;
        Ok(runs["runs"].as_array().cloned().unwrap_or_default())
    }

    /// `GET` an API path with the token.
    pub async fn api(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.address))
            .bearer_auth(self.api_token.expose())
            .send()
            .await?;
        expect_json(response, 200).await
    }

    /// The newest Slack message still showing buttons (an open prompt).
    pub fn open_prompt(&self) -> Option<SlackMessage> {
        self.sims
            .slack_messages()
            .into_iter()
            .rev()
            .find(|m| !m.deleted && !button_values(&m.blocks).is_empty())
    }

    /// Plays the asked user clicking the button for `choice` on the open prompt: Slack's signed
    /// request to `POST /slack/interactions`. Returns Warden's status.
    pub async fn click(&self, choice: &str) -> anyhow::Result<u16> {
        let Some(message) = self.open_prompt() else {
            bail!("no Slack message with buttons is open");
        };
        // A button's value is `<prompt id>:<choice>`.
        let suffix = format!(":{choice}");
        let values = button_values(&message.blocks);
        let Some(value) = values.into_iter().find(|v| v.ends_with(&suffix)) else {
            bail!("the open prompt has no `{choice}` button");
        };
        let request = self.sims.click(&message.ts, &value)?;
        let url = format!("{}/slack/interactions", self.address);
        let response = request.send(&self.http, &url).await?;
        Ok(response.status().as_u16())
    }

    /// Waits (at most `limit`) until the simulated Slack has received `count` `response_url`
    /// replacements: Warden answers the click at once and replaces the message after.
    pub async fn await_slack_responses(&self, count: usize, limit: Duration) -> bool {
        let mut changes = self.sims.subscribe();
        let waiting = async {
            while self.sims.slack_responses().len() < count {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(limit, waiting).await.is_ok()
            && self.sims.slack_responses().len() >= count
    }

    /// Stops the API, the simulators and the store.
    pub async fn stop(self) {
        self.server.abort();
        self.engine.store.close().await;
        self.sims.shutdown().await;
    }
}

/// The values of the buttons in Block Kit `blocks`.
fn button_values(blocks: &Value) -> Vec<String> {
    let mut values = Vec::new();
    walk(blocks, &mut |node| {
        if node["type"] == "button" {
            values.extend(node["value"].as_str().map(str::to_owned));
        }
    });
    values
}

fn walk(node: &Value, visit: &mut dyn FnMut(&Value)) {
    visit(node);
    match node {
        Value::Array(items) => items.iter().for_each(|i| walk(i, visit)),
        Value::Object(fields) => fields.values().for_each(|v| walk(v, visit)),
        _ => {}
    }
}

async fn expect_json(response: reqwest::Response, status: u16) -> anyhow::Result<Value> {
    let got = response.status().as_u16();
    let body = json_body(response).await;
    if got != status {
        bail!("Warden answered {got}: {body}");
    }
    Ok(body)
}

/// The body as JSON; `null` when it is not.
async fn json_body(response: reqwest::Response) -> Value {
    let bytes = response.bytes().await.unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}
