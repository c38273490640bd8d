//! `warden bench runner`: creates a backlog of runs the way webhooks do (`create_runs` in
//! batches), then lets the real runner drain it (in this process, or with `--workers N` in N
//! `warden worker` processes on one Postgres: `workers`) and reads per-step timings back from
//! the store.

mod delays;
mod workers;

use super::{
    bench_settings, bench_story, init_quiet_logging, panther_alert, peak_rss_mb, quantile, round2,
    run_statuses, runtime, with_scratch_db, Backend, DbArgs, BENCH_STORY_ID, STEPS_PER_RUN,
};
use crate::app::{App, Definitions};
use crate::engine::{Engine, RunnerConfig};
use crate::run::{millis, new_run_id, Millis, StepState};
use crate::store::{NewRun, Runs as _};
use crate::story::{LinkKind, Story};
use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use sqlx::{Connection as _, Row as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// `warden bench runner`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: DbArgs,
    /// Runs in the backlog (each is 4 steps after its webhook).
    #[arg(long, default_value_t = 2000)]
    runs: u64,
    /// Steps executing at once (the runner's `max_in_flight`), in each process.
    #[arg(long, default_value_t = crate::engine::runner::DEFAULT_MAX_IN_FLIGHT)]
    concurrency: usize,
    /// Runs of a second story whose `delay` holds each event until a set time, due one after
    /// another while the backlog drains: how late each moves on is printed.
    #[arg(long, default_value_t = 200)]
    delayed: u64,
    /// Drain the backlog with this many `warden worker` processes instead of this process's
    /// runner (Postgres only); a list (`1,2,4`) measures each count on a fresh database.
    #[arg(long, value_delimiter = ',')]
    workers: Vec<usize>,
}

/// Runs created per `create_runs` call (one transaction), like a burst of webhooks.
const CREATE_BATCH: u64 = 100;

/// The claim time of a step is not stored, but a claim sets `due_at` to claim time + lease and
/// finishing does not touch it: `due_at - lease` is the claim time, except for the few steps in
/// flight when the runner renewed leases (every third of a lease), which show the renewal time.
fn claimed_at(due_at: Millis) -> Millis {
    due_at - millis(RunnerConfig::default().lease)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if args.workers.contains(&0) {
        bail!("--workers counts processes: at least 1");
    }
    if !args.workers.is_empty() && args.db.backend() != Backend::Postgres {
        bail!("--workers needs Postgres (--backend postgres): SQLite has one writer, so processes cannot share it");
    }
    init_quiet_logging();
    let runtime = runtime()?;
    if args.workers.is_empty() {
        runtime.block_on(with_scratch_db(&args.db, |url, shown| {
            bench(url, shown, &args, None)
        }))?;
    }
    for &n in &args.workers {
        runtime.block_on(with_scratch_db(&args.db, |url, shown| {
            bench(url, shown, &args, Some(n))
        }))?;
    }
    Ok(ExitCode::SUCCESS)
}

struct Timings {
    /// Due (created, or the runner's start for the backlog) to commit, ms.
    total: Vec<f64>,
    /// Due to claim, ms.
    wait: Vec<f64>,
    /// Claim to commit, ms.
    service: Vec<f64>,
    first_claim: Millis,
    /// The last commit of a backlog step.
    last_finish: Millis,
}

