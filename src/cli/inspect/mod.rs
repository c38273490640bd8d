//! `warden runs list|show` and `warden alerts list|show`: a running server's runs and alerts in
//! the terminal, read through its API (`WARDEN_URL`, `WARDEN_API_TOKEN`), so they work the same
//! against a local SQLite server and a Postgres cluster. `warden runs retry|cancel|rerun` act on
//! runs through the same API (`operate.rs`).

mod operate;
mod render;

use render::text;
pub use render::{alert_detail, alerts_table, run_timeline, runs_table};

use crate::http_client::api_client;
use anyhow::{bail, Context};
use serde_json::Value;
use std::process::ExitCode;

/// Where the server is and how to authenticate.
#[derive(Debug, clap::Args)]
pub struct Server {
    /// The server's base URL.
    #[arg(long, env = "WARDEN_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The API token (`serve`'s `WARDEN_API_TOKEN`); none for a `--dev` server.
    #[arg(long, env = "WARDEN_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// `warden runs`.
#[derive(Debug, clap::Subcommand)]
pub enum Runs {
    /// The latest runs, newest first.
    List {
        #[command(flatten)]
        server: Server,
        /// Only this story's runs.
        #[arg(long)]
        story: Option<String>,
        /// Only runs in this status: running, waiting, succeeded, failed.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One run as a timeline of its steps.
    Show {
        #[command(flatten)]
        server: Server,
        /// The run's id.
        id: String,
        /// Also print each step's input and output events.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Retries a failed step (its id as `runs show` lists it): a new step runs its action again
    /// on the same input, and the run resumes from there.
    Retry {
        #[command(flatten)]
        server: Server,
        /// The run's id.
        run: String,
        /// The failed step's id.
        step: i64,
    },
    /// Cancels a running or waiting run (and the child runs it started).
    Cancel {
        #[command(flatten)]
        server: Server,
        /// The run's id.
        run: String,
    },
    /// Starts the run's story again from the same entry event, as a new run.
    Rerun {
        #[command(flatten)]
        server: Server,
        /// The run's id.
        run: String,
        /// Run the story as loaded now, not the version the run was pinned to.
        #[arg(long)]
        current: bool,
    },
}

/// `warden alerts`.
#[derive(Debug, clap::Subcommand)]
pub enum Alerts {
    /// The latest alerts, newest first.
    List {
        #[command(flatten)]
        server: Server,
        /// Only this rule's alerts.
        #[arg(long)]
        rule: Option<String>,
        /// Only alerts of this severity (INFO, LOW, MEDIUM, HIGH, CRITICAL).
        #[arg(long)]
        severity: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One alert: what Panther's webhook body says, and its deliveries.
    Show {
        #[command(flatten)]
        server: Server,
        /// The alert's id.
        id: String,
    },
}

/// Runs `warden runs …`.
pub fn runs(command: Runs) -> anyhow::Result<ExitCode> {
    match command {
        Runs::List {
            server,
            story,
            status,
            limit,
        } => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(story.map(|s| ("story", s)));
            query.extend(status.map(|s| ("status", s)));
            let page = get(&server, "/api/runs", &query)?;
            print!("{}", runs_table(&page));
        }
        Runs::Show {
            server,
            id,
            verbose,
        } => {
            let run = get(&server, &format!("/api/runs/{}", segment(&id)?), &[])?;
            print!("{}", run_timeline(&run, verbose));
        }
        Runs::Retry { server, run, step } => print!("{}", operate::retry(&server, &run, step)?),
        Runs::Cancel { server, run } => print!("{}", operate::cancel(&server, &run)?),
        Runs::Rerun {
            server,
            run,
            current,
        } => print!("{}", operate::rerun(&server, &run, current)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `warden alerts …`.
pub fn alerts(command: Alerts) -> anyhow::Result<ExitCode> {
    match command {
        Alerts::List {
            server,
            rule,
            severity,
            limit,
        } => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(rule.map(|r| ("rule", r)));
            query.extend(severity.map(|s| ("severity", s)));
            let page = get(&server, "/api/alerts", &query)?;
            print!("{}", alerts_table(&page));
        }
        Alerts::Show { server, id } => {
            let alert = get(&server, &format!("/api/alerts/{}", segment(&id)?), &[])?;
            print!("{}", alert_detail(&alert));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `GET path?query` on the server; its JSON, or the API's error message.
fn get(server: &Server, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
    call(server, reqwest::Method::GET, path, query, None)
}

/// `method path?query` on the server with an optional JSON body; its JSON, or the API's error
/// message.
fn call(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    query: &[(&str, String)],
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let url = format!("{}{path}", server.url.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut request = api_client().request(method, &url).query(query);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        if let Some(token) = &server.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach Warden at {} (set WARDEN_URL)", server.url))?;
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.as_u16() == 401 {
            bail!("the API answered 401: set WARDEN_API_TOKEN to the server's token");
        }
        if !status.is_success() {
            let message = body["message"].as_str().unwrap_or("no details");
            bail!("the API answered {status}: {message}");
        }
        Ok(body)
    })
}

/// `id` as one URL path segment: ids are letters, digits, `-` and `_`, so nothing else is sent.
fn segment(id: &str) -> anyhow::Result<&str> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("`{id}` is not an id (letters, digits, - and _)");
    }
    Ok(id)
}
