//! What people do to runs — retry a failed step, cancel, re-run, answer a prompt — as engine
//! functions the API, the console, Slack's interactions and prompt links all call, so every door
//! applies the same rules and writes the same history. Each takes the `actor` the run's history
//! names (the caller decides who that is: an API user, `dev`, a Slack user).

use super::Engine;
use crate::actions::slack::{Posted, Slack};
use crate::escape::Escaped;
use crate::run::{new_run_id, AnsweredVia, PromptState, RunStatus, StepState};
use crate::store::{
    self, Answered, Cancellation, Cancelled, NewRun, Operations, PromptAnswer, PromptRecord,
    Prompts, Retried, RunRecord, Runs, StepRecord,
};
use crate::story::kinds::LinkKind;
use std::sync::Arc;

/// Why an operation was refused; each variant is one answer the API gives.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such run, step or prompt (what, in words).
    #[error("{0}")]
    NotFound(String),
    /// Only a failed step can be retried.
    #[error("step {step} is {state}, not failed: only a failed step can be retried", state = .state.as_str())]
    StepNotFailed {
        /// The step.
        step: i64,
        /// Its state.
        state: StepState,
    },
    /// The run was cancelled: its steps stay as they are.
    #[error("run `{0}` was cancelled")]
    RunCancelled(String),
    /// The step was retried before.
    #[error("step {step} was already retried as step {retry}")]
    AlreadyRetried {
        /// The failed step.
        step: i64,
        /// Its retry.
        retry: i64,
    },
    /// The run had already ended.
    #[error("run `{run}` already ended ({status})", status = .status.as_str())]
    RunFinished {
        /// The run.
        run: String,
        /// How it ended.
        status: RunStatus,
    },
    /// The story (or its entry action) a re-run needs is not there, or cannot start runs.
    #[error("{0}")]
    StoryUnavailable(String),
    /// The answer is not one of the prompt's choices.
    #[error("`{choice}` is not one of the prompt's answers ({})", .choices.join(", "))]
    InvalidChoice {
        /// What was given.
        choice: String,
        /// What the prompt offers.
        choices: Vec<String>,
    },
    /// The prompt was answered, expired or cancelled before.
    #[error("{}", closed_message(.0))]
    PromptClosed(Box<PromptRecord>),
    /// This responder may not answer this prompt.
    #[error("{0}")]
    Forbidden(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Runs `operation` again (up to 5 times, after a short pause) while it fails with a conflict the
/// database resolved by aborting it (a Postgres deadlock with a commit of the runner's).
async fn transient_retried<T, F, Fut>(operation: F) -> store::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = store::Result<T>>,
{
    let mut outcome = operation().await;
    for _ in 0..5 {
        match &outcome {
            Err(error) if error.is_transient() => {
                tracing::warn!(error = %Escaped(error), "Conflicted with another transaction; retrying.");
                tokio::time::sleep(std::time::Duration::from_millis(5 + fastrand::u64(0..20)))
                    .await;
                outcome = operation().await;
            }
            _ => break,
        }
    }
    outcome
}

/// Why a closed prompt takes no answer.
pub fn closed_message(prompt: &PromptRecord) -> String {
    match (prompt.state, &prompt.answer) {
        (PromptState::Answered, Some(answer)) => {
            format!("this prompt was already answered: {answer}")
        }
        (PromptState::Cancelled, _) => "this prompt was closed: its run was cancelled".to_owned(),
        _ => "this prompt has closed without an answer".to_owned(),
    }
}

/// Retries failed step `step` of run `run_id`: a new pending step runs its action again on the
/// same input event (the failed step stays, as history), and the run resumes from there.
pub async fn retry_step(
    engine: &Engine,
    run_id: &str,
    step: i64,
    actor: &str,
) -> Result<StepRecord, Error> {
    let retried = transient_retried(|| {
        engine
            .store
            .retry_step(run_id, step, actor, engine.clock.now())
    })
    .await?;
    match retried {
        Retried::New(record) => {
            engine.wake.notify_one();
            tracing::info!(run_id = %Escaped(run_id), step_id = step, new_step_id = record.id, actor = %Escaped(actor), "Failed step retried.");
            Ok(*record)
        }
        Retried::NotFound => Err(Error::NotFound(format!(
            "run `{run_id}` has no step {step}"
        ))),
        Retried::NotFailed(state) => Err(Error::StepNotFailed { step, state }),
        Retried::RunCancelled => Err(Error::RunCancelled(run_id.to_owned())),
        Retried::AlreadyRetried(retry) => Err(Error::AlreadyRetried { step, retry }),
    }
}

/// Cancels run `run_id` and the child runs it started: pending and waiting steps are cancelled,
/// open prompts closed (their Slack questions replaced), and a step executing now finishes
/// without starting any step.
pub async fn cancel_run(
    engine: &Arc<Engine>,
    run_id: &str,
    actor: &str,
) -> Result<Cancellation, Error> {
    let cancelled =
        transient_retried(|| engine.store.cancel_run(run_id, actor, engine.clock.now())).await?;
    let done = match cancelled {
        Cancelled::Done(done) => done,
        Cancelled::NotFound => return Err(Error::NotFound(format!("no run `{run_id}`"))),
        Cancelled::Finished(status) => {
            return Err(Error::RunFinished {
                run: run_id.to_owned(),
                status,
            })
        }
    };
    // A woken `send_to_story` parent, if the run was a child.
    engine.wake.notify_one();
    tracing::info!(run_id = %Escaped(run_id), steps = done.steps, child_runs = done.child_runs.len(), actor = %Escaped(actor), "Run cancelled.");
    for prompt in &done.prompts {
        replace_on_slack(
            engine,
            prompt,
            "Cancelled: this question no longer needs an answer.".to_owned(),
        );
    }
    Ok(done)
}

/// Which version of the story a re-run runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RerunVersion {
    /// The version the run was pinned to.
    #[default]
    Pinned,
    /// The story as it is loaded now.
    Current,
}

