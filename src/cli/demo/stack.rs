//! Warden whole, in one process, over the vendor simulators. It is the same wiring as
//! `warden serve`: stories, templates, rules and destinations from disk, the HTTP API, the
//! detector, alert delivery and the runner. `warden demo` drives it on the system clock;
//! the seed story's end-to-end tests drive it on a manual clock, on SQLite and Postgres.

use crate::app::{App, Definitions, Settings};
use crate::clock::Clock;
use crate::detect::deliver::Deliverer;
use crate::detect::detector::Detector;
use crate::engine::{Engine, Runner};
use crate::preflight::{Readiness, Setting};
use crate::secrets::{random_hex, Secret, Secrets};
use crate::story::kinds::webhook::{HmacAlgorithm, SignatureEncoding};
use crate::story::kinds::WebhookOptions;
use crate::story::{load, Story};
use anyhow::{bail, Context as _};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use warden_sim::{Scenario, Simulators, SlackMessage, SOC_CHANNEL};

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
    /// A story file to play instead of the seed scenario: loaded with the stories of
    /// `root/stories/` (its `send_to_story` targets; one with the same id is replaced by it),
    /// without detection rules or destinations. `None`: everything under `root`, as `serve`.
    pub story: Option<PathBuf>,
}

/// The resources the simulated world offers beyond the vendors' base URLs.
pub fn world_resources() -> Vec<(&'static str, String)> {
    vec![("soc_channel", SOC_CHANNEL.to_string())]
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
    secrets: Secrets,
    /// Each story's readiness: what it needs that neither the simulators nor the demo set.
    pub readiness: Vec<Readiness>,
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
        for (name, url) in sims.resources().into_iter().chain(world_resources()) {
            secrets = secrets.with_resource(name, &url);
        }
        for (name, value) in &options.credentials {
            secrets = secrets.with_credential(name, value);
        }
        let root = &options.root;
        let stories = load_stories(root, options.story.as_deref())?;
        // Every other credential a story needs is a secret of its own (a webhook's URL secret,
        // header or HMAC key): a fresh random value, which the demo signs its posts with.
        for story in &stories {
            for (setting, name) in crate::preflight::needs(story).into_keys() {
                if setting == Setting::Credential && secrets.credential(&name).is_none() {
                    secrets = secrets.with_credential(&name, &random_hex(24)?);
                }
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("Failed to listen on a loopback port")?;
        let address = format!("http://{}", listener.local_addr()?);
        let definitions = match options.story {
            Some(_) => Definitions::stories(stories),
            None => Definitions::Files {
                stories: root.join("stories"),
                templates: root.join("templates"),
                rules: root.join("rules"),
                destinations: Some(root.join("destinations.yml")),
            },
        };
        let app = App::build(Settings {
            secrets: secrets.clone(),
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
            secrets,
            readiness: app.readiness,
        })
    }

    /// Posts `body` to the webhook `options` of a loaded story, as its sender would: to
    /// `/webhook/{path}/{secret}` as JSON, with its secret header and HMAC signature when it asks
    /// for them. The status and Warden's answer.
    pub async fn post_webhook(
        &self,
        options: &WebhookOptions,
        body: &[u8],
    ) -> anyhow::Result<(u16, Value)> {
        let credential = |name: &str| {
            self.secrets
                .credential(name)
                .with_context(|| format!("the credential `{name}` is not set"))
        };
        let secret = credential(&options.secret_credential.value)?;
        let url = format!(
            "{}/webhook/{}/{}",
            self.address,
            options.path.value,
            secret.expose()
        );
        let mut request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(header) = &options.secret_header {
            let value = credential(&header.credential.value)?;
            request = request.header(header.header.value.as_str(), value.expose());
        }
        if let Some(check) = &options.signature {
            let key = credential(&check.credential.value)?.expose().as_bytes();
            let digest = match check.algorithm {
                HmacAlgorithm::Sha256 => Hmac::<sha2::Sha256>::new_from_slice(key)
                    .map(|mut mac| {
                        mac.update(body);
                        mac.finalize().into_bytes().to_vec()
                    })
                    .context("HMAC key")?,
                HmacAlgorithm::Sha1 => Hmac::<sha1::Sha1>::new_from_slice(key)
                    .map(|mut mac| {
                        mac.update(body);
                        mac.finalize().into_bytes().to_vec()
                    })
                    .context("HMAC key")?,
            };
            let encoded = match check.encoding {
                SignatureEncoding::Hex => crate::hex::hex(&digest),
                SignatureEncoding::Base64 => {
                    base64::engine::general_purpose::STANDARD.encode(&digest)
                }
            };
            let prefix = check.prefix.as_deref().unwrap_or_default();
            request = request.header(check.header.value.as_str(), format!("{prefix}{encoded}"));
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, json_body(response).await))
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

    /// The API token this stack's Warden was started with: random, made for this stack alone
    /// (`warden demo --keep` prints it so the console can be signed in to).
    pub fn api_token(&self) -> &Secret {
        &self.api_token
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

    /// The Slack message of prompt `prompt_id` while it shows its buttons.
    pub fn prompt_message(&self, prompt_id: &str) -> Option<SlackMessage> {
        let prefix = format!("{prompt_id}:");
        self.sims.slack_messages().into_iter().rev().find(|m| {
            !m.deleted
                && button_values(&m.blocks)
                    .iter()
                    .any(|v| v.starts_with(&prefix))
        })
    }

    /// Answers an open prompt through its single-use link, as whoever received it would: the
    /// links the prompt's `request:` sent that reached a simulator (a Slack message, a TheHive
    /// case) are opened (`GET`, which answers nothing) until one offers `label`, which is then
    /// `POST`ed. Warden's status, or `None` when no link offering `label` reached a simulator.
    pub async fn answer_by_link(&self, label: &str) -> anyhow::Result<Option<u16>> {
        let offered = format!("<strong>{}</strong>", html_escape(label));
        for link in self.prompt_links() {
            let page = self.http.get(&link).send().await?;
            if page.status() != 200 || !page.text().await?.contains(&offered) {
                continue;
            }
            let answered = self.http.post(&link).send().await?;
            return Ok(Some(answered.status().as_u16()));
        }
        Ok(None)
    }

    /// Every prompt link (`<address>/prompt/<token>`) found in what the simulators hold.
    fn prompt_links(&self) -> Vec<String> {
        let mut texts: Vec<String> = Vec::new();
        for message in self.sims.slack_messages() {
            texts.push(message.text);
            texts.push(message.blocks.to_string());
        }
        texts.extend(
            self.sims
                .thehive_cases()
                .into_iter()
                .map(|c| c.case.to_string()),
        );
        let prefix = format!("{}/prompt/", self.address);
        let mut links = Vec::new();
        for text in &texts {
            for (at, _) in text.match_indices(&prefix) {
                let token: String = text[at + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                let link = format!("{prefix}{token}");
                if !token.is_empty() && !links.contains(&link) {
                    links.push(link);
                }
            }
        }
        links
    }

    /// Plays a Slack user clicking `choice` on prompt `prompt_id`'s message: the DM's user, or
    /// in a channel the first simulated person with a Slack account. The request is signed at
    /// `unix_seconds` (Warden's clock, which the demo may have moved ahead). Warden's status.
    pub async fn answer_on_slack(
        &self,
        prompt_id: &str,
        choice: &str,
        unix_seconds: i64,
    ) -> anyhow::Result<u16> {
        let Some(message) = self.prompt_message(prompt_id) else {
            bail!("prompt `{prompt_id}` has no Slack message with buttons");
        };
        let value = format!("{prompt_id}:{choice}");
        let request = match &message.dm_user {
            Some(_) => self.sims.click(&message.ts, &value)?,
            None => {
                let Some(clicker) = self.sims.slack_user_ids().into_iter().next() else {
                    bail!("the simulated Slack has nobody to click");
                };
                self.sims.click_as(&clicker, &message.ts, &value)?
            }
        };
        let request = request.signed_at(unix_seconds);
        let url = format!("{}/slack/interactions", self.address);
        let response = request.send(&self.http, &url).await?;
        Ok(response.status().as_u16())
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

/// The stories a stack loads: everything under `root/stories/`, or with `story`, that file
/// together with the stories of `root/stories/` but the one of the same id. Problems are
/// reported with their positions, as `warden validate` prints them.
pub fn load_stories(root: &Path, story: Option<&Path>) -> anyhow::Result<Vec<Story>> {
    let stories = root.join("stories");
    let mut paths = Vec::new();
    if let Some(file) = story {
        if !file.is_file() {
            bail!("{}: no such story file", file.display());
        }
        let id = load::story_id(file);
        let canonical = file.canonicalize().unwrap_or_else(|_| file.to_owned());
        if stories.is_dir() {
            let others = load::yaml_files(&stories)
                .with_context(|| format!("Failed to read {}", stories.display()))?;
            paths.extend(others.into_iter().filter(|p| {
                load::story_id(p) != id
                    && p.canonicalize().unwrap_or_else(|_| p.clone()) != canonical
            }));
        }
        paths.push(file.to_owned());
    } else {
        paths.push(stories);
    }
    let loaded = load::load(&paths, &root.join("templates"))
        .with_context(|| format!("Failed to read the stories under {}", root.display()))?;
    if loaded.error_count() > 0 {
        let rendered: Vec<String> = loaded
            .reports
            .iter()
            .flat_map(|r| r.diagnostics.iter().map(|d| d.render(&r.path)))
            .collect();
        bail!(
            "{} problem(s) in the stories or templates (see `warden validate`):\n{}",
            loaded.error_count(),
            rendered.join("\n")
        );
    }
    Ok(loaded.stories)
}

/// As the prompt page writes a label.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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
