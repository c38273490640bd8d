//! `warden completions SHELL` and `warden man`: the shell completions and the man pages, both
//! generated from the command-line definition, so they cannot drift from it.

use clap::CommandFactory;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `warden completions` arguments.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// `warden man` arguments.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `warden.1` and one `warden-<command>.1` per command into this directory, instead
    /// of printing `warden.1`.
    #[arg(long, short = 'o')]
    out_dir: Option<PathBuf>,
}

/// Prints the completion script for `shell` (e.g. `warden completions bash >
/// /etc/bash_completion.d/warden`).
pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "warden", &mut script);
    print_all(&script)
}

/// Prints `warden.1`, or writes every page into `--out-dir`.
pub fn man(args: ManArgs) -> anyhow::Result<ExitCode> {
    let command = super::Cli::command();
    let Some(dir) = args.out_dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        return print_all(&page);
    };
    std::fs::create_dir_all(&dir)?;
    clap_mangen::generate_to(command, &dir)?;
    println!("man pages written to {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to stdout; a reader that stops early (`| head`) is not an error.
fn print_all(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}
