//! `warden sim`: the vendor simulators alone, on loopback ports, until Ctrl-C, with the
//! `export` lines that point `warden serve` at them.

use super::stack::world_resources;
use anyhow::Context as _;
use std::process::ExitCode;
use warden_sim::{Scenario, Simulators, Vendor};

/// Options of `warden sim`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Starts the simulators and waits for Ctrl-C (or SIGTERM).
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Failed to start the async runtime")?;
    runtime.block_on(async {
        let sims = Simulators::start(Scenario::seed())
            .await
            .context("Failed to start the vendor simulators")?;
        print!("{}", exports(&sims));
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        crate::cli::serve::shutdown_signal().await;
        sims.shutdown().await;
        println!("Simulators stopped.");
        Ok(ExitCode::SUCCESS)
    })
}

/// What `warden sim` prints: where the simulators listen, as the settings `warden serve` reads,
/// and the credentials they accept, labelled as such.
pub fn exports(sims: &Simulators) -> String {
    let mut out = String::from(
        "Warden simulators: SIMULATED VirusTotal, GreyNoise, Slack, TheHive and Okta (local \
         stand-ins of the seed world; nothing leaves this machine). Ctrl-C stops them.\n\n\
         # Resources: paste into the shell that runs `warden serve`.\n",
    );
    for (name, value) in sims.resources().into_iter().chain(world_resources()) {
        out.push_str(&format!(
            "export WARDEN_RESOURCE_{}={value}\n",
            name.to_uppercase()
        ));
    }
    // The Okta simulator answers users and lifecycle calls, not the System Log: without this,
    // `serve` would poll it and log a failure every few seconds.
    out.push_str("export WARDEN_OKTA_POLL=off\n");
    out.push_str(
        "# SIMULATOR credentials: the simulators accept these and nothing else; they are not \
         real keys.\n",
    );
    for (name, value) in sims.credentials() {
        out.push_str(&format!(
            "export WARDEN_CREDENTIAL_{}={value}\n",
            name.to_uppercase()
        ));
    }
    let vendors: Vec<&str> = Vendor::ALL.iter().map(|v| v.name()).collect();
    out.push_str(&format!(
        "# Stories' own secrets (webhook URL secrets) are yours to set, e.g.\n\
         # export WARDEN_CREDENTIAL_PHISHING_WEBHOOK=$(openssl rand -hex 24)\n\
         # The simulated Slack cannot click buttons by itself: answer prompts through their \
         links, or with `warden demo --story`.\n\
         # ({} simulated; `warden check` lists what each story still needs.)\n",
        vendors.join(", ")
    ));
    out
}
