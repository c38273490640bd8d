//! `warden bench ingest`: durable ingest over HTTP. The real server in this process, the shipped
//! rules, and clients posting NDJSON batches of Okta events; each answer comes after the batch's
//! matches and alerts are committed.

use super::{
    bench_settings, bench_story, init_quiet_logging, peak_rss_mb, quantile, round2, runtime,
    with_scratch_db, DbArgs,
};
use crate::app::{App, Definitions, Settings};
use crate::detect::load;
use anyhow::{bail, Context as _};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use tokio::task::JoinSet;

/// Real-shaped Okta events: an admin grant, a Bypass-MFA add and a sign-in.
const EVENTS: &str = include_str!("../../../bench/okta-systemlog.ndjson");

/// `warden bench ingest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: DbArgs,
    /// Rule files or directories.
    #[arg(long = "rules", default_values = ["rules"])]
    rules: Vec<PathBuf>,
    /// Events per request (NDJSON lines).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Requests in all.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Clients posting at once.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// One event in this many matches a rule (an admin grant or a Bypass-MFA add); the others
    /// are sign-ins no rule matches.
    #[arg(long, default_value_t = 10)]
    match_every: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.batch == 0 || args.requests == 0 || args.clients == 0 || args.match_every == 0 {
        bail!("--batch, --requests, --clients and --match-every must be at least 1");
    }
    init_quiet_logging();
    runtime()?.block_on(with_scratch_db(&args.db, |url, shown| {
        bench(url, shown, &args)
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// An NDJSON body of `batch` events, one in `match_every` a matching one.
fn body(batch: usize, match_every: usize) -> String {
    let lines: Vec<&str> = EVENTS.lines().collect();
    let (matching, quiet) = (&lines[..2], lines[2]);
    let mut body = String::new();
    for n in 0..batch {
        let line = if n % match_every == 0 {
            matching[(n / match_every) % matching.len()]
        } else {
            quiet
        };
        body.push_str(line);
        body.push('\n');
    }
    body
}

async fn bench(url: String, shown: String, args: &Args) -> anyhow::Result<()> {
    let backend = args.db.backend().as_str();
    let loaded = load::load(&args.rules).context("Failed to read the rules")?;
    if loaded.error_count() > 0 {
        bail!(
            "{} problem(s) in the rules; see `warden rules test`",
            loaded.error_count()
        );
    }
    let rule_count = loaded.rules.len();
    let definitions = Definitions::Loaded {
        stories: vec![bench_story()?],
        rules: loaded.rules,
        queries: Vec::new(),
        routing: Default::default(),
    };
    let app = App::build(Settings {
        dev: true,
        ..bench_settings(&url, definitions, 1)
    })
    .await?;
    let engine = &app.engine;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}/ingest/Okta.SystemLog", listener.local_addr()?);
    let server = tokio::spawn(crate::api::server::serve(
        listener,
        app.router(),
        app.server_limits(),
        std::future::pending(),
    ));
    let body = body(args.batch, args.match_every);
    println!(
        "bench ingest ({backend}, {shown}): {rule_count} rules, {} requests of {} events ({} KiB), {} clients, 1 in {} events matching",
        args.requests,
        args.batch,
        body.len() / 1024,
        args.clients,
        args.match_every
    );
    let client = crate::http_client::api_client();
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for c in 0..args.clients {
        let (client, address, body) = (client.clone(), address.clone(), body.clone());
        let requests = (args.requests + args.clients - 1 - c) / args.clients;
        clients.spawn(async move {
            let mut latencies = Vec::with_capacity(requests);
            let (mut accepted, mut matches) = (0u64, 0u64);
            for _ in 0..requests {
                let sent = Instant::now();
                let response = client.post(&address).body(body.clone()).send().await?;
                let status = response.status();
                let report: serde_json::Value = serde_json::from_slice(&response.bytes().await?)?;
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                if !status.is_success() {
                    bail!("ingest answered {status}: {report}");
                }
                accepted += report["accepted"].as_u64().unwrap_or(0);
                matches += report["matches"].as_u64().unwrap_or(0);
            }
            Ok::<_, anyhow::Error>((latencies, accepted, matches))
        });
    }
    let (mut latencies, mut accepted, mut matches) = (Vec::new(), 0, 0);
    while let Some(result) = clients.join_next().await {
        let (l, a, m) = result??;
        latencies.extend(l);
        accepted += a;
        matches += m;
    }
    let elapsed = started.elapsed().as_secs_f64();
    server.abort();
    engine.store.close().await;
    latencies.sort_by(f64::total_cmp);
    let events_per_sec = accepted as f64 / elapsed;
    let (p50, p99) = (quantile(&latencies, 0.5), quantile(&latencies, 0.99));
    let rss = peak_rss_mb();
    println!(
        "{accepted} events ({matches} rule matches stored) in {elapsed:.2} s: {events_per_sec:.0} events/s durable; request p50 {p50:.1} ms, p99 {p99:.1} ms; peak RSS {rss:.1} MiB"
    );
    println!(
        "{}",
        json!({
            "bench": "ingest",
            "backend": backend,
            "events": accepted,
            "matches": matches,
            "events_per_sec": round2(events_per_sec),
            "request_p50_ms": round2(p50),
            "request_p99_ms": round2(p99),
            "peak_rss_mb": round2(rss),
        })
    );
    Ok(())
}
