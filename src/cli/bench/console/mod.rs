//! `warden bench console`: seeds a large history (`seed`), then renders every console page and
//! the API's payload search many times in this process through the router `warden serve` uses,
//! from request to full body (server time, no socket), and prints p50/p99 per page against its
//! target.

mod seed;

use super::{
    generated_story, init_quiet_logging, peak_rss_mb, quantile, round2, runtime, with_scratch_db,
    DbArgs,
};
use crate::app::{App, Definitions, Settings};
use crate::console::session::{SessionKey, COOKIE};
use crate::detect::load;
use crate::secrets::{Secret, Secrets};
use crate::story::{check_story, Catalog, Story};
use anyhow::{bail, Context as _};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use tower_service::Service as _;

/// `warden bench console`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: DbArgs,
    /// Runs to seed.
    #[arg(long, default_value_t = 100_000)]
    runs: u64,
    /// Steps per run, the webhook's entry step included (each story has this many actions).
    #[arg(long, default_value_t = 10)]
    steps_per_run: u64,
    /// Stories the runs are spread over.
    #[arg(long, default_value_t = 4)]
    stories: u64,
    /// Days the runs are spread over, the newest now.
    #[arg(long, default_value_t = 7)]
    days: u64,
    /// Timed renders per page (after two untimed ones).
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// Rule files or directories for the rules page (a missing path is skipped).
    #[arg(long = "rules", default_values = ["rules"])]
    rules: Vec<PathBuf>,
}

/// p99 server time a page must stay under, ms.
const PAGE_TARGET_MS: f64 = 50.0;
/// p99 server time a payload search must stay under, ms.
const SEARCH_TARGET_MS: f64 = 200.0;

const DAY: i64 = 24 * 60 * 60 * 1000;