impl RerunVersion {
    /// `pinned` or `current`.
    pub fn as_str(self) -> &'static str {
        match self {
            RerunVersion::Pinned => "pinned",
            RerunVersion::Current => "current",
        }
    }
}

/// Starts a new run of run `run_id`'s story from the same entry event, on `version`; the new
/// run records what it re-runs. The entry event is used as stored (already scrubbed), and the
/// re-run carries no dedupe key: asking for it is the point.
pub async fn rerun(
    engine: &Engine,
    run_id: &str,
    version: RerunVersion,
    actor: &str,
) -> Result<RunRecord, Error> {
    let store = &engine.store;
    let run = store
        .run(run_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no run `{run_id}`")))?;
    let entry = store.entry_event(run_id).await?.ok_or_else(|| {
        Error::StoryUnavailable(format!("run `{run_id}` has no entry event to start from"))
    })?;
    let story = match version {
        RerunVersion::Pinned => engine
            .stories
            .pinned(store, &run.story_id, &run.story_version)
            .await
            .map_err(|error| match error {
                super::stories::Unavailable::Store(error) => Error::Store(error),
                super::stories::Unavailable::Gone(why) => Error::StoryUnavailable(why),
            })?,
        RerunVersion::Current => engine.stories.current(&run.story_id).ok_or_else(|| {
            Error::StoryUnavailable(format!("story `{}` is not loaded", run.story_id))
        })?,
    };
    if let Some(missing) = engine.not_ready(&story.id) {
        return Err(Error::StoryUnavailable(format!(
            "story `{}` cannot start runs: {missing}",
            story.id
        )));
    }
    let index = story.action_index(&entry.action_id).ok_or_else(|| {
        Error::StoryUnavailable(format!(
            "story `{}` version {} has no action `{}` to start from",
            story.id, story.version, entry.action_id
        ))
    })?;
    let new = NewRun {
        id: new_run_id(),
        story_id: story.id.clone(),
        story_version: story.version.clone(),
        entry_action: entry.action_id.clone(),
        payload: entry.payload,
        receivers: story.receiver_ids(index, LinkKind::Default),
        dedupe: None,
        parent_step_id: None,
    };
    let now = engine.clock.now();
    let record = store
        .start_rerun(&new, run_id, version.as_str(), actor, now)
        .await?;
    engine.wake.notify_one();
    tracing::info!(run_id = %Escaped(run_id), new_run_id = %record.id, version = version.as_str(), actor = %Escaped(actor), "Run re-run.");
    Ok(record)
}

/// An answer to a prompt, from any door.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The prompt.
    pub prompt_id: &'a str,
    /// The chosen value.
    pub choice: &'a str,
    /// Who answered, as the answer event names them (a Slack user id, `prompt_url`, a name).
    pub responder: &'a str,
    /// How the answer came in.
    pub via: AnsweredVia,
    /// Who the run's history names.
    pub actor: &'a str,
}

