//! `warden demo --story`'s driver on stories of its own: a prompt answered through its link,
//! a delay skipped on the clock, and a run that cannot end named step by step.

use super::harness::{calm, root};
use super::support::TestDb;
use std::sync::Arc;
use warden::cli::demo::stack::{Stack, StackOptions};
use warden::cli::demo::story::{play, Outcome};
use warden::clock::SkippingClock;

/// A prompt whose `request:` posts its links to the simulated Slack, behind a 10-minute delay.
const LINKED: &str = r#"
name: Linked
credentials: { hook: webhook secret, slack: Slack bot token }
resources: { slack_url: Slack API base URL }
actions:
  hook:
    type: webhook
    options: { path: linked, secret_credential: hook }
  hold:
    type: transform
    from: hook
    options: { mode: delay, duration: 10m }
  ask:
    type: prompt
    from: hold
    options:
      request:
        method: POST
        url: "{{ resources.slack_url }}/chat.postMessage"
        bearer_token: "{{ credentials.slack }}"
        body: { channel: C0123SOC, text: "Block? {{ prompt_url('block') }} {{ prompt_url('allow') }}" }
      choices: [ { value: block, label: Block it }, { value: allow, label: Let it be } ]
      timeout: 1h
"#;

async fn play_file(
    yaml: &str,
    answer: Option<&str>,
) -> (Stack, Arc<SkippingClock>, anyhow::Result<Outcome>) {
    let dir = std::env::temp_dir().join(format!(
        "warden-demo-story-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("linked.yml");
    std::fs::write(&file, yaml).unwrap();
    let clock = Arc::new(SkippingClock::default());
    let stack = Stack::start(StackOptions {
        database_url: TestDb::sqlite().url,
        clock: clock.clone(),
        scenario: calm(),
        root: root(),
        credentials: Vec::new(),
        story: Some(file),
    })
    .await
    .expect("start the stack");
    let _ = std::fs::remove_dir_all(&dir);
    let story = stack.engine.stories.current("linked").unwrap();
    let outcome = play(&stack, &clock, &story, br#"{"x": 1}"#, answer).await;
    (stack, clock, outcome)
}

#[tokio::test]
async fn a_prompt_sent_as_links_is_answered_through_the_link_after_a_skipped_delay() {
    let (stack, clock, outcome) = play_file(LINKED, Some("allow")).await;
    let outcome = outcome.unwrap();
    assert!(outcome.succeeded, "{:#}", outcome.run);
    let answer = outcome.run["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "ask")
        .unwrap();
    assert_eq!(answer["payload"]["prompt"]["status"], "allow", "{answer:#}");
    assert!(clock.ahead().as_secs() >= 590, "{:?}", clock.ahead());
    stack.stop().await;
}

#[tokio::test]
async fn an_answer_the_prompt_does_not_offer_is_refused_by_name() {
    let (stack, _, outcome) = play_file(LINKED, Some("maybe")).await;
    let error = format!("{:#}", outcome.unwrap_err());
    assert!(error.contains("offers no `maybe`"), "{error}");
    assert!(error.contains("block, allow"), "{error}");
    stack.stop().await;
}

#[tokio::test]
async fn a_run_that_cannot_end_says_which_step_waits_for_what() {
    let held = LINKED.replace("duration: 10m", "duration: 8d");
    let (stack, _, outcome) = play_file(&held, None).await;
    let error = format!("{:#}", outcome.unwrap_err());
    assert!(
        error.contains("step `hold` waits for the end of its delay"),
        "{error}"
    );
    stack.stop().await;

    // Links that reach no simulator cannot be followed.
    let unseen = LINKED.replace("channel: C0123SOC", "channel: CNOWHERE");
    let (stack, _, outcome) = play_file(&unseen, None).await;
    let error = format!("{:#}", outcome.unwrap_err());
    assert!(
        error.contains("step `ask` waits for an answer to prompt"),
        "{error}"
    );
    stack.stop().await;
}
