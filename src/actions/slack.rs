//! The few Slack Web API calls prompts make themselves (the `slack/*` templates cover the rest):
//! find a user by email, open a DM, post the question with one button per choice, update it.
//!
//! Slack answers errors as HTTP 200 with `{"ok": false, "error": …}`; only rate limits are a 429
//! (with `Retry-After`). Auth and scope errors need an operator, so they are `Misconfigured`.

use super::Error;
use crate::http_client::canned::within_step;
use crate::http_client::HttpClients;
use crate::secrets::{Secret, Secrets};
use serde_json::{json, Value};
use std::time::Duration;

/// Errors that need an operator, not another attempt.
const MISCONFIGURED: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "missing_scope",
    "account_inactive",
    "token_revoked",
    "no_permission",
    "not_in_channel",
    "channel_not_found",
];

/// A Slack Web API client for one workspace.
#[derive(Debug, Clone, Copy)]
pub struct Slack<'a> {
    /// The HTTP clients (the one that does not follow redirects is used).
    pub http: &'a HttpClients,
    /// The API base (`slack_url` resource), e.g. `https://slack.com/api`.
    pub base: &'a str,
    /// The bot token (`slack` credential).
    pub token: &'a Secret,
}

/// The Slack Web API when the `slack_url` resource is not set.
pub const SLACK_API: &str = "https://slack.com/api";

/// The credential holding the bot token prompts post with.
pub const TOKEN_CREDENTIAL: &str = "slack";

/// The credential holding Slack's signing secret, which authenticates button clicks.
pub const SIGNING_SECRET_CREDENTIAL: &str = "slack_signing_secret";

impl<'a> Slack<'a> {
    /// The client from the `slack` credential and `slack_url` resource.
    pub fn from_secrets(http: &'a HttpClients, secrets: &'a Secrets) -> Result<Slack<'a>, Error> {
        let token = secrets
            .credential(TOKEN_CREDENTIAL)
            .ok_or_else(|| Error::Misconfigured {
                message: "the `slack` credential (bot token) is not set".into(),
            })?;
        Ok(Slack {
            http,
            base: secrets.resource("slack_url").unwrap_or(SLACK_API),
            token,
        })
    }
}

/// A posted message: where it is, for updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The conversation id (`C…`, `D…`), as `chat.postMessage` returned it.
    pub channel: String,
    /// The message timestamp.
    pub ts: String,
}

/// A button: the answer it records and its text.
#[derive(Debug, Clone, Copy)]
pub struct Button<'a> {
    /// The answer.
    pub value: &'a str,
    /// The text.
    pub label: &'a str,
    /// `primary` or `danger`.
    pub style: Option<&'a str>,
}

impl Slack<'_> {
    /// `users.lookupByEmail`: the user's id.
    pub async fn user_by_email(&self, email: &str) -> Result<String, Error> {
        let url = format!("{}/users.lookupByEmail", self.base.trim_end_matches('/'));
        let request = self.http.direct.get(url).query(&[("email", email)]);
        let body = self.call("users.lookupByEmail", request).await?;
        body["user"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::permanent("users.lookupByEmail answered without a user id"))
    }

    /// `conversations.open` with one user: the DM's channel id.
    pub async fn open_dm(&self, user_id: &str) -> Result<String, Error> {
        let body = self
            .post("conversations.open", &json!({ "users": user_id }))
            .await?;
        body["channel"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::permanent("conversations.open answered without a channel id"))
    }

    /// `chat.postMessage`: the question and one button per choice, each button's value
    /// `<prompt id>:<answer>` (Slack returns it verbatim with the click).
    pub async fn post_prompt(
        &self,
        channel: &str,
        text: &str,
        prompt_id: &str,
        buttons: &[Button<'_>],
    ) -> Result<Posted, Error> {
        let message = json!({
            "channel": channel,
            "text": text,
            "blocks": prompt_blocks(text, prompt_id, buttons),
        });
        let body = self.post("chat.postMessage", &message).await?;
        match (body["channel"].as_str(), body["ts"].as_str()) {
            (Some(channel), Some(ts)) => Ok(Posted {
                channel: channel.to_owned(),
                ts: ts.to_owned(),
            }),
            _ => Err(Error::permanent(
                "chat.postMessage answered without channel and ts",
            )),
        }
    }

    /// `chat.update`: replaces a message's text and removes its buttons.
    pub async fn update(&self, posted: &Posted, text: &str) -> Result<(), Error> {
        let message = json!({
            "channel": posted.channel,
            "ts": posted.ts,
            "text": text,
            "blocks": [section(text)],
        });
        self.post("chat.update", &message).await.map(|_| ())
    }

    async fn post(&self, method: &str, body: &Value) -> Result<Value, Error> {
        let url = format!("{}/{method}", self.base.trim_end_matches('/'));
        let request = self
            .http
            .direct
            .post(url)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body.to_string());
        self.call(method, request).await
    }

    async fn call(&self, method: &str, request: reqwest::RequestBuilder) -> Result<Value, Error> {
        let request = request
            .bearer_auth(self.token.expose())
            .timeout(Duration::from_secs(10));
        let response = within_step(method, self.http.send(request))
            .await
            .map_err(|e| send_error(&format!("Slack {method}"), e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(Error::Retriable {
                message: format!("Slack {method} answered {status}"),
                retry_after,
                details: Some(body),
            });
        }
        if body["ok"] == Value::Bool(true) {
            return Ok(body);
        }
        let error = body["error"].as_str().unwrap_or("no ok:true in the answer");
        let message = format!("Slack {method} failed: {error}");
        Err(if MISCONFIGURED.contains(&error) {
            Error::Misconfigured { message }
        } else if matches!(error, "ratelimited" | "rate_limited") {
            Error::Retriable {
                message,
                retry_after,
                details: None,
            }
        } else {
            Error::Permanent {
                message,
                details: Some(body),
            }
        })
    }
}

