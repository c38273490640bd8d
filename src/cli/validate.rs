//! `warden validate PATH…`: stories, the integration templates they use, and the story tests
//! (`*.test.yml`) beside them.

use crate::diagnostic::FileDiagnostic;
use crate::story::load;
use crate::storytest;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// `path:line:col: error[CODE]: message` and a hint line, for people.
    Text,
    /// One JSON document, for editors and CI.
    Json,
}

/// `warden validate` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Story files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Directory of integration templates (`vendor/name.yml`).
    #[arg(long, env = "WARDEN_TEMPLATES", default_value = "templates")]
    templates: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// Validates and prints every problem; exit 1 if there is any.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    for path in &args.paths {
        if !path.exists() {
            anyhow::bail!("{}: no such file or directory", path.display());
        }
    }
    let mut loaded =
        load::load(&args.paths, &args.templates).context("Failed to read the stories")?;
    // Story tests beside the stories: their shape, and the actions they name.
    for file in storytest::discover(&args.paths).context("Failed to read the stories")? {
        let diagnostics = storytest::check_file(&file, &loaded.stories);
        loaded.reports.push(load::FileReport {
            path: file.display().to_string(),
            diagnostics,
        });
    }
    let errors = loaded.error_count();
    match args.format {
        Format::Text => {
            for report in &loaded.reports {
                for diagnostic in &report.diagnostics {
                    println!("{}", diagnostic.render(&report.path));
                }
            }
            let failed = loaded
                .reports
                .iter()
                .filter(|r| !r.diagnostics.is_empty())
                .count();
            if errors == 0 {
                eprintln!(
                    "ok: {} stories and {} integration templates are valid",
                    loaded.stories.len(),
                    loaded.integrations.len()
                );
            } else {
                eprintln!(
                    "{errors} error{} in {failed} of {} files",
                    if errors == 1 { "" } else { "s" },
                    loaded.reports.len()
                );
            }
        }
        Format::Json => {
            let diagnostics: Vec<FileDiagnostic> = loaded
                .reports
                .iter()
                .flat_map(|r| {
                    r.diagnostics
                        .iter()
                        .map(|d| FileDiagnostic::new(&r.path, d))
                })
                .collect();
            let files: Vec<serde_json::Value> = loaded
                .reports
                .iter()
                .map(|r| serde_json::json!({ "path": r.path, "valid": r.diagnostics.is_empty() }))
                .collect();
            let document = serde_json::json!({
                "version": 1,
                "valid": errors == 0,
                "error_count": errors,
                "files": files,
                "diagnostics": diagnostics,
            });
            println!("{}", serde_json::to_string_pretty(&document)?);
        }
    }
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
