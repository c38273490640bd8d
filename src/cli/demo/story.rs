//! `warden demo --story FILE --event FILE`: any story, played against the simulators. The event
//! is posted to the story's webhook as its sender would; the runner is driven until the run
//! ends; a prompt is answered on Slack by the simulated user; a delay, a retry's backoff, a rate
//! limit or a timeout further away than [`REAL_WAIT`] is skipped by moving Warden's clock ahead,
//! so the demo ends in seconds. A run that cannot go on says which step waits for what.

use super::stack::Stack;
use super::timeline::{millis, print_timeline};
use crate::clock::{Clock, SkippingClock};
use crate::story::{ActionConfig, Story};
use anyhow::{bail, Context as _};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// A wait this short is waited in real time (a vendor's `Retry-After: 1`); longer ones are
/// skipped.
const REAL_WAIT: Duration = Duration::from_secs(2);
/// How long, in real time, the demo drives a run before it gives up on it.
const PATIENCE: Duration = Duration::from_secs(30);
/// How far ahead the clock may be moved in all: past a week, a story is waiting for something
/// the demo cannot give it.
const MAX_SKIP: Duration = Duration::from_secs(7 * 86_400);

/// How a played run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The run's id.
    pub run_id: String,
    /// The run's detail (`GET /api/runs/{id}`) at the end.
    pub run: Value,
    /// Whether it succeeded.
    pub succeeded: bool,
}

/// Posts `event` (the webhook request's body, JSON) to the first webhook of `story`, drives the
/// run to its end, answering its prompts with `answer` (default: each prompt's first choice),
/// and prints its timeline. Fails, saying why, when the event is refused or the run cannot end.
pub async fn play(
    stack: &Stack,
    clock: &SkippingClock,
    story: &Story,
    event: &[u8],
    answer: Option<&str>,
) -> anyhow::Result<Outcome> {
    let Some(options) = story.entry_points().find_map(|(_, a)| match &a.config {
        ActionConfig::Webhook(options) => Some(options),
        _ => None,
    }) else {
        bail!("story `{}` has no webhook to post the event to", story.id);
    };
    if let Some(readiness) = stack
        .readiness
        .iter()
        .find(|r| r.story == story.id && !r.is_ready())
    {
        let missing: Vec<String> = readiness.missing.iter().map(|m| m.to_string()).collect();
        bail!(
            "story `{}` needs settings no simulator provides: {}",
            story.id,
            missing.join(", ")
        );
    }
    println!(
        "\n1. The event is posted to the story's webhook: POST /webhook/{}/<secret>",
        options.path.value
    );
    let (status, answer_body) = stack.post_webhook(options, event).await?;
    println!("   → {status} {answer_body}");
    if status != 202 {
        bail!("the webhook refused the event ({status}): {answer_body}");
    }
    let run_id = answer_body["run_id"]
        .as_str()
        .context("the webhook's answer names no run")?
        .to_owned();
    println!("\n2. Run {run_id}:");
    let started = Instant::now();
    let mut answered = BTreeSet::new();
    let mut shown = 0;
    let run = loop {
        stack.settle().await?;
        let run = stack.run(&run_id).await?;
        shown = show_finished(&run, shown);
        if run["finished_at"].is_string() {
            break run;
        }
        if started.elapsed() > PATIENCE {
            bail!(
                "gave up after {}s of real time: {}",
                PATIENCE.as_secs(),
                waiting(&run)
            );
        }
        if let Some((action, prompt_id)) = open_prompt(&run, &answered) {
            answer_prompt(stack, clock, story, &action, &prompt_id, answer).await?;
            answered.insert(prompt_id);
            continue;
        }
        let Some(due) = next_due(&run) else {
            bail!("the run cannot go on: {}", waiting(&run));
        };
        let wait = Duration::from_millis(due.saturating_sub(clock.now()).max(0).unsigned_abs());
        if wait <= REAL_WAIT {
            // A step in flight, or due in a moment: look again shortly.
            tokio::time::sleep(wait.max(Duration::from_millis(50))).await;
        } else if clock.ahead() + wait > MAX_SKIP {
            bail!(
                "the run waits past a week of skipped time: {}",
                waiting(&run)
            );
        } else {
            println!(
                "   {:>7}  (skipping {} ahead: {})",
                "",
                human(wait),
                waiting(&run)
            );
            clock.skip(wait);
        }
    };
    print_timeline(&run, shown);
    let status = run["status"].as_str().unwrap_or_default().to_owned();
    println!("\nRun {run_id} {status}.");
    Ok(Outcome {
        run_id,
        succeeded: status == "succeeded",
        run,
    })
}

/// Prints the steps finished since the first `shown` (those finished in order come first in
/// the run's detail); returns how many are shown now.
fn show_finished(run: &Value, shown: usize) -> usize {
    let steps = run["steps"].as_array().map_or(&[][..], Vec::as_slice);
    let finished = steps
        .iter()
        .take_while(|s| s["finished_at"].is_string())
        .count();
    if finished > shown {
        let mut partial = run.clone();
        if let Some(list) = partial["steps"].as_array_mut() {
            list.truncate(finished);
        }
        print_timeline(&partial, shown);
    }
    finished.max(shown)
}

