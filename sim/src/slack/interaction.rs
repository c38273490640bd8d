//! The user's side of interactivity: a click becomes the `block_actions` request Slack would
//! POST to the app (`external-apis.md` §3.2), form-encoded as `payload=…` and signed with v0
//! HMAC-SHA256 (§3.4); its `response_url` points back here, where replacements are recorded
//! (§3.3: no auth, at most 5 uses within 30 minutes).

use super::{
    assign_ids, EditSource, Slack, SlackEdit, SlackMessage, SlackResponse, BOT_ID, TEAM_ID,
};
use crate::server::lock;
use crate::{fixtures, Error, SLACK_SIGNING_SECRET};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a `response_url` works.
const HOOK_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// How many times a `response_url` may be used (quoted by third parties; unverified).
const HOOK_USES: u32 = 5;

/// A `block_actions` request as Slack would send it to the app's interactivity URL.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedRequest {
    /// The payload (the JSON inside the `payload` form field).
    pub payload: Value,
    /// The exact body: `payload=` and the form-encoded compact JSON.
    pub body: String,
    /// `X-Slack-Request-Timestamp`: unix seconds.
    pub timestamp: String,
    /// `X-Slack-Signature`: `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}`.
    pub signature: String,
}

impl SignedRequest {
    /// The request's `Content-Type`.
    pub const CONTENT_TYPE: &'static str = "application/x-www-form-urlencoded";

    fn new(payload: Value, unix_seconds: i64) -> SignedRequest {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        let timestamp = unix_seconds.to_string();
        let signature = sign(SLACK_SIGNING_SECRET, &timestamp, body.as_bytes());
        SignedRequest {
            payload,
            body,
            timestamp,
            signature,
        }
    }

    /// The same click, signed as if sent at `unix_seconds` (to test a receiver's replay window).
    pub fn signed_at(self, unix_seconds: i64) -> SignedRequest {
        SignedRequest::new(self.payload, unix_seconds)
    }

    /// The headers Slack sends with it.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("content-type", Self::CONTENT_TYPE.to_string()),
            ("x-slack-request-timestamp", self.timestamp.clone()),
            ("x-slack-signature", self.signature.clone()),
        ]
    }

    /// The `response_url` the payload carries.
    pub fn response_url(&self) -> &str {
        self.payload["response_url"].as_str().unwrap_or_default()
    }

    /// POSTs it to `url` (Warden's `/slack/interactions`) with `client`.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        url: &str,
    ) -> reqwest::Result<reqwest::Response> {
        let mut request = client.post(url).body(self.body.clone());
        for (name, value) in self.headers() {
            request = request.header(name, value);
        }
        request.send().await
    }
}

