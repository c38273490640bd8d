//! `warden test [PATH…]`: runs story tests (`<story>.test.yml` beside each story).

use crate::storytest::{self, report};
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Every failure with its test, action and differences, then a summary line.
    Text,
    /// JUnit XML on stdout, for CI systems.
    Junit,
}

/// `warden test` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Story directories, stories or test files [default: $WARDEN_STORIES, else ./stories].
    paths: Vec<PathBuf>,
    /// Directory of integration templates (`vendor/name.yml`).
    #[arg(long, env = "WARDEN_TEMPLATES", default_value = "templates")]
    templates: PathBuf,
    /// Only run the tests with these names (repeatable).
    #[arg(long = "test", value_name = "NAME")]
    tests: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also list passing tests.
    #[arg(short, long)]
    verbose: bool,
}

/// Runs the tests; exit 1 on a failing test or an invalid test file, 2 when nothing could run.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let paths = if args.paths.is_empty() {
        match std::env::var_os("WARDEN_STORIES") {
            Some(value) if !value.is_empty() => std::env::split_paths(&value).collect(),
            _ => vec![PathBuf::from("stories")],
        }
    } else {
        args.paths
    };
    for path in &paths {
        if !path.exists() {
            anyhow::bail!("{}: no such file or directory", path.display());
        }
    }
    let files = storytest::discover(&paths).context("Failed to read the story directories")?;
    if files.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        anyhow::bail!(
            "no story tests under {} (write `<story>.test.yml` beside a story)",
            shown.join(", ")
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("Failed to start the async runtime")?;
    let options = storytest::Options { only: args.tests };
    let (results, summary) = runtime
        .block_on(storytest::run(&files, &args.templates, &options))
        .context("Failed to read the stories")?;
    // A mistyped `--test` must not pass by running nothing.
    let unmatched: Vec<&str> = (options.only.iter())
        .filter(|name| {
            !results
                .iter()
                .flat_map(|f| &f.tests)
                .any(|t| &t.name == *name)
        })
        .map(String::as_str)
        .collect();
    if !unmatched.is_empty() && summary.invalid_files == 0 {
        anyhow::bail!("no test named {} in these files", unmatched.join(", "));
    }
    match args.format {
        Format::Text => print!("{}", report::text(&results, &summary, args.verbose)),
        Format::Junit => print!("{}", report::junit(&results, &summary)),
    }
    Ok(if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