/// A request to Slack that got no answer: refused by the outbound guard (misconfigured: the
/// operator pointed `slack_url` somewhere the guard forbids), else retried.
fn send_error(what: &str, error: crate::http_client::Error) -> Error {
    match error {
        crate::http_client::Error::Refused(refused) => Error::Misconfigured {
            message: format!("{what} refused: {refused}"),
        },
        crate::http_client::Error::Request(e) => Error::Retriable {
            message: format!("{what} failed: {}", e.without_url()),
            retry_after: None,
            details: None,
        },
    }
}

/// Replaces an interactive message through the click's `response_url` (no token: the URL is the
/// capability).
pub async fn respond(http: &HttpClients, response_url: &str, text: &str) -> Result<(), Error> {
    let body = json!({ "replace_original": true, "text": text, "blocks": [section(text)] });
    let request = http
        .direct
        .post(response_url)
        .header("Content-Type", "application/json")
        .timeout(Duration::from_secs(10))
        .body(body.to_string());
    let response = http
        .send(request)
        .await
        .map_err(|e| send_error("Slack response_url", e))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(Error::permanent(format!(
            "Slack response_url answered {}",
            response.status()
        )))
    }
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

/// The question and an actions block; each button's `action_id` is unique within the message
/// and its value names the prompt and the answer.
pub fn prompt_blocks(text: &str, prompt_id: &str, buttons: &[Button<'_>]) -> Value {
    let elements: Vec<Value> = buttons
        .iter()
        .map(|b| {
            let mut button = json!({
                "type": "button",
                "action_id": format!("warden_prompt_{}", b.value),
                "text": { "type": "plain_text", "text": truncate(b.label, 75) },
                "value": format!("{prompt_id}:{}", b.value),
            });
            if let Some(style) = b.style {
                button["style"] = style.into();
            }
            button
        })
        .collect();
    json!([
        section(text),
        { "type": "actions", "block_id": format!("warden_prompt_{prompt_id}"), "elements": elements },
    ])
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_carry_the_prompt_and_the_answer() {
        let blocks = prompt_blocks(
            "Was this you?",
            "p1",
            &[
                Button {
                    value: "confirmed",
                    label: "Yes, this was me",
                    style: Some("primary"),
                },
                Button {
                    value: "denied",
                    label: "I don't recognize this",
                    style: None,
                },
            ],
        );
        assert_eq!(blocks[0]["text"]["text"], "Was this you?");
        let buttons = &blocks[1]["elements"];
        assert_eq!(buttons[0]["value"], "p1:confirmed");
        assert_eq!(buttons[0]["style"], "primary");
        assert_eq!(buttons[1]["action_id"], "warden_prompt_denied");
        assert!(buttons[1].get("style").is_none());
    }
}
