//! `warden rules test [PATH…]`

use crate::detect::load;
use crate::detect::testing::{self, TestResult};
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// `warden rules …`
#[derive(Debug, clap::Subcommand)]
pub enum Rules {
    /// Run every rule's `Tests`, like `panther_analysis_tool test`, and check scheduled queries;
    /// exit 1 on a failing test or an invalid rule or query file.
    Test(TestArgs),
}

/// `warden rules test` arguments.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Rule files or directories [default: $WARDEN_RULES, else ./rules].
    paths: Vec<PathBuf>,
    /// Only run the rules with these RuleIDs (repeatable).
    #[arg(long = "rule", value_name = "RULE_ID")]
    rules: Vec<String>,
    /// Also print passing tests, with the alert each matching event would raise.
    #[arg(short, long)]
    verbose: bool,
}

/// Runs the command.
pub fn run(command: Rules) -> anyhow::Result<ExitCode> {
    match command {
        Rules::Test(args) => test(args),
    }
}

fn default_paths() -> Vec<PathBuf> {
    match std::env::var_os("WARDEN_RULES") {
        Some(value) if !value.is_empty() => std::env::split_paths(&value).collect(),
        _ => vec![PathBuf::from("rules")],
    }
}

fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let paths = if args.paths.is_empty() {
        default_paths()
    } else {
        args.paths
    };
    for path in &paths {
        if !path.exists() {
            anyhow::bail!("{}: no such file or directory", path.display());
        }
    }
    let mut loaded = load::load(&paths).context("Failed to read the rules")?;
    if !args.rules.is_empty() {
        loaded.rules.retain(|r| args.rules.contains(&r.rule.id));
        loaded
            .unsupported
            .retain(|u| args.rules.contains(&u.unsupported.id));
        // Keep the queries the remaining rules read, so the summary speaks of those rules only.
        let rules = &loaded.rules;
        loaded.queries.retain(|q| {
            rules
                .iter()
                .any(|r| r.rule.scheduled_queries.iter().any(|n| **n == q.query.name))
        });
    }
    for report in loaded.invalid_files() {
        for diagnostic in &report.diagnostics {
            println!("{}", diagnostic.render(&report.path));
        }
    }
    for entry in &loaded.unsupported {
        println!("{}: {}", entry.path, entry.unsupported);
    }
    if !loaded.other.is_empty() {
        let mut kinds: Vec<&str> = loaded.other.iter().map(|(_, k)| k.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        println!(
            "skipped {} non-rule analysis file{} ({})",
            loaded.other.len(),
            if loaded.other.len() == 1 { "" } else { "s" },
            kinds.join(", ")
        );
    }
    let (results, summary) = testing::run_all(&loaded);
    for (entry, tests) in &results {
        for result in tests {
            if !result.passed() {
                print_failure(
                    &entry.path,
                    &entry.rule.id,
                    entry.rule.python.is_some(),
                    result,
                );
            } else if args.verbose {
                print_pass(&entry.rule.id, result);
            }
        }
    }
    println!("{summary}");
    Ok(if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_failure(path: &str, rule_id: &str, python: bool, result: &TestResult) {
    let test = result.test;
    let got = match &result.error {
        Some(_) => "an error".to_owned(),
        None => result.matched.to_string(),
    };
    println!(
        "FAIL {rule_id}: test \"{}\" ({path}:{}): expected {}, got {got}",
        test.name, test.span, test.expected
    );
    if let Some(error) = &result.error {
        println!("  {error}");
        return;
    }
    match &result.failure {
        Some(failure) => {
            let found = failure
                .found
                .as_ref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default();
            println!(
                "  {path}:{}: {}[{}] is false: {}{found}",
                failure.span, failure.section, failure.index, failure.expression
            );
        }
        None if python => println!(
            "  rule() returned {}",
            if result.matched { "True" } else { "False" }
        ),
        None => println!("  every InlineFilters and Detection expression held"),
    }
}

fn print_pass(rule_id: &str, result: &TestResult) {
    println!(
        "PASS {rule_id}: test \"{}\" ({})",
        result.test.name, result.matched
    );
    if let Some(alert) = &result.alert {
        println!("  title: {}", alert.title);
        println!("  dedup: {}", alert.dedup);
        println!("  severity: {}", alert.severity);
        if !alert.context.is_empty() {
            let context = serde_json::Value::Object(alert.context.clone());
            println!("  context: {context}");
        }
    }
}
