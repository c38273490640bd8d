//! The `prompt` action: ask a person, wait durably, emit the answer.
//!
//! First execution: open the prompt in the store (idempotent per step, so a retried attempt
//! finds it), post the Slack message if it is not posted yet, send the `request:` with one
//! single-use URL per choice, and wait until the timeout. An answer (a Slack click, a prompt
//! URL) is recorded by the store together with making the step due; the step then runs again
//! and emits `{prompt: {status, responder, responded_at}}`. A timeout closes the prompt (unless
//! an answer won the race) and updates the Slack message.

use super::slack::{Button, Posted, Slack};
use super::{
    http, idempotency_key, render_slack_mrkdwn, render_text, store_error, Env, Error, Output,
};
use crate::clock::rfc3339;
use crate::run::{millis, Millis, Wait};
use crate::store::{ClaimedStep, NewPrompt, PromptRecord, Prompts};
use crate::story::kinds::prompt::{ButtonStyle, PromptOptions};
use crate::template::{Context, PROMPT_URLS};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Runs a prompt step: opens and asks on the first execution, reports the outcome after.
pub async fn run<S: Prompts + Sync>(
    env: &Env<'_, S>,
    options: &PromptOptions,
    step: &ClaimedStep,
    ctx: &Context,
    now: Millis,
) -> Result<Output, Error> {
    match &step.wait {
        Some(Wait::Prompt {
            answer, responder, ..
        }) => {
            let answered = answer.clone().map(|a| (a, responder.clone()));
            Ok(Output::Emit(vec![
                outcome(env, options, step, answered, now).await?,
            ]))
        }
        _ => ask(env, options, step, ctx, now).await,
    }
}

async fn ask<S: Prompts + Sync>(
    env: &Env<'_, S>,
    options: &PromptOptions,
    step: &ClaimedStep,
    ctx: &Context,
    now: Millis,
) -> Result<Output, Error> {
    let timeout = options.timeout.map_or(DEFAULT_TIMEOUT, |t| t.value);
    let slack = options
        .slack
        .as_ref()
        .map(|_| Slack::from_secrets(env.http, env.secrets))
        .transpose()?;
    let mut responders = Vec::new();
    for template in options.allowed_responders.iter().flatten() {
        let who = render_text("allowed_responders", template, ctx)?;
        // Emails become Slack user ids now, so a click is checked without another API call.
        match (&slack, who.contains('@')) {
            (Some(slack), true) => responders.push(slack.user_by_email(&who).await?),
            _ => responders.push(who),
        }
    }
    let choices: Vec<Value> = options
        .choices
        .iter()
        .map(|c| json!({"value": c.value.value, "label": c.label.value}))
        .collect();
    let mut links = Vec::new();
    let mut urls = Map::new();
    let mut tokens = Vec::new();
    if options.request.is_some() {
        for choice in options.choices.iter() {
            let token = random_hex()?;
            tokens.push(token.clone());
            urls.insert(
                choice.value.value.clone(),
                format!("{}/prompt/{token}", env.public_url.trim_end_matches('/')).into(),
            );
            links.push((token_hash(&token), choice.value.value.clone()));
        }
    }
    let prompt = env
        .store
        .open_prompt(
            &NewPrompt {
                id: random_hex()?,
                step_id: step.id,
                run_id: step.run_id.clone(),
                story_id: step.story_id.clone(),
                action_id: step.action_id.clone(),
                choices: Value::Array(choices),
                responders,
                links,
                expires_at: now.saturating_add(millis(timeout)),
            },
            now,
        )
        .await
        .map_err(store_error)?;
    if let (Some(slack), Some(ask)) = (&slack, &options.slack) {
        if prompt.slack_message.is_none() {
            let channel = match (&ask.channel, &ask.user_email) {
                (Some(channel), _) => render_text("slack.channel", channel, ctx)?,
                (None, Some(email)) => {
                    let email = render_text("slack.user_email", email, ctx)?;
                    let user = slack.user_by_email(&email).await?;
                    slack.open_dm(&user).await?
                }
                (None, None) => return Err(Error::permanent("slack needs channel or user_email")),
            };
            // Alert data is the attacker's: every value in the message is escaped for Slack.
            let text = render_slack_mrkdwn("slack.text", &ask.text, ctx)?;
            let buttons: Vec<Button<'_>> = options
                .choices
                .iter()
                .map(|c| Button {
                    value: &c.value.value,
                    label: &c.label.value,
                    style: c.style.map(|s| match s {
                        ButtonStyle::Primary => "primary",
                        ButtonStyle::Danger => "danger",
                    }),
                })
                .collect();
            let posted = slack
                .post_prompt(&channel, &text, &prompt.id, &buttons)
                .await?;
            env.store
                .set_prompt_message(&prompt.id, &posted.channel, &posted.ts)
                .await
                .map_err(store_error)?;
        }
    }
    if let Some(request) = &options.request {
        let ctx = ctx.with(PROMPT_URLS, &Value::Object(urls));
        let sent = http::send(env.http, env.clock, request, &ctx, &idempotency_key(step)).await;
        // The request carries single-use answer links: a receiver that echoes it in a failure
        // must not leave them in the stored error, where a reader of runs could answer.
        sent.map_err(|error| without_links(error, &tokens))?;
    }
    Ok(Output::Wait {
        until: prompt.expires_at,
        wait: Wait::Prompt {
            prompt_id: prompt.id,
            answer: None,
            responder: None,
        },
    })
}

