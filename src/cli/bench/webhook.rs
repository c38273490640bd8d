//! `warden bench webhook`: the real HTTP server and runner in this process, and an open-loop load
//! generator on its own thread and runtime posting Panther-like alerts at a fixed rate.

use super::{
    bench_settings, bench_story, init_quiet_logging, panther_alert, peak_rss_mb, quantile, round2,
    run_statuses, runtime, with_scratch_db, DbArgs, BENCH_SECRET, BENCH_STORY_ID, STEPS_PER_RUN,
};
use crate::app::{App, Definitions};
use crate::engine::Engine;
use crate::run::StepState;
use anyhow::{bail, Context as _};
use serde_json::json;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

/// `warden bench webhook`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: DbArgs,
    /// Requests per second, sent on a fixed schedule whatever the responses do.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// How long to send for.
    #[arg(long, default_value_t = 5)]
    seconds: u32,
    /// Steps the runner executes at once.
    #[arg(long, default_value_t = crate::engine::runner::DEFAULT_MAX_IN_FLIGHT)]
    concurrency: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.rate == 0 || args.seconds == 0 {
        bail!("--rate and --seconds must be at least 1");
    }
    init_quiet_logging();
    runtime()?.block_on(with_scratch_db(&args.db, |url, shown| {
        bench(url, shown, &args)
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// What the load generator saw.
struct Load {
    requests: u64,
    /// Send → 202 latencies, ms, sorted.
    acks: Vec<f64>,
    errors: u64,
    first_errors: Vec<String>,
    /// First send to last 202.
    span: Duration,
    /// Largest delay of a send behind its schedule.
    max_lag: Duration,
}

async fn bench(url: String, shown: String, args: &Args) -> anyhow::Result<()> {
    let backend = args.db.backend().as_str();
    let definitions = Definitions::stories(vec![bench_story()?]);
    let app = App::build(bench_settings(&url, definitions, args.concurrency)).await?;
    let engine = &app.engine;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (server_stop, server_stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(crate::api::server::serve(
        listener,
        app.router(),
        app.server_limits(),
        async {
            let _ = server_stopped.await;
        },
    ));
    let (runner_stop, runner_stopped) = watch::channel(false);
    // Payload search's indexer works through the acknowledged runs as it does in `serve`.
    let indexer = tokio::spawn(app.indexer().run(runner_stopped.clone()));
    let runner = tokio::spawn(app.runner().run(runner_stopped));

    let outcome = load_and_drain(engine, addr, args).await;

    let _ = server_stop.send(());
    let _ = server.await;
    let _ = runner_stop.send(true);
    let _ = runner.await;
    let _ = indexer.await;
    engine.store.close().await;
    let (load, steps_during_load, drained_in) = outcome?;

    let accepted = load.acks.len() as u64;
    let runs: i64 = run_statuses(&url).await?.iter().map(|(_, n)| n).sum();
    if runs != accepted as i64 {
        bail!("{accepted} requests were accepted but the store has {runs} runs");
    }
    let runs_per_sec = accepted as f64 / load.span.as_secs_f64();
    let (p50, p99) = (quantile(&load.acks, 0.5), quantile(&load.acks, 0.99));
    let rss = peak_rss_mb();
    println!(
        "bench webhook ({backend}, {shown}): {} requests at {}/s for {} s, runner concurrency {}",
        load.requests,
        args.rate,
        args.seconds,
        args.concurrency.max(1)
    );
    println!(
        "  accepted {accepted} ({runs_per_sec:.0} runs/s, first send to last 202), errors {}; sends at most {:.1} ms behind schedule",
        load.errors,
        load.max_lag.as_secs_f64() * 1000.0
    );
    for error in &load.first_errors {
        println!("    error: {error}");
    }
    println!(
        "  ack latency (send → 202): p50 {p50:.2} ms, p99 {p99:.2} ms, max {:.2} ms",
        load.acks.last().copied().unwrap_or(0.0)
    );
    println!(
        "  runner: {steps_during_load} of {} steps done when the last response came; the rest took {:.2} s more",
        accepted * STEPS_PER_RUN,
        drained_in.as_secs_f64()
    );
    println!("  peak RSS {rss:.1} MiB (server, runner and load generator)");
    println!(
        "{}",
        json!({
            "bench": "webhook",
            "backend": backend,
            "rate": args.rate,
            "seconds": args.seconds,
            "requests": load.requests,
            "errors": load.errors,
            "runs_per_sec": round2(runs_per_sec),
            "p50_ms": round2(p50),
            "p99_ms": round2(p99),
            "peak_rss_mb": round2(rss),
        })
    );
    Ok(())
}

/// Sends the load, then waits for the runner to finish every accepted run.
async fn load_and_drain(
    engine: &Engine,
    addr: std::net::SocketAddr,
    args: &Args,
) -> anyhow::Result<(Load, u64, Duration)> {
    let url = format!("http://{addr}/webhook/{BENCH_STORY_ID}/{BENCH_SECRET}");
    let (rate, seconds) = (args.rate, args.seconds);
    let (done, result) = oneshot::channel();
    std::thread::Builder::new()
        .name("bench-load".into())
        .spawn(move || {
            let _ = done.send(generate(&url, rate, seconds));
        })
        .context("Failed to start the load generator")?;
    let load = result.await.context("the load generator stopped")??;
    if load.acks.is_empty() {
        bail!(
            "no request was accepted; first errors: {:?}",
            load.first_errors
        );
    }
    let steps_during_load = engine.metrics.finished(StepState::Succeeded);
    let expected = load.acks.len() as u64 * STEPS_PER_RUN;
    let draining = Instant::now();
    loop {
        let done = engine.metrics.finished(StepState::Succeeded);
        if done >= expected {
            break;
        }
        let bad = engine.metrics.finished(StepState::Failed)
            + engine.metrics.finished(StepState::Skipped);
        if bad > 0 {
            bail!("{bad} step(s) failed or were skipped; run with WARDEN_LOG=info to see why");
        }
        if draining.elapsed() > Duration::from_secs(300) {
            bail!(
                "the runner finished only {done} of {expected} steps in 5 minutes after the load"
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok((load, steps_during_load, draining.elapsed()))
}

/// Posts `rate` alerts a second for `seconds` on a fixed schedule (open loop: a slow response
/// never delays the next send) and records each one's send → 202 time.
fn generate(url: &str, rate: u32, seconds: u32) -> anyhow::Result<Load> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let client = crate::http_client::api_client_builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()?;
        let requests = u64::from(rate) * u64::from(seconds);
        let period_nanos = 1_000_000_000 / u64::from(rate);
        let mut load = Load {
            requests,
            acks: Vec::with_capacity(requests as usize),
            errors: 0,
            first_errors: Vec::new(),
            span: Duration::ZERO,
            max_lag: Duration::ZERO,
        };
        let mut first_send = None;
        let mut last_ack = None;
        let mut record =
            |load: &mut Load, outcome: Result<Result<(Instant, Instant), String>, _>| match outcome
            {
                Ok(Ok((sent, acked))) => {
                    load.acks.push((acked - sent).as_secs_f64() * 1000.0);
                    first_send = Some(first_send.map_or(sent, |f: Instant| f.min(sent)));
                    last_ack = Some(last_ack.map_or(acked, |l: Instant| l.max(acked)));
                }
                Ok(Err(error)) | Err(error) => {
                    load.errors += 1;
                    if load.first_errors.len() < 5 {
                        load.first_errors.push(error);
                    }
                }
            };
        let start = Instant::now();
        let mut tasks = JoinSet::new();
        for i in 0..requests {
            let due = start + Duration::from_nanos(period_nanos * i);
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
            load.max_lag = load
                .max_lag
                .max(Instant::now().saturating_duration_since(due));
            let body = serde_json::to_vec(&panther_alert(i))?;
            let request = client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
            tasks.spawn(async move {
                let sent = Instant::now();
                match request.send().await {
                    Ok(response) if response.status() == reqwest::StatusCode::ACCEPTED => {
                        let acked = Instant::now();
                        let _ = response.bytes().await;
                        Ok((sent, acked))
                    }
                    Ok(response) => {
                        let status = response.status();
                        let text = response.text().await.unwrap_or_default();
                        Err(format!("HTTP {status}: {text}"))
                    }
                    Err(error) => Err(error.to_string()),
                }
            });
            while let Some(outcome) = tasks.try_join_next() {
                record(&mut load, outcome.map_err(|e| e.to_string()));
            }
        }
        while let Some(outcome) = tasks.join_next().await {
            record(&mut load, outcome.map_err(|e| e.to_string()));
        }
        if let (Some(first), Some(last)) = (first_send, last_ack) {
            load.span = last - first;
        }
        load.acks.sort_by(f64::total_cmp);
        Ok(load)
    })
}