async fn bench(
    url: String,
    shown: String,
    args: &Args,
    workers: Option<usize>,
) -> anyhow::Result<()> {
    let backend = args.db.backend().as_str();
    let definitions = Definitions::stories(vec![bench_story()?, delays::delay_story()?]);
    let app = App::build(bench_settings(&url, definitions, args.concurrency)).await?;
    let engine = &app.engine;
    let steps = args.runs * STEPS_PER_RUN;
    let all_steps = steps + args.delayed * delays::STEPS_PER_DELAYED_RUN;

    let creating = Instant::now();
    let before_backlog = engine.clock.now();
    create_backlog(engine, args.runs).await?;
    let created_in = creating.elapsed();
    let due = delays::create(engine, args.delayed, before_backlog).await?;

    let start_ms = engine.clock.now();
    let processes = match workers {
        None => {
            let (stop, stopped) = watch::channel(false);
            // Payload search's indexer works through the backlog's entry events as in `serve`.
            let indexer = tokio::spawn(app.indexer().run(stopped.clone()));
            let runner = tokio::spawn(app.runner().run(stopped));
            let finished = wait_for_steps(engine, all_steps).await;
            let _ = stop.send(true);
            let _ = runner.await;
            let _ = indexer.await;
            engine.store.close().await;
            finished?;
            None
        }
        Some(n) => {
            engine.store.close().await;
            Some(workers::drain(&url, n, args.concurrency, all_steps).await?)
        }
    };

    let timings = read_timings(&url, start_ms).await?;
    let late = delays::lateness(&url, &due).await?;
    let by_status = run_statuses(&url).await?;
    let succeeded = by_status
        .iter()
        .find(|(s, _)| s == "succeeded")
        .map_or(0, |(_, n)| *n);
    if succeeded != (args.runs + args.delayed) as i64
        || timings.total.len() as u64 != steps
        || late.len() as u64 != args.delayed
    {
        bail!(
            "expected {} succeeded runs, {steps} finished bench steps and {} released delays; the store has runs {by_status:?}, {} bench steps and {} released delays",
            args.runs + args.delayed,
            args.delayed,
            timings.total.len(),
            late.len()
        );
    }
    // From the first claim (the runner first connects its listener on Postgres) to the last
    // backlog step's commit: the delayed runs may keep the runner busy past the backlog.
    let first_claim =
        Duration::from_millis(u64::try_from(timings.first_claim - start_ms).unwrap_or(0));
    let wall = ((timings.last_finish - timings.first_claim) as f64 / 1000.0).max(0.001);
    let steps_per_sec = steps as f64 / wall;
    let runs_per_sec = args.runs as f64 / wall;
    let (p50, p99) = (
        quantile(&timings.total, 0.5),
        quantile(&timings.total, 0.99),
    );
    let rss = peak_rss_mb();

    let doubled = workers::doubled_steps(&url).await?;
    if doubled > 0 {
        bail!("{doubled} step(s) have more than one output event: a step ran twice");
    }
    let processes_shown = workers.map_or_else(
        || "this process".to_owned(),
        |n| {
            format!(
                "{n} `warden worker` process{}",
                if n == 1 { "" } else { "es" }
            )
        },
    );
    println!(
        "bench runner ({backend}, {shown}): {} runs × {STEPS_PER_RUN} steps in {processes_shown}, concurrency {} each, claim batch {}",
        args.runs,
        args.concurrency.max(1),
        RunnerConfig::default().claim_batch
    );
    println!(
        "  backlog created in {:.2} s ({:.0} runs/s, {CREATE_BATCH} runs per transaction)",
        created_in.as_secs_f64(),
        args.runs as f64 / created_in.as_secs_f64()
    );
    println!(
        "  drained in {wall:.2} s (first claim {} ms after start): {steps_per_sec:.0} steps/s, {runs_per_sec:.0} runs/s",
        first_claim.as_millis()
    );
    println!(
        "  step latency, due → commit: p50 {p50:.1} ms, p99 {p99:.1} ms, max {:.1} ms",
        timings.total.last().copied().unwrap_or(0.0)
    );
    println!(
        "    due → claim (queueing): p50 {:.1} ms, p99 {:.1} ms; claim → commit (read input, execute, group commit): p50 {:.1} ms, p99 {:.1} ms",
        quantile(&timings.wait, 0.5),
        quantile(&timings.wait, 0.99),
        quantile(&timings.service, 0.5),
        quantile(&timings.service, 0.99)
    );
    if !late.is_empty() {
        println!(
            "  timers: {} delayed events due while the backlog drained moved on p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms after their due time",
            late.len(),
            quantile(&late, 0.5),
            quantile(&late, 0.99),
            late.last().copied().unwrap_or(0.0)
        );
    }
    match &processes {
        None => println!("  peak RSS {rss:.1} MiB"),
        Some(processes) => println!(
            "  no run lost, no step doubled; each worker's CPU {} s, peak RSS {} MiB",
            processes.cpu_seconds(),
            processes.peak_rss_mb()
        ),
    }
    println!(
        "{}",
        json!({
            "bench": "runner",
            "backend": backend,
            "workers": workers,
            "runs": args.runs,
            "steps": steps,
            "steps_per_sec": round2(steps_per_sec),
            "runs_per_sec": round2(runs_per_sec),
            "p50_ms": round2(p50),
            "p99_ms": round2(p99),
            "timer_late_p50_ms": round2(quantile(&late, 0.5)),
            "timer_late_p99_ms": round2(quantile(&late, 0.99)),
            "peak_rss_mb": round2(rss),
        })
    );
    Ok(())
}

