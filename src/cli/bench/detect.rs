//! `warden bench detect`: replays events through the ingest hot path on one core (parse into an
//! [`Event`](crate::detect::event::Event) with one reused [`Parser`], normalise with one
//! [`Normalizer`], evaluate every rule of the log type) and reports events/s, with the split
//! between the stages and, for comparison, the same work on `serde_json::Value`.

use super::{peak_rss_mb, round2};
use crate::detect::eval::JsonNode;
use crate::detect::event::{Doc, Parser};
use crate::detect::load;
use crate::detect::normalize::{new_row_id, LogType, Normalize, Normalizer};
use crate::detect::Rule;
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
    #[arg(long, default_value = "bench/okta-systemlog.ndjson")]
    events: PathBuf,
    /// The events' log type: only its rules are evaluated, as at ingest.
    #[arg(long, default_value = "Okta.SystemLog")]
    log_type: String,
    /// Events to replay.
    #[arg(long, default_value_t = 200_000)]
    count: usize,
    /// The Python rule of the Python variant (the first seed rule's Python twin), run beside the
    /// YAML rule of the same name without its `.Python` suffix.
    #[arg(long, default_value = "rules/python/okta_admin_privilege_grant.yml")]
    python_rule: PathBuf,
    /// Events the Python variant replays per worker count.
    #[arg(long, default_value_t = 100_000)]
    python_count: usize,
    /// Skip the Python variant.
    #[arg(long)]
    no_python: bool,
}

/// What every replay shares: the events, the log type's rules, and the normaliser.
struct Replay<'r> {
    lines: Vec<String>,
    rules: Vec<&'r Rule>,
    normalizer: Normalizer<'r>,
    count: usize,
}

impl Replay<'_> {
    fn line(&self, i: usize) -> &str {
        &self.lines[i % self.lines.len()]
    }

    /// Normalises `event` as ingest does, with a fresh row id.
    fn normalize<N: Normalize>(&self, event: &mut N) -> anyhow::Result<()> {
        self.normalizer.normalize(event, &new_row_id())?;
        Ok(())
    }

    fn matches<N: JsonNode>(&self, event: &N) -> u64 {
        self.rules
            .iter()
            .map(|rule| u64::from(rule.matches(black_box(event))))
            .sum()
    }

    /// Events/s of `step` run on `count` events.
    fn rate(&self, mut step: impl FnMut(&str) -> anyhow::Result<()>) -> anyhow::Result<f64> {
        let started = Instant::now();
        for i in 0..self.count {
            step(self.line(i))?;
        }
        Ok(self.count as f64 / started.elapsed().as_secs_f64())
    }
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
    let log_type = LogType::parse(&args.log_type);
    let rules: Vec<&Rule> = loaded
        .rules
        .iter()
        .map(|r| &r.rule)
        // Python rules have their own variant below; their (empty) expressions mean nothing.
        .filter(|rule| rule.python.is_none())
        .filter(|rule| rule.log_types.iter().any(|t| t == log_type.name()))
        .collect();
    let lines: Vec<String> = std::fs::read_to_string(&args.events)
        .with_context(|| format!("Failed to read {}", args.events.display()))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if lines.is_empty() || rules.is_empty() {
        bail!("no events or no {log_type} rules to replay");
    }
    let bytes: usize = lines.iter().map(String::len).sum();
    let replay = Replay {
        count: args.count.max(lines.len()),
        lines,
        rules,
        normalizer: Normalizer::new(&log_type, crate::clock::system_now()),
    };
    println!(
        "bench detect: {} of {} rules are for {}; {} distinct events ({} bytes on average), {} events replayed on one core",
        replay.rules.len(),
        loaded.rules.len(),
        log_type,
        replay.lines.len(),
        bytes / replay.lines.len(),
        replay.count,
    );

    // The ingest hot path: parse, normalise, evaluate, with one parser (arena) for all events.
    let mut parser = Parser::new();
    let mut matches = 0;
    let ingest = replay.rate(|line| {
        let mut doc = parser.parse(line)?;
        replay.normalize(&mut doc)?;
        matches += replay.matches(doc.root());
        Ok(())
    })?;

    // The split: parsing alone, parsing and normalising, then evaluating normalised events.
    let parse = replay.rate(|line| {
        black_box(parser.parse(line)?);
        Ok(())
    })?;
    let parse_normalize = replay.rate(|line| {
        let mut doc = parser.parse(line)?;
        replay.normalize(&mut doc)?;
        black_box(doc);
        Ok(())
    })?;
    let mut parsers: Vec<Parser> = replay.lines.iter().map(|_| Parser::new()).collect();
    let normalized = parsers
        .iter_mut()
        .zip(&replay.lines)
        .map(|(parser, line)| {
            let mut doc = parser.parse(line)?;
            replay.normalize(&mut doc)?;
            Ok(doc)
        })
        .collect::<anyhow::Result<Vec<Doc>>>()?;
    let started = Instant::now();
    for i in 0..replay.count {
        black_box(replay.matches(normalized[i % normalized.len()].root()));
    }
    let evaluate = started.elapsed().as_secs_f64();

    // The same work on `serde_json::Value`, what rule tests and stored events use.
    let value = replay.rate(|line| {
        let mut event: Value = serde_json::from_str(line)?;
        replay.normalize(&mut event)?;
        black_box(replay.matches(&event));
        Ok(())
    })?;

    let count = replay.count as f64;
    println!(
        "  ingest (parse + normalize + evaluate): {ingest:.0} events/s ({matches} rule matches)"
    );
    println!(
        "  parse only: {parse:.0} events/s; parse + normalize: {parse_normalize:.0} events/s; \
         evaluate only: {:.0} events/s ({:.0} ns per rule)",
        count / evaluate,
        evaluate * 1e9 / (count * replay.rules.len() as f64)
    );
    println!("  the same on serde_json::Value: {value:.0} events/s");
    println!("  peak RSS {:.1} MiB", peak_rss_mb());
    let python = if args.no_python {
        Value::Null
    } else {
        super::python::run(
            &replay.lines,
            &log_type,
            &args.python_rule,
            args.python_count,
        )?
    };
    println!(
        "{}",
        json!({
            "bench": "detect",
            "log_type": log_type.name(),
            "rules": replay.rules.len(),
            "events": replay.count,
            "events_per_sec": round2(ingest),
            "parse_events_per_sec": round2(parse),
            "parse_normalize_events_per_sec": round2(parse_normalize),
            "evaluate_events_per_sec": round2(count / evaluate),
            "value_events_per_sec": round2(value),
            "peak_rss_mb": round2(peak_rss_mb()),
            "python": python,
        })
    );
    Ok(ExitCode::SUCCESS)
}
