//! Runs one test: the real engine ([`App::build`]) over a fresh SQLite file, a [`ManualClock`]
//! and the test's canned vendors; the run is started at the story's webhook and driven until it
//! ends. Retries, `Retry-After`, delays and prompt timeouts are reached by moving the clock to
//! the next step due, so a test takes milliseconds and runs the same every time.

use super::format::{StoryTest, TIMEOUT};
use super::vendors::{SentRequest, Vendors};
use crate::app::{App, Definitions, Settings};
use crate::clock::{Clock, ManualClock};
use crate::engine::entry::{webhook_run, Source};
use crate::run::{AnsweredVia, RunStatus, StepState};
use crate::secrets::Secrets;
use crate::store::{Answered, EventRecord, PromptAnswer, Prompts, RunFilter, Runs, StepRecord};
use crate::story::kinds::ActionConfig;
use crate::story::Story;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// How many times the clock may move before a run that never ends is given up.
const MAX_CLOCK_MOVES: usize = 1_000;

/// What happened in one test's run.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The run's status when it was left (`None`: it never started).
    pub status: Option<RunStatus>,
    /// Its steps.
    pub steps: Vec<StepRecord>,
    /// Its events, the webhook's included.
    pub events: Vec<EventRecord>,
    /// Every request the story sent, in order.
    pub requests: Vec<SentRequest>,
    /// Requests the test gave no answer for (each fails the test).
    pub unanswered: Vec<SentRequest>,
    /// Why the run could not be driven to its end (a prompt nobody answers, a run that never
    /// ends).
    pub stuck: Option<String>,
}

/// The credential value a test gives each credential: recognisable, and never a real secret.
pub fn fake_credential(name: &str) -> String {
    format!("warden-test-{name}")
}

/// Runs `test` of `story` (with `stories`, for `send_to_story`) in a database under `dir`.
pub async fn run(
    story: &Story,
    stories: &[Story],
    resources: &[(String, String)],
    test: &StoryTest,
    dir: &Path,
) -> Result<Outcome, String> {
    let clock = Arc::new(ManualClock::new(test.start));
    let prompts: Vec<(String, bool)> = stories
        .iter()
        .flat_map(|s| &s.actions)
        .filter_map(|a| match &a.config {
            ActionConfig::Prompt(options) => Some((a.id.clone(), options.slack.is_some())),
            _ => None,
        })
        .collect();
    let answers = (test.answers.iter()).map(|(key, list)| (key.value.clone(), list.clone()));
    let vendors = Arc::new(Vendors::new(answers, prompts.clone()));
    let database = dir.join(format!("{}.db", uuid::Uuid::now_v7().simple()));
    let settings = Settings {
        secrets: secrets(stories, resources),
        clock: clock.clone(),
        canned: Some(vendors.clone()),
        public_url: "https://warden.example".into(),
        ..Settings::new(
            format!("sqlite://{}", database.display()),
            Definitions::stories(stories.to_vec()),
        )
    };
    let app = App::build(settings).await.map_err(|e| e.to_string())?;
    let prompts: BTreeSet<&str> = prompts.iter().map(|(id, _)| id.as_str()).collect();
    let result = drive(&app, story, &prompts, test, &clock, &vendors).await;
    app.engine.store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
    }
    let mut outcome = result?;
    outcome.requests = vendors.sent();
    outcome.unanswered = vendors.unanswered();
    Ok(outcome)
}

/// Fake values for every credential the stories and their templates declare (and Slack's, for
/// prompts), the file's resources, and a placeholder for resources with no default.
fn secrets(stories: &[Story], resources: &[(String, String)]) -> Secrets {
    let mut credentials = BTreeSet::new();
    let mut needed = BTreeSet::new();
    for story in stories {
        credentials.extend(story.credentials.iter().cloned());
        needed.extend(story.resources.iter().cloned());
        for integration in story.integrations().values() {
            credentials.extend(integration.spec.credentials.keys().map(str::to_owned));
            for (name, spec) in integration.spec.resources.iter() {
                if spec.default.is_none() {
                    needed.insert(name.value.clone());
                }
            }
        }
        if story
            .actions
            .iter()
            .any(|a| matches!(&a.config, ActionConfig::Prompt(options) if options.slack.is_some()))
        {
            credentials.insert("slack".to_owned());
        }
    }
    let mut secrets = Secrets::default();
    for name in &credentials {
        secrets = secrets.with_credential(name, &fake_credential(name));
    }
    for name in &needed {
        if !resources.iter().any(|(k, _)| k == name) {
            let host = name.replace('_', "-");
            secrets = secrets.with_resource(name, &format!("https://{host}.invalid"));
        }
    }
    for (name, value) in resources {
        secrets = secrets.with_resource(name, value);
    }
    secrets
}