/// The event of a finished prompt: its answer, or `timeout` (closing the prompt and updating
/// its Slack message) when the wait ran out first.
async fn outcome<S: Prompts + Sync>(
    env: &Env<'_, S>,
    options: &PromptOptions,
    step: &ClaimedStep,
    answered: Option<(String, Option<String>)>,
    now: Millis,
) -> Result<Value, Error> {
    let (status, responder): (Value, Option<Value>) = match answered {
        Some((answer, responder)) => (answer.into(), responder.map(Value::from)),
        None => {
            let prompt = env
                .store
                .expire_prompt(step.id, now)
                .await
                .map_err(store_error)?;
            match prompt {
                Some(PromptRecord {
                    answer: Some(answer),
                    responder,
                    ..
                }) => (answer.into(), responder.map(Value::from)),
                Some(prompt) => {
                    if let Some((channel, ts)) = &prompt.slack_message {
                        tell_timeout(env, options, channel, ts).await;
                    }
                    ("timeout".into(), None)
                }
                None => ("timeout".into(), None),
            }
        }
    };
    Ok(answer_event(status, responder, now))
}

/// The event a finished prompt emits: `{prompt: {status, responder, responded_at}}`, `status`
/// being the chosen value or `timeout` (then `responder` is null).
pub fn answer_event(status: Value, responder: Option<Value>, now: Millis) -> Value {
    json!({
        "prompt": {
            "status": status,
            "responder": responder.unwrap_or(Value::Null),
            "responded_at": rfc3339(now),
        }
    })
}

/// Replaces the question with "no answer": best effort, the run goes on either way.
async fn tell_timeout<S>(env: &Env<'_, S>, options: &PromptOptions, channel: &str, ts: &str) {
    if options.slack.is_none() {
        return;
    }
    let Ok(slack) = Slack::from_secrets(env.http, env.secrets) else {
        return;
    };
    let posted = Posted {
        channel: channel.to_owned(),
        ts: ts.to_owned(),
    };
    if let Err(error) = slack
        .update(&posted, "No answer in time: this question has closed.")
        .await
    {
        tracing::warn!(error = %crate::escape::Escaped(&error), "Could not mark a timed-out prompt on Slack.");
    }
}

/// `error` without any of the prompt's link tokens: its details (the receiver's answer) are
/// dropped when they quote one, and the message is scrubbed.
fn without_links(mut error: Error, tokens: &[String]) -> Error {
    let quotes = |text: &str| tokens.iter().any(|t| text.contains(t.as_str()));
    if let Error::Retriable { details, .. } | Error::Permanent { details, .. } = &mut error {
        if details.as_ref().is_some_and(|d| quotes(&d.to_string())) {
            *details = None;
        }
    }
    let (Error::Retriable { message, .. }
    | Error::Permanent { message, .. }
    | Error::Misconfigured { message }) = &mut error;
    for token in tokens {
        *message = message.replace(token.as_str(), crate::secrets::REDACTED);
    }
    error
}

/// The SHA-256 of a prompt URL's token, as stored.
pub fn token_hash(token: &str) -> String {
    crate::hex::hex(&Sha256::digest(token.as_bytes()))
}

fn random_hex() -> Result<String, Error> {
    crate::secrets::random_hex(16).map_err(|e| Error::Retriable {
        message: format!("no randomness for a prompt id: {e}"),
        retry_after: None,
        details: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_request_keeps_no_answer_link() {
        let tokens = vec!["t0k3n".to_owned()];
        let echoed = Error::Permanent {
            message: "HTTP 400: sent https://w/prompt/t0k3n".into(),
            details: Some(json!({"status": 400, "body": {"echo": "https://w/prompt/t0k3n"}})),
        };
        let Error::Permanent { message, details } = without_links(echoed, &tokens) else {
            panic!("the class is kept");
        };
        assert_eq!(message, "HTTP 400: sent https://w/prompt/[redacted]");
        assert_eq!(details, None);
        let unrelated = Error::Permanent {
            message: "HTTP 400".into(),
            details: Some(json!({"status": 400})),
        };
        let Error::Permanent { details, .. } = without_links(unrelated, &tokens) else {
            panic!("the class is kept");
        };
        assert_eq!(details, Some(json!({"status": 400})));
    }
}