/// The first step waiting for an answer to a prompt not answered yet: its action and the
/// prompt's id.
fn open_prompt(run: &Value, answered: &BTreeSet<String>) -> Option<(String, String)> {
    run["steps"].as_array()?.iter().find_map(|step| {
        let waiting = &step["waiting_for"];
        if step["state"] != "waiting" || waiting["kind"] != "prompt" {
            return None;
        }
        let reason = waiting["reason"].as_str()?;
        let prompt_id = reason.split('`').nth(1)?.to_owned();
        (!answered.contains(&prompt_id)).then(|| {
            (
                step["action"].as_str().unwrap_or_default().to_owned(),
                prompt_id,
            )
        })
    })
}

/// Answers prompt `prompt_id` of `action` with `answer` (default: its first choice): by a click
/// on its Slack message, else through the link for that choice.
async fn answer_prompt(
    stack: &Stack,
    clock: &SkippingClock,
    story: &Story,
    action: &str,
    prompt_id: &str,
    answer: Option<&str>,
) -> anyhow::Result<()> {
    let choices: Vec<(String, String)> = story
        .actions
        .iter()
        .find(|a| a.id == action)
        .and_then(|a| match &a.config {
            ActionConfig::Prompt(p) => Some(
                p.choices
                    .value
                    .iter()
                    .map(|c| (c.value.value.clone(), c.label.value.clone()))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default();
    let (choice, label) = match answer {
        Some(answer) => choices
            .iter()
            .find(|(value, _)| value == answer)
            .cloned()
            .with_context(|| {
                let values: Vec<&str> = choices.iter().map(|(v, _)| v.as_str()).collect();
                format!(
                    "prompt `{action}` offers no `{answer}` (its choices: {}); pass one with --answer",
                    values.join(", ")
                )
            })?,
        None => choices
            .first()
            .cloned()
            .with_context(|| format!("prompt `{action}` has no choices"))?,
    };
    let status = if let Some(message) = stack.prompt_message(prompt_id) {
        let to = message.dm_user.as_deref().unwrap_or(&message.channel);
        println!(
            "   {:>7}  Slack ({to}): \"{}\"",
            "",
            message.text.trim().replace('\n', " ")
        );
        let status = stack
            .answer_on_slack(prompt_id, &choice, clock.now().div_euclid(1000))
            .await?;
        println!(
            "   {:>7}  The simulated user clicks `{choice}` → {status}",
            ""
        );
        status
    } else {
        let Some(status) = stack.answer_by_link(&label).await? else {
            bail!(
                "step `{action}` waits for an answer to prompt `{prompt_id}`, which was neither \
                 asked on Slack nor sent as links to a simulator: the demo cannot answer it"
            );
        };
        println!(
            "   {:>7}  The simulated user opens the prompt's link for `{choice}` and sends it → {status}",
            ""
        );
        status
    };
    if status != 200 {
        bail!("Warden refused the answer to prompt `{action}` ({status})");
    }
    Ok(())
}

/// The earliest time a pending or waiting step is due, in milliseconds.
fn next_due(run: &Value) -> Option<i64> {
    run["steps"]
        .as_array()?
        .iter()
        .filter(|s| ["pending", "waiting", "running"].contains(&s["state"].as_str().unwrap_or("")))
        .map(|s| {
            if s["due_at"].is_string() {
                millis(&s["due_at"])
            } else {
                0
            }
        })
        .min()
}

/// Which steps wait, and for what: "step `x` waits for an answer to prompt `…` (until …)".
fn waiting(run: &Value) -> String {
    let open: Vec<String> = run["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["finished_at"].is_null())
        .map(|s| {
            let action = s["action"].as_str().unwrap_or_default();
            let state = s["state"].as_str().unwrap_or_default();
            match s["waiting_for"]["reason"].as_str() {
                Some(reason) => {
                    let until = s["waiting_for"]["until"].as_str().unwrap_or("no time set");
                    format!("step `{action}` waits for {reason} (until {until})")
                }
                None => format!("step `{action}` is {state}"),
            }
        })
        .collect();
    if open.is_empty() {
        "no step is open".into()
    } else {
        open.join("; ")
    }
}

/// `1h 30m`, `10m`, `45s`.
fn human(wait: Duration) -> String {
    let secs = u64::try_from(wait.as_millis().div_ceil(1000)).unwrap_or(u64::MAX);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn waits_read_as_hours_minutes_and_seconds() {
        assert_eq!(human(Duration::from_secs(45)), "45s");
        assert_eq!(human(Duration::from_secs(600)), "10m");
        assert_eq!(human(Duration::from_secs(61)), "1m 1s");
        assert_eq!(human(Duration::from_secs(4 * 3600)), "4h");
    }

    #[test]
    fn a_waiting_prompt_is_found_by_its_reason_once() {
        let run = json!({"steps": [
            {"action": "lookup", "state": "succeeded", "finished_at": "2026-01-01T00:00:00Z"},
            {"action": "ask", "state": "waiting", "due_at": "2026-01-01T04:00:00Z",
             "waiting_for": {"kind": "prompt", "reason": "an answer to prompt `p1`",
                             "until": "2026-01-01T04:00:00Z"}},
        ]});
        let found = open_prompt(&run, &BTreeSet::new());
        assert_eq!(found, Some(("ask".into(), "p1".into())));
        assert_eq!(open_prompt(&run, &BTreeSet::from(["p1".into()])), None);
        assert_eq!(
            waiting(&run),
            "step `ask` waits for an answer to prompt `p1` (until 2026-01-01T04:00:00Z)"
        );
        assert_eq!(next_due(&run), Some(millis(&json!("2026-01-01T04:00:00Z"))));
    }
}
