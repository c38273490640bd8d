//! `warden schema`

use crate::story::{load, schema};
use std::path::PathBuf;
use std::process::ExitCode;

/// `warden schema` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory of integration templates; each becomes a `uses:` choice in the schema.
    #[arg(long, env = "WARDEN_TEMPLATES", default_value = "templates")]
    templates: PathBuf,
}

/// Prints the story JSON Schema.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut loaded = load::Loaded::default();
    load::load_integrations(&args.templates, &mut loaded);
    for report in loaded.reports.iter().filter(|r| !r.diagnostics.is_empty()) {
        eprintln!(
            "warning: {} is invalid and left out of the schema",
            report.path
        );
    }
    let schema = schema::story_schema(&loaded.integrations);
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}
