//! `warden import tines EXPORT.json [-o DIR]`: writes each story as `DIR/<id>.yml`, validates what
//! it wrote, and prints what was left out and the settings the stories need.

use crate::import::tines;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// `warden import` sources.
#[derive(Debug, clap::Subcommand)]
pub enum Import {
    /// A Tines story export (JSON) → Warden stories. Exit 0 when everything was translated, 2
    /// when something was left out (each place is commented in the output) or the output is
    /// not valid.
    Tines(Args),
}

/// `warden import tines` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The export (`.json`, as Tines' "Export story" writes it).
    export: PathBuf,
    /// Directory to write the stories to (created if missing).
    #[arg(short = 'o', long = "out", default_value = ".")]
    out: PathBuf,
}

/// Runs `warden import …`.
pub fn run(import: Import) -> anyhow::Result<ExitCode> {
    match import {
        Import::Tines(args) => tines_import(args),
    }
}

fn tines_import(args: Args) -> anyhow::Result<ExitCode> {
    let source = std::fs::read_to_string(&args.export)
        .with_context(|| format!("Failed to read {}", args.export.display()))?;
    let origin = args.export.file_name().map_or_else(
        || args.export.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let imported = tines::import(&source, &origin)
        .with_context(|| format!("Failed to import {}", args.export.display()))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("Failed to create {}", args.out.display()))?;
    for story in &imported.stories {
        let path = args.out.join(format!("{}.yml", story.id));
        std::fs::write(&path, &story.yaml)
            .with_context(|| format!("Failed to write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if !imported.credentials.is_empty() || !imported.resources.is_empty() {
        println!("\nsettings the stories need:");
        for (name, what) in &imported.credentials {
            println!("  {}  ({what})", tines::credential_variable(name));
        }
        for (name, what) in &imported.resources {
            println!("  {}  ({what})", tines::resource_variable(name));
        }
    }
    let invalid = tines::validate(&imported);
    for (id, diagnostics) in &invalid {
        let path = args.out.join(format!("{id}.yml")).display().to_string();
        for diagnostic in diagnostics {
            eprintln!("{}", diagnostic.render(&path));
        }
    }
    if !imported.left_out.is_empty() {
        println!(
            "\nnot translated ({}), each commented in place:",
            imported.left_out.len()
        );
        for item in &imported.left_out {
            println!("  - {item}");
        }
    }
    if !invalid.is_empty() {
        eprintln!(
            "error: {} imported stor{} not valid: this is an importer bug, please report it with the export",
            invalid.len(),
            if invalid.len() == 1 { "y is" } else { "ies are" }
        );
        return Ok(ExitCode::from(2));
    }
    Ok(if imported.left_out.is_empty() {
        eprintln!(
            "ok: {} stories imported, all valid, nothing left out",
            imported.stories.len()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{} stories imported and valid; {} item(s) not translated",
            imported.stories.len(),
            imported.left_out.len()
        );
        ExitCode::from(2)
    })
}
