//! `warden check`: what each story needs from the environment, without starting anything.

use crate::app;
use crate::cli::serve::{public_url_or_listen, DEFAULT_LISTEN};
use crate::preflight;
use crate::secrets::Secrets;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// `warden check` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stories directory.
    #[arg(long, env = "WARDEN_STORIES", default_value = "stories")]
    stories: PathBuf,
    /// Integration templates directory.
    #[arg(long, env = "WARDEN_TEMPLATES", default_value = "templates")]
    templates: PathBuf,
    /// The URL Warden is reached at, for the webhook URLs shown [default: http://WARDEN_LISTEN].
    #[arg(long, env = "WARDEN_PUBLIC_URL")]
    public_url: Option<String>,
    /// The address `serve` listens on.
    #[arg(long, env = "WARDEN_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: String,
}

/// Prints each story's webhook URLs and the settings it lacks; exit 1 if any story lacks one.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stories = app::load_stories(&args.stories, &args.templates)?;
    let secrets = Secrets::from_env().context("Failed to read credentials")?;
    let readiness = preflight::check(&stories, &secrets);
    let base = public_url_or_listen(args.public_url.as_deref(), &args.listen);
    print!("{}", preflight::report(&readiness, &base));
    let unready = readiness.iter().filter(|r| !r.is_ready()).count();
    if unready == 0 {
        println!("All {} story(ies) are ready.", readiness.len());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{unready} of {} story(ies) are not ready: set what is missing.",
        readiness.len()
    );
    Ok(ExitCode::from(1))
}
