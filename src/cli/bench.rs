//! `warden bench …`: benchmarks that print figures, never pass/fail.

use crate::story::{check_story, Catalog};
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
}

/// Runs a benchmark.
pub fn run(bench: Bench) -> anyhow::Result<ExitCode> {
    match bench {
        Bench::Validate {
            actions,
            iterations,
        } => validate(actions, iterations.max(1)),
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

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Peak resident set size of this process, from `/proc/self/status` (Linux); 0 elsewhere.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