/// Starts the run and drives it until it ends: steps run while due; a waiting prompt (of
/// `prompts`, any story's) gets the test's answer; else the clock moves to the next step due.
async fn drive(
    app: &App,
    story: &Story,
    prompts: &BTreeSet<&str>,
    test: &StoryTest,
    clock: &ManualClock,
    vendors: &Vendors,
) -> Result<Outcome, String> {
    let engine = &app.engine;
    let store = &engine.store;
    let index = match &test.event.action {
        Some(name) => story.action_index(name),
        None => story
            .actions
            .iter()
            .position(|a| matches!(a.config, ActionConfig::Webhook(_))),
    }
    .ok_or("the story has no such webhook")?;
    let now = clock.now();
    let run = webhook_run(
        story,
        index,
        test.event.payload(),
        Source::Http,
        &engine.secrets,
        now,
    );
    let failed = |e: crate::store::Error| format!("the store failed: {e}");
    store
        .create_runs(std::slice::from_ref(&run), now)
        .await
        .map_err(failed)?;
    let runner = app.runner();
    let mut answered = BTreeSet::new();
    let mut stuck = None;
    let mut moves = 0;
    loop {
        runner.run_until_idle().await.map_err(failed)?;
        if !vendors.unanswered().is_empty() {
            break;
        }
        let open = open_steps(store).await.map_err(failed)?;
        if open.is_empty() {
            break;
        }
        // A prompt waiting for its answer gets it (after its delay), once.
        let mut woke = false;
        for step in &open {
            let is_prompt = prompts.contains(step.action_id.as_str());
            if step.state != StepState::Waiting || !is_prompt || answered.contains(&step.id) {
                continue;
            }
            answered.insert(step.id);
            let Some((_, answer)) = test.prompts.iter().find(|(a, _)| a.value == step.action_id)
            else {
                stuck = Some(format!(
                    "prompt `{}` waits for an answer: give one under `prompts:` (a choice, or `{TIMEOUT}`)",
                    step.action_id
                ));
                break;
            };
            if let Some(after) = &answer.after {
                clock.advance(after.value);
            }
            if answer.answer.value == TIMEOUT {
                continue;
            }
            let prompt = store.step_prompt(step.id).await.map_err(failed)?;
            let Some(prompt) = prompt else {
                return Err(format!("prompt `{}` opened no prompt", step.action_id));
            };
            let responder = answer.responder.as_deref().unwrap_or("warden-test");
            let answer = &answer.answer.value;
            let given = PromptAnswer {
                choice: answer,
                responder,
                via: AnsweredVia::Api,
                actor: "warden-test",
            };
            let result = store
                .answer_prompt(&prompt.id, &given, clock.now())
                .await
                .map_err(failed)?;
            woke |= matches!(result, Answered::Recorded(_));
        }
        if stuck.is_some() {
            break;
        }
        if woke {
            continue;
        }
        moves += 1;
        if moves > MAX_CLOCK_MOVES {
            stuck = Some(format!(
                "the run did not end after the clock moved {MAX_CLOCK_MOVES} times"
            ));
            break;
        }
        // Move the clock to the next step due (one may be due already: a prompt's answer came
        // after its timeout).
        let now = clock.now();
        let next = open.iter().map(|s| s.due_at).min().unwrap_or(now);
        if let Ok(wait @ 1..) = u64::try_from(next.saturating_sub(now)) {
            clock.advance(std::time::Duration::from_millis(wait));
        }
    }
    let id = run.id.as_str();
    let record = store.run(id).await.map_err(failed)?;
    Ok(Outcome {
        status: record.map(|r| r.status),
        steps: store.run_steps(id).await.map_err(failed)?,
        events: store.run_events(id).await.map_err(failed)?,
        stuck,
        ..Outcome::default()
    })
}

/// The open steps of every unfinished run (a `send_to_story` child included).
async fn open_steps(
    store: &crate::store::SqlStore,
) -> Result<Vec<StepRecord>, crate::store::Error> {
    let filter = RunFilter {
        limit: 500,
        ..RunFilter::default()
    };
    let mut open = Vec::new();
    for run in store.list_runs(&filter).await? {
        if run.status.is_finished() {
            continue;
        }
        let steps = store.run_steps(&run.id).await?;
        open.extend(steps.into_iter().filter(|s| {
            matches!(
                s.state,
                StepState::Pending | StepState::Running | StepState::Waiting
            )
        }));
    }
    Ok(open)
}