/// A recorded answer.
#[derive(Debug, Clone)]
pub struct AnswerRecorded {
    /// The prompt, answered.
    pub prompt: PromptRecord,
    /// The chosen answer's label.
    pub label: String,
}

/// Records the first answer to a prompt and wakes its step. The answer must be one of the
/// prompt's choices; a prompt that names its responders takes Slack answers only from them (an
/// API or console answer comes from an operator holding the API token, and is recorded as
/// theirs). Unless the answer came from Slack (whose route replaces the message through
/// `response_url`), the Slack question, if any, is replaced with the answer.
pub async fn answer_prompt(
    engine: &Arc<Engine>,
    answer: Answer<'_>,
) -> Result<AnswerRecorded, Error> {
    let unknown = || Error::NotFound(format!("no prompt `{}`", answer.prompt_id));
    let prompt = engine
        .store
        .prompt(answer.prompt_id)
        .await?
        .ok_or_else(unknown)?;
    let Some(label) = choice_label(&prompt, answer.choice) else {
        let choices = prompt.choices.as_array().into_iter().flatten();
        return Err(Error::InvalidChoice {
            choice: answer.choice.to_owned(),
            choices: choices
                .filter_map(|c| c["value"].as_str().map(str::to_owned))
                .collect(),
        });
    };
    let restricted = !prompt.responders.is_empty();
    if answer.via == AnsweredVia::Slack
        && restricted
        && !prompt.responders.iter().any(|r| r == answer.responder)
    {
        return Err(Error::Forbidden(
            "this Slack user may not answer this prompt".to_owned(),
        ));
    }
    let given = PromptAnswer {
        choice: answer.choice,
        responder: answer.responder,
        via: answer.via,
        actor: answer.actor,
    };
    let now = engine.clock.now();
    let prompt = match engine
        .store
        .answer_prompt(answer.prompt_id, &given, now)
        .await?
    {
        Answered::Recorded(prompt) => prompt,
        Answered::Closed(prompt) => return Err(Error::PromptClosed(Box::new(prompt))),
        Answered::Unknown => return Err(unknown()),
    };
    engine.wake.notify_one();
    tracing::info!(
        prompt_id = %Escaped(answer.prompt_id),
        answer = %Escaped(answer.choice),
        via = answer.via.as_str(),
        "Prompt answered."
    );
    let text = match answer.via {
        AnsweredVia::Slack => None,
        AnsweredVia::Link => Some(format!("*{label}*: answered by link.")),
        AnsweredVia::Api | AnsweredVia::Console => Some(format!(
            "*{label}*: answered by {} in Warden.",
            answer.responder
        )),
    };
    if let Some(text) = text {
        replace_on_slack(engine, &prompt, text);
    }
    Ok(AnswerRecorded { prompt, label })
}

/// The label of `answer` among the prompt's choices; `None` when it is not one of them.
pub fn choice_label(prompt: &PromptRecord, answer: &str) -> Option<String> {
    prompt
        .choices
        .as_array()?
        .iter()
        .find(|c| c["value"] == answer)
        .map(|c| c["label"].as_str().unwrap_or(answer).to_owned())
}

/// Replaces a prompt's Slack question with `text`, in the background (Slack being slow or down
/// must not hold the answer's request; a failure is a warning).
fn replace_on_slack(engine: &Arc<Engine>, prompt: &PromptRecord, text: String) {
    let Some((channel, ts)) = prompt.slack_message.clone() else {
        return;
    };
    let engine = engine.clone();
    tokio::spawn(async move {
        let posted = Posted { channel, ts };
        let updated = match Slack::from_secrets(&engine.http, &engine.secrets) {
            Ok(slack) => slack.update(&posted, &text).await,
            Err(error) => Err(error),
        };
        if let Err(error) = updated {
            tracing::warn!(error = %Escaped(&error), "Could not replace the prompt on Slack.");
        }
    });
}
