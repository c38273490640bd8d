//! `warden bench detect`: replays events through every loaded rule on one core and reports
//! events/s for parse + evaluate, with the split between the two.

use super::{peak_rss_mb, round2};
use crate::detect::load;
use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Options of `warden bench detect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rule files or directories (default: the shipped rules and Panther's conformance corpus).
    #[arg(long = "rules", default_values = ["rules", "tests/fixtures/conformance/panther-simple-detections"])]
    rules: Vec<PathBuf>,
    /// An NDJSON file of events. Default: real-shaped Okta System Log events (the seed grant, a
    /// Bypass-MFA group add and a sign-in, 1.2–2.3 KB each).
    #[arg(long, default_value = "tests/fixtures/okta/systemlog.ndjson")]
    events: PathBuf,
    /// Events to replay.
    #[arg(long, default_value_t = 200_000)]
    count: usize,
}

/// Runs the bench.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loaded = load::load(&args.rules).context("Failed to read the rules")?;
    if loaded.error_count() > 0 {
        bail!(
            "{} problem(s) in the rules; see `warden rules test`",
            loaded.error_count()
        );
    }
    let rules: Vec<_> = loaded.rules.iter().map(|r| &r.rule).collect();
    let lines: Vec<String> = std::fs::read_to_string(&args.events)
        .with_context(|| format!("Failed to read {}", args.events.display()))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if lines.is_empty() || rules.is_empty() {
        bail!("no events or no rules to replay");
    }
    let bytes: usize = lines.iter().map(String::len).sum();
    let count = args.count.max(lines.len());
    println!(
        "bench detect: {} rules, {} distinct events ({} bytes on average), {count} events replayed on one core",
        rules.len(),
        lines.len(),
        bytes / lines.len()
    );

    // Parse + evaluate, as ingestion does.
    let started = Instant::now();
    let mut matches = 0u64;
    for i in 0..count {
        let event: Value = serde_json::from_str(&lines[i % lines.len()])?;
        for rule in &rules {
            matches += u64::from(rule.matches(black_box(&event)));
        }
    }
    let total = started.elapsed().as_secs_f64();

    // The split: parsing alone, then evaluating already-parsed events.
    let started = Instant::now();
    for i in 0..count {
        let event: Value = serde_json::from_str(&lines[i % lines.len()])?;
        black_box(&event);
    }
    let parse = started.elapsed().as_secs_f64();
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    for i in 0..count {
        for rule in &rules {
            black_box(rule.matches(black_box(&parsed[i % parsed.len()])));
        }
    }
    let evaluate = started.elapsed().as_secs_f64();

    let events_per_sec = count as f64 / total;
    println!(
        "  parse + evaluate: {:.0} events/s ({matches} rule matches)",
        events_per_sec
    );
    println!(
        "  parse only: {:.0} events/s; evaluate only: {:.0} events/s ({:.0} ns per rule)",
        count as f64 / parse,
        count as f64 / evaluate,
        evaluate * 1e9 / (count * rules.len()) as f64
    );
    println!("  peak RSS {:.1} MiB", peak_rss_mb());
    println!(
        "{}",
        json!({
            "bench": "detect",
            "rules": rules.len(),
            "events": count,
            "events_per_sec": round2(events_per_sec),
            "parse_events_per_sec": round2(count as f64 / parse),
            "evaluate_events_per_sec": round2(count as f64 / evaluate),
            "peak_rss_mb": round2(peak_rss_mb()),
        })
    );
    Ok(ExitCode::SUCCESS)
}
