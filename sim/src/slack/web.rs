//! The Slack Web API methods Warden calls: `users.lookupByEmail`, `conversations.open`,
//! `chat.postMessage`, `chat.update`. Arguments come as JSON or form bodies or as query
//! parameters; auth is a Bearer bot token. Every answer is HTTP 200, errors included
//! (`{"ok":false,"error":…}`), as Slack does.

use super::{assign_ids, EditSource, Slack, SlackEdit, SlackMessage, BOT_ID, BOT_USER_ID, TEAM_ID};
use crate::fixtures;
use crate::server::{authorization, header, lock};
use crate::SLACK_BOT_TOKEN;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Slack's limit on `text`.
const MAX_TEXT_CHARS: usize = 40_000;

type Params = Map<String, Value>;

pub(super) async fn call(
    State(slack): State<Arc<Slack>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = match authorization(&headers, "Bearer") {
        None => Err("not_authed"),
        Some(token) if token != SLACK_BOT_TOKEN => Err("invalid_auth"),
        Some(_) => {
            params(&headers, query.as_deref(), &body).and_then(|params| match method.as_str() {
                "users.lookupByEmail" => slack.lookup_by_email(&params),
                "conversations.open" => slack.open_conversation(&params),
                "chat.postMessage" => slack.post_message(&params),
                "chat.update" => slack.update_message(&params),
                _ => Err("unknown_method"),
            })
        }
    };
    let body = answer.unwrap_or_else(|error| json!({"ok": false, "error": error}));
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

impl Slack {
    fn lookup_by_email(&self, params: &Params) -> Result<Value, &'static str> {
        let email = text(params, "email").ok_or("invalid_arguments")?;
        let user = self
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
            .ok_or("users_not_found")?;
        let mut body = fixtures::json(fixtures::SLACK_LOOKUP_OK);
        let found = &mut body["user"];
        found["id"] = json!(user.id);
        found["team_id"] = json!(TEAM_ID);
        found["name"] = json!(user.name);
        found["real_name"] = json!(user.real_name);
        found["profile"] = json!({
            "real_name": user.real_name,
            "display_name": user.name,
            "email": user.email,
        });
        Ok(body)
    }

    fn open_conversation(&self, params: &Params) -> Result<Value, &'static str> {
        let mut workspace = lock(&self.workspace);
        let (channel, already_open) = match (text(params, "users"), text(params, "channel")) {
            (Some(users), _) => {
                // One user: a DM. Group DMs are not simulated.
                if users.contains(',') {
                    return Err("invalid_arguments");
                }
                let user = self.user(users.trim()).ok_or("user_not_found")?;
                workspace.open_dm(&user.id)
            }
            (None, Some(channel)) => match workspace.dm_user(channel) {
                Some(_) => (channel.to_string(), true),
                None => return Err("channel_not_found"),
            },
            (None, None) => return Err("users_list_not_supplied"),
        };
        let mut body = json!({"ok": true, "channel": {"id": channel}});
        if already_open {
            body["no_op"] = json!(true);
            body["already_open"] = json!(true);
        }
        Ok(body)
    }

    fn post_message(&self, params: &Params) -> Result<Value, &'static str> {
        let target = text(params, "channel").ok_or("channel_not_found")?;
        let (message_text, mut blocks) = content(params)?;
        assign_ids(&mut blocks);
        let mut workspace = lock(&self.workspace);
        // A user id DMs the user; the answer carries the DM's id, which chat.update needs.
        let (channel, dm_user) = if self.user(target).is_some() {
            (workspace.open_dm(target).0, Some(target.to_string()))
        } else if let Some(user) = workspace.dm_user(target) {
            (target.to_string(), Some(user))
        } else if self.channels.iter().any(|c| c.id == target) {
            (target.to_string(), None)
        } else {
            return Err("channel_not_found");
        };
        let ts = workspace.next_ts();
        workspace.messages.push(SlackMessage {
            channel: channel.clone(),
            ts: ts.clone(),
            dm_user,
            text: message_text.clone(),
            blocks: blocks.clone(),
            deleted: false,
            edits: Vec::new(),
        });
        let mut body = fixtures::json(fixtures::SLACK_POST_OK);
        body["channel"] = json!(channel);
        body["ts"] = json!(ts);
        let message = &mut body["message"];
        message["text"] = json!(message_text);
        message["username"] = json!("warden");
        message["bot_id"] = json!(BOT_ID);
        message["ts"] = json!(ts);
        if blocks.as_array().is_some_and(|b| !b.is_empty()) {
            message["blocks"] = blocks;
            message["team"] = json!(TEAM_ID);
        }
        Ok(body)
    }

    fn update_message(&self, params: &Params) -> Result<Value, &'static str> {
        let channel = text(params, "channel").ok_or("channel_not_found")?;
        let ts = text(params, "ts").ok_or("message_not_found")?;
        let mut workspace = lock(&self.workspace);
        // The conversation id, not a user id: "For direct messages, ensure that this value is a
        // DM ID (starts with D) instead of a User ID".
        let known =
            workspace.dm_user(channel).is_some() || self.channels.iter().any(|c| c.id == channel);
        if !known {
            return Err("channel_not_found");
        }
        let message = workspace
            .message_mut(channel, ts)
            .ok_or("message_not_found")?;
        let new_text = text(params, "text").unwrap_or_default().to_string();
        // Omitted blocks keep the old ones; [] clears them.
        let mut new_blocks = match params.get("blocks") {
            None | Some(Value::Null) => message.blocks.clone(),
            Some(_) => blocks(params)?,
        };
        if new_text.is_empty() && new_blocks.as_array().is_none_or(Vec::is_empty) {
            return Err("no_text");
        }
        if new_text.chars().count() > MAX_TEXT_CHARS {
            return Err("msg_too_long");
        }
        assign_ids(&mut new_blocks);
        message.text = new_text.clone();
        message.blocks = new_blocks.clone();
        message.edits.push(SlackEdit {
            via: EditSource::ChatUpdate,
            text: new_text.clone(),
            blocks: new_blocks.clone(),
        });
        let mut updated = json!({"text": new_text, "user": BOT_USER_ID});
        if new_blocks.as_array().is_some_and(|b| !b.is_empty()) {
            updated["blocks"] = new_blocks;
        }
        Ok(json!({"ok": true, "channel": channel, "ts": ts, "text": new_text, "message": updated}))
    }
}

