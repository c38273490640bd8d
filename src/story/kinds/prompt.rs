//! `prompt`: asks a person and waits durably for the answer (or a timeout).
//!
//! The answer becomes the event `{prompt: {status, responder, responded_at}}`; a timeout gives
//! `status: timeout`. Answers arrive as Slack button clicks or through signed single-use URLs
//! (`prompt_url("denied")`). A Slack prompt's message is replaced with the outcome once answered
//! (or timed out), through Slack's `response_url`.

use super::check::{check_duration, check_non_empty, is_snake_case_id, CheckContext};
use super::http_request::HttpRequestOptions;
use crate::diagnostic::{Code, Diagnostic};
use crate::story::value::{Duration, Template};
use crate::yaml::Spanned;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeSet;

/// The longest a prompt may wait for an answer.
pub const MAX_PROMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// Options of a `prompt` action.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct PromptOptions {
    /// Ask on Slack with one button per choice (uses the `slack` credential and `slack_url`
    /// resource).
    pub slack: Option<SlackPrompt>,
    /// Ask through any HTTP API (email, Teams, a ticket): this request is sent once, with
    /// `prompt_url(<choice>)` in scope to build the answer links.
    pub request: Option<Box<HttpRequestOptions>>,
    /// The answers offered. `status` becomes the chosen `value`.
    pub choices: Spanned<Vec<Choice>>,
    /// How long to wait before emitting `status: timeout`. Default `24h`, at most `30d`.
    pub timeout: Option<Duration>,
    /// Who may answer on Slack: emails or Slack user ids (templates). Default: anyone who can
    /// reach the message. Not with `request:`: a prompt URL's answer carries no identity to check.
    pub allowed_responders: Option<Vec<Template>>,
}

/// Where and what to ask on Slack.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct SlackPrompt {
    /// A channel id or name. Give this or `user_email`.
    pub channel: Option<Template>,
    /// Send a direct message to the Slack user with this email. Give this or `channel`.
    pub user_email: Option<Template>,
    /// The question (Slack mrkdwn). Every `{{ }}` value is escaped for Slack (`&`, `<`, `>`
    /// as `&amp;`, `&lt;`, `&gt;`), so alert data cannot add links or mentions; the text written
    /// here is kept as is. Mark a value that is mrkdwn on purpose with `| safe`.
    pub text: Template,
}

/// One possible answer.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Choice {
    /// The value reported as `prompt.status`: lowercase letters, digits and `_`.
    pub value: Spanned<String>,
    /// The button text.
    pub label: Spanned<String>,
    /// Button style on Slack.
    pub style: Option<ButtonStyle>,
}

/// Slack button styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ButtonStyle {
    /// Green.
    Primary,
    /// Red.
    Danger,
}

impl PromptOptions {
    /// Calls `f` on every template, with the field it belongs to.
    pub fn each_template<'a>(&'a self, f: &mut dyn FnMut(&'static str, &'a Template)) {
        if let Some(slack) = &self.slack {
            for t in [&slack.channel, &slack.user_email].into_iter().flatten() {
                f("slack", t);
            }
            f("slack", &slack.text);
        }
        if let Some(request) = &self.request {
            request.each_template(&mut |field, t| {
                let field = match field {
                    "headers" => "request.headers",
                    "body" => "request.body",
                    "basic_auth" => "request.basic_auth",
                    "bearer_token" => "request.bearer_token",
                    "query" => "request.query",
                    _ => "request.url",
                };
                f(field, t)
            });
        }
        for t in self.allowed_responders.iter().flatten() {
            f("allowed_responders", t);
        }
    }
}

impl PromptOptions {
    /// Checks what the types cannot: a way to reach someone, one Slack destination, distinct
    /// choice values that can name a path (`timeout` is taken), the timeout's range, and the
    /// `request` like any request.
    pub fn check(&self, cx: &CheckContext, d: &mut Vec<Diagnostic>) {
        if self.slack.is_none() && self.request.is_none() {
            d.push(
                Diagnostic::new(Code::InvalidOption, self.choices.span, format!("prompt `{}` has no way to reach anyone", cx.id))
                    .with_hint("add `slack:` (buttons) or `request:` (any HTTP API, with prompt_url(\"<choice>\") links)"),
            );
        }
        if let Some(slack) = &self.slack {
            if slack.channel.is_some() == slack.user_email.is_some() {
                d.push(Diagnostic::new(
                    Code::InvalidOption,
                    slack.text.span,
                    "a Slack prompt needs exactly one of `channel` and `user_email`",
                ));
            }
        }
        check_non_empty(&self.choices, "a prompt", "choice", d);
        let mut seen = BTreeSet::new();
        for choice in self.choices.iter() {
            let value = &choice.value;
            if !is_snake_case_id(value) || value.value == "timeout" {
                d.push(
                    Diagnostic::new(Code::InvalidOption, value.span, format!("choice value `{}` is not allowed", value.value))
                        .with_hint("use lowercase letters, digits and `_`; `timeout` is reserved for the timeout path"),
                );
            } else if !seen.insert(value.value.as_str()) {
                d.push(Diagnostic::new(
                    Code::InvalidOption,
                    value.span,
                    format!("choice value `{}` is repeated", value.value),
                ));
            }
        }
        check_duration(
            self.timeout.as_ref(),
            MAX_PROMPT_TIMEOUT,
            "a prompt timeout must be between 1s and 30d",
            d,
        );
        if let Some(request) = &self.request {
            request.check(d);
            self.check_responders_verifiable(cx, d);
        }
    }

    /// A prompt URL answers for whoever holds the link, so `allowed_responders` could not be
    /// applied to it: refusing every URL answer would make `request:` useless, accepting them
    /// would make the restriction a lie. The combination is refused up front instead.
    fn check_responders_verifiable(&self, cx: &CheckContext, d: &mut Vec<Diagnostic>) {
        let Some(responders) = &self.allowed_responders else {
            return;
        };
        let span = responders.first().map_or(self.choices.span, |t| t.span);
        d.push(
            Diagnostic::new(
                Code::UnverifiableResponders,
                span,
                format!(
                    "prompt `{}` restricts `allowed_responders` but also answers through `request:` links, which carry no identity",
                    cx.id
                ),
            )
            .with_hint("keep `allowed_responders` on a Slack-only prompt, or drop it and send the `request:` links only to the people allowed to answer"),
        );
    }
}
