//! The command line: `warden <command>`. Each command is a thin shell over the library.

mod bench;
mod check;
mod completions;
#[cfg(feature = "demo")]
pub mod demo;
mod docs;
mod import;
mod inspect;
mod replay;
mod rules;
mod schema;
pub mod serve;
mod test;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Warden: security automation with stories as YAML, a durable runner and embedded detection.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check stories (files or directories) and the integration templates they use.
    Validate(validate::Args),
    /// List each story's webhook URLs and the credentials and resources it needs that are not
    /// set (exit 1 if any), without starting anything.
    Check(check::Args),
    /// Run story tests: `<story>.test.yml` beside each story (canned vendors, no network).
    Test(test::Args),
    /// Work with detection rules (Panther rule YAML).
    #[command(subcommand)]
    Rules(rules::Rules),
    /// Turn another engine's exports into Warden stories (`warden import tines EXPORT.json`).
    #[command(subcommand)]
    Import(import::Import),
    /// Print the JSON Schema of the story format, for editors and CI.
    Schema(schema::Args),
    /// Write the reference pages (actions' events, the failure event, template filters) as
    /// Markdown into a directory (default `docs/`).
    Docs(docs::Args),
    /// Serve webhooks and the API, and run stories.
    Serve(serve::ServeArgs),
    /// Run the seed scenario, or any story with `--story FILE --event FILE`, end to end against
    /// local vendor simulators (temporary database).
    #[cfg(feature = "demo")]
    Demo(demo::Args),
    /// Start the vendor simulators alone on loopback ports and print the settings that point
    /// `warden serve` at them; Ctrl-C stops them.
    #[cfg(feature = "demo")]
    Sim(demo::sim::Args),
    /// Run stories only (extra processes sharing a Postgres database).
    Worker(serve::WorkerArgs),
    /// Apply database migrations (serve and worker also apply them on start).
    Migrate(serve::MigrateArgs),
    /// Run a log file through the detection stage (JSON, JSON array or NDJSON; gzip ok).
    Replay(replay::Args),
    /// Measure Warden's speed; the last line printed is one JSON object of figures.
    #[command(subcommand)]
    Bench(bench::Bench),
    /// A running server's runs: `list` (filter by story, status), `show ID` (a timeline).
    #[command(subcommand)]
    Runs(inspect::Runs),
    /// A running server's alerts: `list` (filter by rule, severity), `show ID`.
    #[command(subcommand)]
    Alerts(inspect::Alerts),
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the man page (or write every command's page with `-o DIR`).
    Man(completions::ManArgs),
}

/// Parses the command line and runs the command. Exit codes: 0 success, 1 the input has errors,
/// 2 Warden could not do the work (bad usage, unreadable paths).
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Check(args) => check::run(args),
        Command::Test(args) => test::run(args),
        Command::Rules(rules) => rules::run(rules),
        Command::Import(import) => import::run(import),
        Command::Schema(args) => schema::run(args),
        Command::Docs(args) => docs::run(args),
        Command::Serve(args) => serve::serve(args),
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(args),
        #[cfg(feature = "demo")]
        Command::Sim(args) => demo::sim::run(args),
        Command::Worker(args) => serve::worker(args),
        Command::Migrate(args) => serve::migrate(args),
        Command::Replay(args) => replay::run(args),
        Command::Bench(bench) => bench::run(bench),
        Command::Runs(command) => inspect::runs(command),
        Command::Alerts(command) => inspect::alerts(command),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