/// A new message's text and blocks: at least one of them, within Slack's limits.
fn content(params: &Params) -> Result<(String, Value), &'static str> {
    let message_text = text(params, "text").unwrap_or_default().to_string();
    let blocks = blocks(params)?;
    if message_text.is_empty() && blocks.as_array().is_none_or(Vec::is_empty) {
        return Err("no_text");
    }
    if message_text.chars().count() > MAX_TEXT_CHARS {
        return Err("msg_too_long");
    }
    Ok((message_text, blocks))
}

/// `blocks` as an array (empty when absent), checked against Block Kit's basic rules and the
/// button limits of `external-apis.md` §3.1.
fn blocks(params: &Params) -> Result<Value, &'static str> {
    let blocks = match params.get("blocks") {
        None | Some(Value::Null) => return Ok(json!([])),
        // Form-encoded requests carry blocks as a JSON string.
        Some(Value::String(encoded)) => {
            serde_json::from_str(encoded).map_err(|_| "invalid_blocks")?
        }
        Some(blocks) => blocks.clone(),
    };
    let list = blocks.as_array().ok_or("invalid_blocks")?;
    for block in list {
        block
            .get("type")
            .and_then(Value::as_str)
            .ok_or("invalid_blocks")?;
        let elements = block.get("elements").and_then(Value::as_array);
        for element in elements.into_iter().flatten() {
            if element.get("type").and_then(Value::as_str) == Some("button")
                && !valid_button(element)
            {
                return Err("invalid_blocks");
            }
        }
    }
    Ok(blocks)
}

fn valid_button(button: &Value) -> bool {
    let length = |name: &str| {
        button
            .get(name)
            .and_then(Value::as_str)
            .map(|s| s.chars().count())
    };
    let label = button.pointer("/text/text").and_then(Value::as_str);
    label.is_some_and(|l| !l.is_empty() && l.chars().count() <= 75)
        && length("action_id").is_none_or(|n| n <= 255)
        && length("value").is_none_or(|n| n <= 2000)
        && length("url").is_none_or(|n| n <= 3000)
        && button
            .get("style")
            .is_none_or(|s| s == "primary" || s == "danger")
}

/// The method's arguments: query parameters, then the JSON or form body.
fn params(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Result<Params, &'static str> {
    let mut params = Params::new();
    let form = |bytes: &[u8], params: &mut Params| {
        for (name, value) in form_urlencoded::parse(bytes) {
            params.insert(name.into_owned(), Value::String(value.into_owned()));
        }
    };
    form(query.unwrap_or_default().as_bytes(), &mut params);
    let content_type = header(headers, "content-type").unwrap_or_default();
    if content_type.contains("json") {
        match serde_json::from_slice(body) {
            Ok(Value::Object(fields)) => params.extend(fields),
            _ => return Err("invalid_json"),
        }
    } else {
        form(body, &mut params);
    }
    Ok(params)
}

/// A non-empty string argument.
fn text<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_carry_blocks_as_json_text() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let body = b"channel=C1&blocks=%5B%7B%22type%22%3A%22divider%22%7D%5D";
        let params = params(&headers, Some("text=hi"), body).unwrap();
        assert_eq!(text(&params, "text"), Some("hi"));
        assert_eq!(blocks(&params).unwrap(), json!([{"type": "divider"}]));
    }

    #[test]
    fn overlong_or_unstyled_buttons_are_invalid_blocks() {
        let button = |label: &str, style: &str| json!({"type": "button", "text": {"type": "plain_text", "text": label}, "value": "v", "style": style});
        assert!(valid_button(&button("Yes", "primary")));
        assert!(!valid_button(&button(&"x".repeat(76), "primary")));
        assert!(!valid_button(&button("Yes", "blue")));
    }

    #[test]
    fn a_message_needs_text_or_blocks() {
        let params: Params = json!({"channel": "C1", "blocks": []})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(content(&params), Err("no_text"));
    }
}