/// Creates `runs` runs of the bench story exactly as the webhook handler builds them.
async fn create_backlog(engine: &Engine, runs: u64) -> anyhow::Result<()> {
    let story = engine
        .stories
        .current(BENCH_STORY_ID)
        .context("the bench story is not loaded")?;
    let mut n = 0;
    while n < runs {
        let now = engine.clock.now();
        let batch: Vec<NewRun> = (n..runs.min(n + CREATE_BATCH))
            .map(|i| {
                let body = panther_alert(i);
                let key = body["alertId"].as_str().unwrap_or_default().to_owned();
                let dedupe = (key, now + millis(Duration::from_secs(7 * 86_400)));
                webhook_run(&story, body, Some(dedupe))
            })
            .collect();
        n += batch.len() as u64;
        engine.store.create_runs(&batch, now).await?;
    }
    Ok(())
}

/// A run of `story` as its webhook starts one on a JSON POST of `body`.
fn webhook_run(story: &Story, body: Value, dedupe: Option<(String, Millis)>) -> NewRun {
    NewRun {
        id: new_run_id(),
        story_id: story.id.clone(),
        story_version: story.version.clone(),
        entry_action: story.actions[0].id.clone(),
        payload: json!({
            "body": body,
            "headers": {"content-type": "application/json"},
            "query": {},
            "method": "POST",
        }),
        receivers: story.receiver_ids(0, LinkKind::Default),
        dedupe,
        parent_step_id: None,
    }
}

/// Waits until this process's runner has finished `steps` steps successfully.
async fn wait_for_steps(engine: &Engine, steps: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120) + Duration::from_millis(steps * 10);
    loop {
        let done = engine.metrics.finished(StepState::Succeeded);
        if done >= steps {
            return Ok(());
        }
        let bad = engine.metrics.finished(StepState::Failed)
            + engine.metrics.finished(StepState::Skipped);
        if bad > 0 {
            bail!("{bad} step(s) failed or were skipped; run with WARDEN_LOG=info to see why");
        }
        if Instant::now() > deadline {
            bail!("timed out with {done} of {steps} steps finished");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Per-step timings from the `steps` table (the store's own pools are closed by now).
async fn read_timings(url: &str, start_ms: Millis) -> anyhow::Result<Timings> {
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let rows = sqlx::query(
        "SELECT created_at, due_at, finished_at FROM steps
         WHERE state = 'succeeded' AND input_event_id IS NOT NULL AND story_id = $1",
    )
    .bind(BENCH_STORY_ID)
    .fetch_all(&mut conn)
    .await?;
    let _ = conn.close().await;
    let mut t = Timings {
        total: Vec::with_capacity(rows.len()),
        wait: Vec::with_capacity(rows.len()),
        service: Vec::with_capacity(rows.len()),
        first_claim: Millis::MAX,
        last_finish: Millis::MIN,
    };
    for row in &rows {
        let created: i64 = row.try_get(0)?;
        let claimed = claimed_at(row.try_get(1)?);
        let finished: Option<i64> = row.try_get(2)?;
        let finished = finished.context("a succeeded step has no finish time")?;
        // The backlog was created before the runner existed: it is due from the runner's start.
        let due = created.max(start_ms);
        t.total.push((finished - due) as f64);
        t.wait.push((claimed - due).max(0) as f64);
        t.service.push((finished - claimed) as f64);
        t.first_claim = t.first_claim.min(claimed);
        t.last_finish = t.last_finish.max(finished);
    }
    for samples in [&mut t.total, &mut t.wait, &mut t.service] {
        samples.sort_by(f64::total_cmp);
    }
    Ok(t)
}
