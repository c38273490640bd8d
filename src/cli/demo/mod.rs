//! `warden demo`: the seed scenario end to end, in seconds, on a temporary SQLite database with
//! local simulators of the five vendors. The seed Okta event is ingested, the admin-grant rule
//! fires, its alert starts the seed story, the simulated user answers the Slack prompt, and the
//! run's timeline is printed, ending with the TheHive case and the Okta user's state.
//!
//! `--story FILE --event FILE` plays any story instead (`story`); `warden sim` starts the
//! simulators alone (`sim`). With `--keep`, Warden goes on serving after the scenario until
//! Ctrl-C, and the console's sign-in address and the demo's random API token are printed.

pub mod sim;
pub mod stack;
pub mod story;
mod timeline;

use crate::clock::{SkippingClock, SystemClock};
use anyhow::{bail, Context as _};
use serde_json::Value;
use stack::{Stack, StackOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use timeline::print_timeline;
use warden_sim::{Scenario, Vendor, SEED_OKTA_EVENT};

/// How long the demo waits for the run to reach the prompt, and then to finish.
const PATIENCE: Duration = Duration::from_secs(30);

/// Options of `warden demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The simulated user's answer to a prompt. The seed scenario: `denied` ("I don't recognize
    /// this", the default) or `confirmed` ("Yes, this was me"). With `--story`: one of the
    /// prompt's choices (default: its first).
    #[arg(long)]
    answer: Option<String>,
    /// The directory holding `stories/`, `templates/`, `rules/` and `destinations.yml`.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Play this story instead of the seed scenario (with `--event`). The other stories of
    /// `ROOT/stories/` are loaded beside it; one with the same file name is replaced by it.
    #[arg(long, requires = "event")]
    story: Option<PathBuf>,
    /// The event to post to the story's webhook: a JSON file, sent as the request's body
    /// (what the sender would POST), with the webhook's secret, header and signature.
    #[arg(long, requires = "story")]
    event: Option<PathBuf>,
    /// After the scenario, keep Warden serving (console, API, runner) until Ctrl-C, and print
    /// the console's address with this demo's API token (random, made for this run) to sign in.
    #[arg(long)]
    keep: bool,
}

