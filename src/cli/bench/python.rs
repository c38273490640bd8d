//! `warden bench detect`'s Python variant: the first seed rule in Python over the same events
//! the YAML bench replays, with 1, 2 and 4 workers, beside the YAML rule's figure on the same
//! normalised events. Events are normalised beforehand (as the detector hands them over); what
//! is timed is the Python stage: events to the workers in ingest-sized batches, `rule()` and,
//! for matches, the alert functions, and the answers read back.

use super::{cpu_seconds, peak_rss_mb, round2};
use crate::detect::load;
use crate::detect::normalize::{new_row_id, LogType, Normalizer};
use crate::detect::python::{self, Config, Pool};
use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

/// Events per `evaluate` call, as one ingest request of that many lines would send.
const BATCH: usize = 4_096;

/// Runs the variant; its figures as JSON.
pub fn run(
    lines: &[String],
    log_type: &LogType,
    rule: &Path,
    count: usize,
) -> anyhow::Result<Value> {
    let loaded = load::load(&[rule.to_path_buf()]).context("Failed to read the Python rule")?;
    let Some(entry) = loaded.rules.iter().find(|r| r.rule.python.is_some()) else {
        bail!("{} is not a Python rule that loads", rule.display());
    };
    let twin_id = entry.rule.id.trim_end_matches(".Python").to_owned();
    let shipped =
        load::load(&[Path::new("rules").to_path_buf()]).context("Failed to read rules")?;
    let twin = shipped
        .rules
        .iter()
        .find(|r| r.rule.id == twin_id && r.rule.python.is_none());

    let normalizer = Normalizer::new(log_type, crate::clock::system_now());
    let events: Vec<Value> = (0..count)
        .map(|i| {
            let mut event: Value = serde_json::from_str(&lines[i % lines.len()])?;
            normalizer.normalize(&mut event, &new_row_id())?;
            Ok(event)
        })
        .collect::<anyhow::Result<_>>()?;
    let refs: Vec<&Value> = events.iter().collect();

    let yaml = twin.map(|twin| {
        let started = Instant::now();
        let matched = events
            .iter()
            .filter(|e| twin.rule.matches(black_box(*e)))
            .count();
        (count as f64 / started.elapsed().as_secs_f64(), matched)
    });
    if let Some((rate, matched)) = yaml {
        println!("  {twin_id} (YAML) on the same normalised events: {rate:.0} events/s ({matched} matches)");
    }

    let library = python::library([&entry.rule]);
    let ids = [entry.rule.id.clone()];
    let mut figures = Vec::new();
    for workers in [1, 2, 4] {
        let config = Config {
            workers,
            ..Config::from_env()
        };
        let pool = Pool::new(config, &library);
        // Start the workers outside the timing.
        pool.evaluate(&ids, &refs[..refs.len().min(workers * 8)]);
        let started = Instant::now();
        let cpu_before = (cpu_seconds(), pool.workers_cpu_seconds());
        let mut matched = 0;
        for batch in refs.chunks(BATCH) {
            let outcomes = pool.evaluate(&ids, batch);
            matched += outcomes.iter().filter(|o| o[0].matched).count();
            if let Some(error) = outcomes.iter().find_map(|o| o[0].error.as_ref()) {
                bail!("the Python rule failed: {error}");
            }
        }
        let rate = count as f64 / started.elapsed().as_secs_f64();
        // Warden's own share (writing events, reading answers) is what the machine cannot give
        // the workers; theirs is the cost of Python itself.
        let per_event = |seconds: f64| seconds * 1e6 / count as f64;
        let warden_us = per_event(cpu_seconds() - cpu_before.0);
        let workers_us = per_event(pool.workers_cpu_seconds() - cpu_before.1);
        let rss = pool.workers_peak_rss_kb() as f64 / 1024.0;
        println!(
            "  {} (Python), {workers} worker{}: {rate:.0} events/s ({matched} matches); CPU per event: warden {warden_us:.1} µs, workers {workers_us:.1} µs; workers' peak RSS {rss:.1} MiB",
            entry.rule.id,
            if workers == 1 { "" } else { "s" },
        );
        figures.push(json!({
            "workers": workers,
            "events_per_sec": round2(rate),
            "matches": matched,
            "warden_cpu_us_per_event": round2(warden_us),
            "workers_cpu_us_per_event": round2(workers_us),
            "workers_peak_rss_mb": round2(rss),
        }));
    }
    println!("  peak RSS (warden) {:.1} MiB", peak_rss_mb());
    Ok(json!({
        "rule": entry.rule.id,
        "events": count,
        "yaml_events_per_sec": yaml.map(|(rate, _)| round2(rate)),
        "workers": figures,
    }))
}