/// The API token of the bench's server; console pages are read with a session it signs.
const TOKEN: &str = "bench-console-token";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.runs == 0 || args.steps_per_run < 2 || args.stories == 0 || args.samples == 0 {
        bail!("--runs, --stories and --samples must be at least 1, --steps-per-run at least 2");
    }
    init_quiet_logging();
    runtime()?.block_on(with_scratch_db(&args.db, |url, shown| {
        bench(url, shown, &args)
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// `count` stories of `actions` actions each (`bench::generated_story`, webhook paths apart).
fn stories(count: u64, actions: u64) -> anyhow::Result<Vec<Story>> {
    (0..count)
        .map(|k| {
            let source = generated_story(actions as usize)
                .replacen("name: Generated", &format!("name: Triage {k}"), 1)
                .replacen("path: generated", &format!("path: triage-{k}"), 1);
            check_story(&format!("triage-{k}"), &source, &Catalog::default())
                .map_err(|d| anyhow::anyhow!("the bench story is invalid: {:?}", d.first()))
        })
        .collect()
}

/// One page to time: its name, URI, target, and text its body must contain.
struct Page {
    name: &'static str,
    uri: String,
    target: f64,
    expect: Option<String>,
}

async fn bench(url: String, shown: String, args: &Args) -> anyhow::Result<()> {
    let backend = args.db.backend().as_str();
    let stories = stories(args.stories, args.steps_per_run)?;
    let rules = {
        let paths: Vec<PathBuf> = args.rules.iter().filter(|p| p.exists()).cloned().collect();
        load::load(&paths)
            .context("Failed to read the rules")?
            .rules
    };
    let rule_count = rules.len();
    let versions = stories
        .iter()
        .map(|s| (s.id.clone(), s.version.clone()))
        .collect();
    let app = App::build(Settings {
        secrets: Secrets::default()
            .with_credential("hook", "bench-hook")
            .with_credential("api", "bench-api"),
        api_token: Some(Secret::new(TOKEN)),
        ..Settings::new(
            &url,
            Definitions::Loaded {
                stories,
                rules,
                queries: Vec::new(),
                routing: Default::default(),
            },
        )
    })
    .await?;
    let now = app.engine.clock.now();
    let plan = seed::Plan {
        runs: args.runs,
        steps_per_run: args.steps_per_run,
        stories: versions,
        now: now - 60_000,
        span: args.days.max(1) as i64 * DAY,
    };
    println!(
        "bench console ({backend}, {shown}): seeding {} runs × {} steps over {} stories and {} days…",
        args.runs, args.steps_per_run, args.stories, args.days
    );
    let seeding = Instant::now();
    let seeded = seed::seed(&url, &plan).await?;
    let seed_secs = seeding.elapsed().as_secs_f64();
    let (runs, steps, events, prompts, alerts) = seeded.counts;
    println!(
        "  seeded {runs} runs, {steps} steps, {events} events, {prompts} prompts, {alerts} alerts in {seed_secs:.1} s ({:.0} runs/s); {rule_count} rules loaded",
        runs as f64 / seed_secs
    );

    // The seeded entry events were queued for payload search's index as they were inserted;
    // `warden serve`'s indexer would work through them in the background. Pages are timed once
    // it has, as they would be a little while after a burst.
    let indexing = Instant::now();
    let indexed = app
        .indexer()
        .catch_up()
        .await
        .context("Failed to index the entry events for payload search")?;
    let index_secs = indexing.elapsed().as_secs_f64();
    println!(
        "  indexed {indexed} entry events for payload search in {index_secs:.1} s ({:.0} events/s)",
        indexed as f64 / index_secs.max(0.001)
    );

    let cookie = format!(
        "{COOKIE}={}",
        SessionKey::from_token(TOKEN).issue(app.engine.clock.now())?
    );
    let router = app.router();
    let pages = pages(&seeded, now);
    let mut figures = serde_json::Map::new();
    println!(
        "  {:<24} {:>9} {:>9} {:>9}  ({} renders each, server time)",
        "page", "p50 ms", "p99 ms", "target", args.samples
    );
    let mut over = 0;
    for page in &pages {
        let mut samples = Vec::with_capacity(args.samples);
        for i in 0..args.samples + 2 {
            let (ms, body) = render(&router, &page.uri, &cookie).await?;
            if i == 0 {
                if let Some(expect) = &page.expect {
                    if !body.contains(expect.as_str()) {
                        bail!("{} ({}) does not show {expect}", page.name, page.uri);
                    }
                }
            }
            if i >= 2 {
                samples.push(ms);
            }
        }
        samples.sort_by(f64::total_cmp);
        let (p50, p99) = (quantile(&samples, 0.5), quantile(&samples, 0.99));
        let mark = if p99 > page.target {
            over += 1;
            "  OVER"
        } else {
            ""
        };
        println!(
            "  {:<24} {p50:>9.2} {p99:>9.2} {:>9.0}{mark}",
            page.name, page.target
        );
        figures.insert(
            page.name.to_owned(),
            json!({"p50_ms": round2(p50), "p99_ms": round2(p99), "target_ms": page.target,
                   "over": p99 > page.target}),
        );
    }
    app.engine.store.close().await;
    let rss = peak_rss_mb();
    println!(
        "  {over} of {} pages over their target; peak RSS {rss:.1} MiB",
        pages.len()
    );
    println!(
        "{}",
        json!({
            "bench": "console",
            "backend": backend,
            "runs": runs,
            "steps": steps,
            "events": events,
            "seed_s": round2(seed_secs),
            "index_s": round2(index_secs),
            "samples": args.samples,
            "over": over,
            "pages": figures,
            "peak_rss_mb": round2(rss),
        })
    );
    Ok(())
}

/// The pages, with the seeded rows they show.
fn pages(seeded: &seed::Seeded, now: i64) -> Vec<Page> {
    let page = |name, uri: String, expect: Option<&str>| Page {
        name,
        uri,
        target: PAGE_TARGET_MS,
        expect: expect.map(str::to_owned),
    };
    let search = |name, uri: String, expect: &str| Page {
        name,
        uri,
        target: SEARCH_TARGET_MS,
        expect: Some(expect.to_owned()),
    };
    let query = |q: &str| form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();
    vec![
        page("front", "/".into(), Some("failed")),
        page(
            "runs ?story",
            "/runs?story=triage-1".into(),
            Some("triage-1"),
        ),
        page(
            "runs ?status=failed",
            "/runs?status=failed".into(),
            Some("failed"),
        ),
        page(
            "runs ?since&until",
            format!("/runs?since={}&until={}", now - 3 * DAY, now - 2 * DAY),
            None,
        ),
        page(
            "runs deep cursor",
            format!("/runs?before={}", seeded.deep_cursor),
            None,
        ),
        search(
            "search old alertId",
            format!("/runs?q={}", query(&seeded.old_alert.0)),
            &seeded.old_alert.1,
        ),
        search(
            "search IP",
            format!("/runs?q={}", query(&seeded.old_ip.0)),
            &seeded.old_ip.1,
        ),
        search(
            "api search alertId",
            format!("/api/runs?q={}", query(&seeded.old_alert.0)),
            &seeded.old_alert.1,
        ),
        page(
            "run (10 steps)",
            format!("/runs/{}", seeded.run_id),
            Some(seeded.run_id.as_str()),
        ),
        page("stories", "/stories".into(), Some("triage-0")),
        page("story", "/stories/triage-0".into(), Some("<svg")),
        page("alerts", "/alerts".into(), None),
        page(
            "alert",
            format!("/alerts/{}", seeded.alert_id),
            Some(seeded.alert_id.as_str()),
        ),
        page("prompts", "/prompts".into(), Some("approve")),
        page("rules", "/rules".into(), None),
        page("health", "/health".into(), None),
    ]
}

/// One request through the router, timed to the last byte of its body.
async fn render(router: &Router, uri: &str, cookie: &str) -> anyhow::Result<(f64, String)> {
    let request = Request::get(uri)
        .header(header::COOKIE, cookie)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())?;
    let mut service = router.clone();
    let started = Instant::now();
    let response = service.call(request).await?;
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status != StatusCode::OK {
        bail!(
            "{uri} answered {status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        );
    }
    Ok((ms, String::from_utf8(body.to_vec())?))
}