/// Slack's v0 signature of a request body: `v0=` + lowercase hex of
/// HMAC-SHA256(signing secret, `v0:{timestamp}:{body}`).
pub fn sign(signing_secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(signing_secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    let mut signature = String::from("v0=");
    for byte in mac.finalize().into_bytes() {
        let _ = write!(signature, "{byte:02x}");
    }
    signature
}

impl Slack {
    /// `user` (or, for a DM, its user) clicks the button valued `value` on message `ts`.
    pub(crate) fn click(
        &self,
        user: Option<&str>,
        ts: &str,
        value: &str,
    ) -> Result<SignedRequest, Error> {
        let mut workspace = lock(&self.workspace);
        let message = workspace
            .messages
            .iter()
            .find(|m| m.ts == ts && !m.deleted)
            .ok_or_else(|| Error::UnknownMessage(ts.to_string()))?
            .clone();
        let user_id = match user {
            Some(user) => user.to_string(),
            None => message
                .dm_user
                .clone()
                .ok_or_else(|| Error::NotADirectMessage(ts.to_string()))?,
        };
        let clicker = self
            .user(&user_id)
            .ok_or_else(|| Error::UnknownUser(user_id.clone()))?;
        let (block_id, button) =
            find_button(&message.blocks, value).ok_or_else(|| Error::UnknownButton {
                ts: ts.to_string(),
                value: value.to_string(),
            })?;
        workspace.hook_sequence += 1;
        let token = super::random_id(24);
        let response_url = format!(
            "{}/actions/{TEAM_ID}/{}/{token}",
            self.origin,
            1_394_543_744_577 + workspace.hook_sequence
        );
        workspace.hooks.insert(
            token,
            super::Hook {
                channel: message.channel.clone(),
                message_ts: message.ts.clone(),
                created: Instant::now(),
                uses: 0,
            },
        );
        drop(workspace);
        let channel_name = match &message.dm_user {
            Some(_) => "directmessage".to_string(),
            None => self
                .channels
                .iter()
                .find(|c| c.id == message.channel)
                .map_or_else(String::new, |c| c.name.clone()),
        };
        let now = Timestamp::now();
        // The fixture gives the field set and order; the values are this click's.
        let mut payload = fixtures::json(fixtures::SLACK_BLOCK_ACTIONS);
        payload["user"] = json!({
            "id": clicker.id, "username": clicker.name, "name": clicker.name, "team_id": TEAM_ID,
        });
        payload["container"]["message_ts"] = json!(message.ts);
        payload["container"]["channel_id"] = json!(message.channel);
        payload["trigger_id"] = json!(format!(
            "{}.{}.{}",
            fastrand::u64(1_000_000_000_000..10_000_000_000_000),
            fastrand::u64(1_000_000_000_000..10_000_000_000_000),
            std::iter::repeat_with(|| fastrand::char('a'..='f'))
                .take(32)
                .collect::<String>()
        ));
        payload["channel"] = json!({"id": message.channel, "name": channel_name});
        payload["message"]["bot_id"] = json!(BOT_ID);
        payload["message"]["text"] = json!(message.text);
        payload["message"]["ts"] = json!(message.ts);
        payload["message"]["blocks"] = message.blocks.clone();
        payload["response_url"] = json!(response_url);
        payload["actions"] = json!([clicked(&button, &block_id, now)]);
        self.journal.touch();
        Ok(SignedRequest::new(payload, now.as_second()))
    }
}

/// The block id and button element whose `value` is `value`.
fn find_button(blocks: &Value, value: &str) -> Option<(String, Value)> {
    blocks.as_array()?.iter().find_map(|block| {
        let button = block
            .get("elements")?
            .as_array()?
            .iter()
            .find(|e| e["type"] == "button" && e["value"] == value)?;
        Some((block["block_id"].as_str()?.to_string(), button.clone()))
    })
}

/// `actions[0]`: the clicked button as Slack echoes it (style only when set).
fn clicked(button: &Value, block_id: &str, now: Timestamp) -> Value {
    let mut label = button["text"].clone();
    if label.get("emoji").is_none() {
        label["emoji"] = json!(true);
    }
    let mut action = json!({
        "action_id": button["action_id"],
        "block_id": block_id,
        "text": label,
        "value": button["value"],
    });
    if let Some(style) = button.get("style") {
        action["style"] = style.clone();
    }
    action["type"] = json!("button");
    action["action_ts"] = json!(format!(
        "{}.{:06}",
        now.as_second(),
        now.subsec_microsecond()
    ));
    action
}

/// `POST {response_url}`: records the body, then replaces, deletes or adds to the message.
/// Answers are text, as for Slack's webhooks; the refusal codes are illustrative.
pub(super) async fn respond(
    State(slack): State<Arc<Slack>>,
    Path((_team, _hook, token)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let mut workspace = lock(&slack.workspace);
    let Some(hook) = workspace.hooks.get(&token) else {
        return (StatusCode::NOT_FOUND, "invalid_token").into_response();
    };
    if hook.created.elapsed() > HOOK_LIFETIME {
        return (StatusCode::NOT_FOUND, "expired_url").into_response();
    }
    if hook.uses >= HOOK_USES {
        return (StatusCode::NOT_FOUND, "used_url").into_response();
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    let flag = |name: &str| fields.get(name).and_then(Value::as_bool) == Some(true);
    let text = fields
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut blocks = fields.get("blocks").cloned().unwrap_or_else(|| json!([]));
    if !blocks.is_array() {
        return (StatusCode::BAD_REQUEST, "invalid_blocks").into_response();
    }
    let deleting = flag("delete_original");
    if !deleting && text.is_empty() && blocks.as_array().is_some_and(Vec::is_empty) {
        return (StatusCode::BAD_REQUEST, "no_text").into_response();
    }
    assign_ids(&mut blocks);
    let (channel, message_ts) = (hook.channel.clone(), hook.message_ts.clone());
    if let Some(hook) = workspace.hooks.get_mut(&token) {
        hook.uses += 1;
    }
    let in_channel = fields.get("response_type").and_then(Value::as_str) == Some("in_channel");
    let original = workspace.message_mut(&channel, &message_ts);
    match original {
        Some(message) if deleting => message.deleted = true,
        Some(message) if flag("replace_original") => {
            message.text = text.clone();
            message.blocks = blocks.clone();
            message.edits.push(SlackEdit {
                via: EditSource::ResponseUrl,
                text,
                blocks,
            });
        }
        // Neither replacing nor deleting: a new message, visible to all only when in_channel.
        _ if in_channel => {
            let dm_user = workspace.dm_user(&channel);
            let ts = workspace.next_ts();
            workspace.messages.push(SlackMessage {
                channel: channel.clone(),
                ts,
                dm_user,
                text,
                blocks,
                deleted: false,
                edits: Vec::new(),
            });
        }
        _ => {}
    }
    workspace.responses.push(SlackResponse {
        channel,
        message_ts,
        body: Value::Object(fields),
    });
    (StatusCode::OK, "ok").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fixtures/slack/signing-test-vector.json`: Slack's own example.
    #[test]
    fn signatures_match_slacks_published_test_vector() {
        let vector = fixtures::json(include_str!(
            "../../data/vendors/slack/signing-test-vector.json"
        ));
        let signature = sign(
            vector["signing_secret"].as_str().unwrap(),
            vector["timestamp"].as_str().unwrap(),
            vector["body"].as_str().unwrap().as_bytes(),
        );
        assert_eq!(signature, vector["expected_signature"]);
    }

    #[test]
    fn signatures_match_the_signed_block_actions_fixture() {
        let signed = fixtures::json(include_str!(
            "../../data/vendors/slack/block_actions-denied.signed-request.json"
        ));
        let signature = sign(
            signed["signing_secret"].as_str().unwrap(),
            signed["timestamp"].as_str().unwrap(),
            signed["body"].as_str().unwrap().as_bytes(),
        );
        assert_eq!(signature, signed["expected_signature"]);
    }

    #[test]
    fn a_signed_request_decodes_back_to_its_payload() {
        let payload = json!({"type": "block_actions", "text": "a & b = c?"});
        let request = SignedRequest::new(payload.clone(), 1_700_000_000);
        let (name, value) = form_urlencoded::parse(request.body.as_bytes())
            .next()
            .unwrap();
        assert_eq!(name, "payload");
        assert_eq!(serde_json::from_str::<Value>(&value).unwrap(), payload);
        assert_eq!(request.signed_at(1).timestamp, "1");
    }

    #[test]
    fn the_clicked_button_is_echoed_with_its_block_and_style() {
        let blocks = json!([{"type": "actions", "block_id": "b1", "elements": [
            {"type": "button", "action_id": "no", "value": "denied", "style": "danger",
             "text": {"type": "plain_text", "text": "No"}}]}]);
        let (block_id, button) = find_button(&blocks, "denied").unwrap();
        let action = clicked(&button, &block_id, Timestamp::UNIX_EPOCH);
        assert_eq!(
            action,
            json!({"action_id": "no", "block_id": "b1",
                   "text": {"type": "plain_text", "text": "No", "emoji": true},
                   "value": "denied", "style": "danger", "type": "button",
                   "action_ts": "0.000000"})
        );
        assert!(find_button(&blocks, "confirmed").is_none());
    }
}
