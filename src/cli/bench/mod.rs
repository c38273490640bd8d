//! `warden bench …`: benchmarks that print figures, never pass/fail. The last line each prints
//! is one JSON object of figures.
//!
//! `bench runner`, `bench webhook` and `bench console` run the real engine against a scratch database (a temporary
//! SQLite file, or a fresh Postgres database) that they remove when done.

mod console;
mod detect;
mod ingest;
mod python;
mod runner;
mod scratch;
mod webhook;

pub use scratch::{with_scratch_db, Backend, DbArgs};

use crate::app::{Definitions, Settings};
use crate::engine::RunnerConfig;
use crate::secrets::Secrets;
use crate::story::{check_story, Catalog, Story};
use anyhow::Context as _;
use serde_json::{json, Value};
use sqlx::{Connection as _, Row as _};
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
    /// Seed a large history (100,000 runs, 1,000,000 steps by default), then render every
    /// console page and the payload search many times: p50/p99 server time per page.
    Console(console::Args),
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
        Bench::Console(args) => console::run(args),
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
    crate::procfs::peak_rss_kb(None).map_or(0.0, |kb| kb as f64 / 1024.0)
}

/// The CPU time this process has used, in seconds (Linux; 0 elsewhere).
pub fn cpu_seconds() -> f64 {
    crate::procfs::cpu_seconds(None).unwrap_or(0.0)
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
    crate::cli::serve::init_logging_at("warn");
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
}