/// Runs the demo; exit 0 when the run ends as the answer says it should.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let answer = match (&args.story, args.answer.as_deref()) {
        (Some(_), _) => args.answer.clone(),
        (None, None) => Some("denied".to_owned()),
        (None, Some(answer @ ("denied" | "confirmed"))) => Some(answer.to_owned()),
        (None, Some(other)) => {
            bail!("--answer for the seed scenario is `denied` or `confirmed`, not `{other}`")
        }
    };
    if !args.root.join("stories").is_dir() {
        bail!(
            "{} has no stories/ directory: run the demo from Warden's source directory, or pass --root DIR",
            args.root.display()
        );
    }
    let scratch = std::env::temp_dir().join(format!("warden-demo-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("Failed to create {}", scratch.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Failed to start the async runtime")?;
    let database_url = format!("sqlite://{}", scratch.join("warden.db").display());
    let result = match (&args.story, &args.event) {
        (Some(story), Some(event)) => runtime.block_on(demo_story(
            &args.root,
            story,
            event,
            answer.as_deref(),
            database_url,
            args.keep,
        )),
        _ => runtime.block_on(demo(
            &args,
            answer.as_deref().unwrap_or("denied"),
            database_url,
        )),
    };
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn demo(args: &Args, answer: &str, database_url: String) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let stack = Stack::start(StackOptions {
        database_url,
        clock: Arc::new(SystemClock),
        scenario: Scenario::seed(),
        root: args.root.clone(),
        credentials: Vec::new(),
        story: None,
    })
    .await?;
    if stack.engine.stories.current(stack::SEED_STORY).is_none() {
        stack.stop().await;
        bail!(
            "{} has no stories/{}.yml: the seed scenario plays that story; play another with \
             --story FILE --event FILE",
            args.root.display(),
            stack::SEED_STORY
        );
    }
    println!("Warden demo: the seed story end to end, on a temporary SQLite database.");
    println!("SIMULATED vendors (local stand-ins, nothing leaves this machine):");
    for vendor in Vendor::ALL {
        println!("  {:<10} {}", vendor.name(), stack.sims.base_url(vendor));
    }
    let outcome = play(&stack, answer).await;
    if outcome.is_ok() {
        println!("\nDone in {:.1}s.", started.elapsed().as_secs_f64());
    }
    if args.keep {
        let runs = stack.seed_runs().await.unwrap_or_default();
        let page = runs
            .first()
            .and_then(|run| run["id"].as_str())
            .map_or_else(|| "/runs".to_owned(), |id| format!("/runs/{id}"));
        keep_serving(&stack, &page).await;
    }
    stack.stop().await;
    let succeeded = outcome?;
    Ok(if succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--story FILE --event FILE`: the story played against the simulators; exit 0 when its run
/// succeeds, 1 when it fails.
async fn demo_story(
    root: &Path,
    story_file: &Path,
    event_file: &Path,
    answer: Option<&str>,
    database_url: String,
    keep: bool,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let event = std::fs::read(event_file)
        .with_context(|| format!("Failed to read {}", event_file.display()))?;
    serde_json::from_slice::<Value>(&event)
        .with_context(|| format!("{} is not JSON", event_file.display()))?;
    let id = crate::story::load::story_id(story_file);
    let clock = Arc::new(SkippingClock::default());
    let stack = Stack::start(StackOptions {
        database_url,
        clock: clock.clone(),
        scenario: Scenario::seed(),
        root: root.to_owned(),
        credentials: Vec::new(),
        story: Some(story_file.to_owned()),
    })
    .await?;
    println!(
        "Warden demo: story `{id}` ({}) with the event {}, on a temporary SQLite database.",
        story_file.display(),
        event_file.display()
    );
    println!("SIMULATED vendors (local stand-ins, nothing leaves this machine):");
    for vendor in Vendor::ALL {
        println!("  {:<10} {}", vendor.name(), stack.sims.base_url(vendor));
    }
    let outcome = match stack.engine.stories.current(&id) {
        Some(story) => story::play(&stack, &clock, &story, &event, answer).await,
        None => Err(anyhow::anyhow!("story `{id}` was not loaded")),
    };
    if outcome.is_ok() {
        print_vendor_effects(&stack);
        println!("\nDone in {:.1}s.", started.elapsed().as_secs_f64());
    }
    if keep {
        let page = outcome
            .as_ref()
            .map_or_else(|_| "/runs".to_owned(), |o| format!("/runs/{}", o.run_id));
        keep_serving(&stack, &page).await;
    }
    stack.stop().await;
    let outcome = outcome?;
    if outcome.succeeded {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "error: run {} ended {}: {}",
        outcome.run_id,
        outcome.run["status"].as_str().unwrap_or_default(),
        failures(&outcome.run)
    );
    Ok(ExitCode::FAILURE)
}

/// `--keep`: Warden goes on serving until SIGINT or SIGTERM, its runner and alert delivery
/// driven every half second so what is done in the console (retry, re-run) runs. The console is
/// signed in to with the stack's API token, random for this run: it is printed here, once, for
/// the person who started the demo, and dies with the process.
async fn keep_serving(stack: &Stack, page: &str) {
    let sign_in: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", page)
        .finish();
    println!("\nWarden keeps serving until Ctrl-C. Open the console and sign in with this demo's API token:");
    println!("  Console:   {}/signin?{sign_in}", stack.address);
    println!("  API token: {}", stack.api_token().expose());
    println!("  (random, made for this demo only; the API takes it as `Authorization: Bearer …`)");
    let stopped = crate::cli::serve::shutdown_signal();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => break,
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                if let Err(error) = stack.settle().await {
                    eprintln!("warning: {error:#}");
                }
            }
        }
    }
    println!("Stopped serving.");
}

/// What the simulated vendors were left with: Slack messages posted, TheHive cases opened.
fn print_vendor_effects(stack: &Stack) {
    for message in stack.sims.slack_messages() {
        let to = message.dm_user.as_deref().unwrap_or(&message.channel);
        println!(
            "Slack (simulated): message in {to}: \"{}\"",
            message.text.trim().replace('\n', " ")
        );
    }
    for case in stack.sims.thehive_cases() {
        println!(
            "TheHive (simulated): case #{} {} \"{}\" (severity {})",
            case.number, case.id, case.title, case.severity
        );
    }
}

/// The failed steps and their errors, on one line.
fn failures(run: &Value) -> String {
    let failed: Vec<String> = run["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["state"] == "failed")
        .map(|s| {
            format!(
                "step `{}` failed: {}",
                s["action"].as_str().unwrap_or_default(),
                s["error"]["message"].as_str().unwrap_or("no message")
            )
        })
        .collect();
    if failed.is_empty() {
        "no step failed".into()
    } else {
        failed.join("; ")
    }
}

/// The scenario; whether the run ended as `answer` says it should.
async fn play(stack: &Stack, answer: &str) -> anyhow::Result<bool> {
    let event: Value = serde_json::from_str(SEED_OKTA_EVENT)?;
    println!(
        "\n1. A log shipper posts the seed Okta event ({}, {} granted to {}) to /ingest/Okta.SystemLog",
        event["eventType"].as_str().unwrap_or_default(),
        event["debugContext"]["debugData"]["privilegeGranted"]
            .as_str()
            .unwrap_or_default(),
        event["target"][0]["alternateId"]
            .as_str()
            .unwrap_or_default(),
    );
    let report = stack.ingest("Okta.SystemLog", SEED_OKTA_EVENT).await?;
    println!(
        "   accepted {}, rule matches {}, new alerts {}",
        report["accepted"],
        report["matches"],
        report["alerts"].as_array().map_or(0, Vec::len)
    );
    let alerts = stack.api("/api/alerts").await?;
    let Some(alert) = alerts["alerts"].as_array().and_then(|a| a.first()).cloned() else {
        bail!("the seed event raised no alert");
    };
    println!(
        "   alert {} ({}, {}): {}",
        alert["id"].as_str().unwrap_or_default(),
        alert["rule_id"].as_str().unwrap_or_default(),
        alert["severity"].as_str().unwrap_or_default(),
        alert["title"].as_str().unwrap_or_default(),
    );
    println!("\n2. The alert is delivered to the seed story's webhook; the run starts.");
    let run_id = until(stack, "the run to ask on Slack", || async move {
        let runs = stack.seed_runs().await?;
        let Some(run) = runs.first() else {
            return Ok(None);
        };
        let settled = stack.open_prompt().is_some() || run["finished_at"].is_string();
        Ok(settled.then(|| run["id"].as_str().unwrap_or_default().to_owned()))
    })
    .await?;
    let asked = stack.run(&run_id).await?;
    print_timeline(&asked, 0);
    let Some(message) = stack.open_prompt() else {
        println!("\nThe run finished without asking anyone.");
        return Ok(false);
    };
    println!(
        "\n3. Slack DM to {} ({}): \"{}\"",
        message.dm_user.as_deref().unwrap_or(&message.channel),
        event["target"][0]["alternateId"]
            .as_str()
            .unwrap_or_default(),
        message.text.trim()
    );
    println!("   The simulated user clicks `{answer}`.");
    let status = stack.click(answer).await?;
    println!("   POST /slack/interactions (signed) → {status}");
    if stack.await_slack_responses(1, Duration::from_secs(5)).await {
        let replaced = stack.sims.slack_responses();
        let text = replaced.last().map(|r| r.body["text"].to_string());
        println!("   The message is replaced: {}", text.unwrap_or_default());
    }
    println!("\n4. The run resumes.");
    let run = until(stack, "the run to finish", || async {
        let run = stack.run(&run_id).await?;
        Ok(run["finished_at"].is_string().then_some(run))
    })
    .await?;
    // Steps finished before the question are shown already.
    let shown = asked["steps"].as_array().map_or(0, |steps| {
        steps
            .iter()
            .filter(|s| s["finished_at"].is_string())
            .count()
    });
    print_timeline(&run, shown);
    println!(
        "\nRun {} {}.",
        run_id,
        run["status"].as_str().unwrap_or_default()
    );
    let cases = stack.sims.thehive_cases();
    for case in &cases {
        println!(
            "TheHive (simulated): case #{} {} \"{}\", observables: {}",
            case.number,
            case.id,
            case.title,
            case.observables
                .iter()
                .map(|o| format!("{} {}", o["dataType"], o["data"]))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let target = event["target"][0]["id"].as_str().unwrap_or_default();
    let user = stack.sims.okta_user(target);
    if let Some(user) = &user {
        println!(
            "Okta (simulated): {} is {}; sessions cleared {} time(s), OAuth tokens revoked {} time(s).",
            user.login,
            user.status.as_str(),
            user.sessions_cleared,
            user.oauth_tokens_revoked
        );
    }
    let locked =
        user.is_some_and(|u| u.status.as_str() == "SUSPENDED" && u.oauth_tokens_revoked > 0);
    let expected = match answer {
        "denied" => cases.len() == 1 && locked,
        _ => cases.is_empty() && !locked,
    };
    Ok(run["status"] == "succeeded" && expected)
}

/// Drives the stack until `check` gives a value, for at most [`PATIENCE`].
async fn until<T, F, Fut>(stack: &Stack, what: &str, check: F) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        stack.settle().await?;
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!("gave up waiting for {what} after {}s", PATIENCE.as_secs());
        }
        // A step may be due later (a vendor's Retry-After): look again shortly.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
