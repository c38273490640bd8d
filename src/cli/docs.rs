//! `warden docs`: writes the reference pages (`crate::docs`) into a directory.

use anyhow::Context as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// `warden docs` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write the pages into (created if missing).
    #[arg(short, long, default_value = "docs")]
    output: PathBuf,
}

/// Writes every page and prints the paths written.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("Failed to create {}", args.output.display()))?;
    for page in crate::docs::pages() {
        let path = args.output.join(page.file);
        std::fs::write(&path, page.text)
            .with_context(|| format!("Failed to write {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
