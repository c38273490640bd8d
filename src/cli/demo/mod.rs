//! `warden demo`: the seed scenario end to end, in seconds, on a temporary SQLite database with
//! local simulators of the five vendors. The seed Okta event is ingested, the admin-grant rule
//! fires, its alert starts the seed story, the simulated user answers the Slack prompt, and the
//! run's timeline is printed, ending with the TheHive case and the Okta user's state.

pub mod stack;

use crate::clock::SystemClock;
use anyhow::{bail, Context as _};
use serde_json::Value;
use stack::{Stack, StackOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use warden_sim::{Scenario, Vendor, SEED_OKTA_EVENT};

/// How long the demo waits for the run to reach the prompt, and then to finish.
const PATIENCE: Duration = Duration::from_secs(30);

/// Options of `warden demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The simulated user's answer: `denied` ("I don't recognize this") or `confirmed` ("Yes,
    /// this was me").
    #[arg(long, default_value = "denied", value_parser = ["denied", "confirmed"])]
    answer: String,
    /// The directory holding `stories/`, `templates/`, `rules/` and `destinations.yml`.
    #[arg(long, default_value = ".")]
    root: PathBuf,
}

/// Runs the demo; exit 0 when the run ends as the answer says it should.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
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
    let result = runtime.block_on(demo(&args, database_url));
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn demo(args: &Args, database_url: String) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let stack = Stack::start(StackOptions {
        database_url,
        clock: Arc::new(SystemClock),
        scenario: Scenario::seed(),
        root: args.root.clone(),
        credentials: Vec::new(),
    })
    .await?;
    println!("Warden demo: the seed story end to end, on a temporary SQLite database.");
    println!("SIMULATED vendors (local stand-ins, nothing leaves this machine):");
    for vendor in Vendor::ALL {
        println!("  {:<10} {}", vendor.name(), stack.sims.base_url(vendor));
    }
    let outcome = play(&stack, &args.answer).await;
    stack.stop().await;
    let succeeded = outcome?;
    println!("\nDone in {:.1}s.", started.elapsed().as_secs_f64());
    Ok(if succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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

/// One line per step after the first `skip`: when it finished after the run started, its action,
/// state and what it produced.
fn print_timeline(run: &Value, skip: usize) {
    let started = millis(&run["created_at"]);
    let events = run["events"].as_array().cloned().unwrap_or_default();
    for step in run["steps"].as_array().into_iter().flatten().skip(skip) {
        let at = step["finished_at"].as_str().map_or(String::new(), |_| {
            format!(
                "+{:.2}s",
                (millis(&step["finished_at"]) - started) as f64 / 1000.0
            )
        });
        let produced = events.iter().find(|e| e["step_id"] == step["id"]);
        let mut line = format!(
            "   {at:>7}  {:<20} {:<9}",
            step["action"].as_str().unwrap_or_default(),
            step["state"].as_str().unwrap_or_default(),
        );
        if let Some(event) = produced {
            line.push(' ');
            line.push_str(&summary(step["action"].as_str().unwrap_or_default(), event));
        }
        if step["attempt"].as_i64().unwrap_or(1) > 1 {
            let first = step["error"]["message"]
                .as_str()
                .unwrap_or("a retriable failure");
            line.push_str(&format!(" (attempt {}; before: {first})", step["attempt"]));
        }
        println!("{}", line.trim_end());
    }
}

/// What a seed-story step's event says, in a few words.
fn summary(action: &str, event: &Value) -> String {
    let p = &event["payload"];
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    if event["link"] == "no_match" {
        return "no match".into();
    }
    match action {
        "receive_alert" => format!("Panther alert: {}", text(&p["body"]["title"])),
        "vt_lookup" => format!(
            "VirusTotal: {} engines say malicious",
            text(&p["body"]["data"]["attributes"]["last_analysis_stats"]["malicious"])
        ),
        "gn_lookup" => format!(
            "GreyNoise: {}",
            p["body"]["classification"]
                .as_str()
                .unwrap_or("not observed")
        ),
        "ask_user" => format!("answer: {}", text(&p["prompt"]["status"])),
        "open_case" => format!(
            "TheHive case #{} ({})",
            text(&p["body"]["number"]),
            text(&p["body"]["_id"])
        ),
        "add_ip_observable" => format!("observable added: {}", text(&p["body"][0]["data"])),
        "lock_user" => format!(
            "Okta {}: {} → {}, sessions and OAuth tokens cleared",
            text(&p["body"]["login"]),
            text(&p["body"]["status_before"]),
            text(&p["body"]["status"])
        ),
        "record_confirmation" => format!("recorded: {}", text(&p["outcome"])),
        "has_client_ip" | "ip_is_malicious" | "user_denied" => "matched".into(),
        _ if p["status"].is_number() => format!("HTTP {}", p["status"]),
        _ => String::new(),
    }
}

fn millis(rfc3339: &Value) -> i64 {
    rfc3339
        .as_str()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .map_or(0, |t| t.as_millisecond())
}
