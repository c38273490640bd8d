//! Slack simulator: a workspace with the scenario's people and channels, the Web API methods
//! Warden calls (`web.rs`), and the user's side of interactivity (`interaction.rs`): signed
//! `block_actions` clicks and the `response_url`s they carry.

mod interaction;
mod web;

pub use interaction::{sign, SignedRequest};

use super::scenario::{Scenario, SlackChannel};
use super::server::{lock, Journal};
use axum::routing::{get, post};
use axum::Router;
use jiff::Timestamp;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The workspace and bot identity, as in the `block_actions` fixture so a click and the
/// messages it refers to agree.
const TEAM_ID: &str = "T01B5M3VC1X";
const BOT_ID: &str = "B01AQ1SN737";
const BOT_USER_ID: &str = "U01BGV723R6";

/// A message the bot posted, as it stands now.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackMessage {
    /// Conversation id (`D…` for a DM, `C…`/`G…` for a channel).
    pub channel: String,
    /// The message's `ts`.
    pub ts: String,
    /// The user a DM goes to, `None` in a channel.
    pub dm_user: Option<String>,
    /// Current text.
    pub text: String,
    /// Current blocks (an array; empty when none).
    pub blocks: Value,
    /// Deleted through a `response_url` (`delete_original`).
    pub deleted: bool,
    /// Every change since posting, in order.
    pub edits: Vec<SlackEdit>,
}

/// One change to a posted message.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackEdit {
    /// How it was changed.
    pub via: EditSource,
    /// The new text.
    pub text: String,
    /// The new blocks.
    pub blocks: Value,
}

/// How a message was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditSource {
    /// `chat.update`.
    ChatUpdate,
    /// A `response_url` POST with `replace_original`.
    ResponseUrl,
}

/// A body POSTed to a `response_url` and accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackResponse {
    /// The conversation of the message clicked.
    pub channel: String,
    /// The `ts` of the message clicked.
    pub message_ts: String,
    /// The JSON body, as sent.
    pub body: Value,
}

struct SlackUser {
    id: String,
    name: String,
    real_name: String,
    email: String,
}

pub(super) struct Slack {
    origin: String,
    users: Vec<SlackUser>,
    channels: Vec<SlackChannel>,
    journal: Journal,
    workspace: Mutex<Workspace>,
}

#[derive(Default)]
struct Workspace {
    /// Open DMs: user id → `D…` channel id.
    dms: HashMap<String, String>,
    messages: Vec<SlackMessage>,
    ts_sequence: u64,
    /// `response_url` token → the hook it opens.
    hooks: HashMap<String, Hook>,
    hook_sequence: u64,
    responses: Vec<SlackResponse>,
}

struct Hook {
    channel: String,
    message_ts: String,
    created: Instant,
    uses: u32,
}

impl Slack {
    pub(super) fn new(scenario: &Scenario, origin: &str, journal: Journal) -> Slack {
        let users = scenario
            .people
            .iter()
            .filter_map(|person| {
                Some(SlackUser {
                    id: person.slack_id.clone()?,
                    name: person
                        .email
                        .split('@')
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    real_name: person.display_name(),
                    email: person.email.clone(),
                })
            })
            .collect();
        Slack {
            origin: origin.to_string(),
            users,
            channels: scenario.slack_channels.clone(),
            journal,
            workspace: Mutex::default(),
        }
    }

    pub(super) fn messages(&self) -> Vec<SlackMessage> {
        lock(&self.workspace).messages.clone()
    }

    pub(super) fn responses(&self) -> Vec<SlackResponse> {
        lock(&self.workspace).responses.clone()
    }

    pub(super) fn user_ids(&self) -> Vec<String> {
        self.users.iter().map(|u| u.id.clone()).collect()
    }

    fn user(&self, id: &str) -> Option<&SlackUser> {
        self.users.iter().find(|u| u.id == id)
    }
}

impl Workspace {
    /// The DM with `user`, opened if needed; whether it was already open.
    fn open_dm(&mut self, user: &str) -> (String, bool) {
        if let Some(channel) = self.dms.get(user) {
            return (channel.clone(), true);
        }
        // Deterministic and readable: U01AZ88AQQ4 talks in D01AZ88AQQ4.
        let channel = format!("D{}", user.get(1..).unwrap_or_default());
        self.dms.insert(user.to_string(), channel.clone());
        (channel, false)
    }

    fn dm_user(&self, channel: &str) -> Option<String> {
        self.dms
            .iter()
            .find(|(_, c)| c.as_str() == channel)
            .map(|(u, _)| u.clone())
    }

    /// A fresh `ts`: Slack's "seconds.micro" shape, unique within the simulator.
    fn next_ts(&mut self) -> String {
        self.ts_sequence += 1;
        let seconds = Timestamp::now().as_second();
        format!("{seconds}.{:06}", self.ts_sequence % 1_000_000)
    }

    fn message_mut(&mut self, channel: &str, ts: &str) -> Option<&mut SlackMessage> {
        self.messages
            .iter_mut()
            .find(|m| m.channel == channel && m.ts == ts && !m.deleted)
    }
}

pub(super) fn router(slack: Arc<Slack>) -> Router {
    Router::new()
        .route("/api/{method}", get(web::call).post(web::call))
        .route("/actions/{team}/{hook}/{token}", post(interaction::respond))
        .with_state(slack)
}

/// Gives blocks and buttons the ids Slack assigns when a poster leaves them out, so a click's
/// `block_id`/`action_id` match the message's.
fn assign_ids(blocks: &mut Value) {
    let Some(blocks) = blocks.as_array_mut() else {
        return;
    };
    for block in blocks {
        if block.get("block_id").is_none() {
            block["block_id"] = Value::String(random_id(5));
        }
        if let Some(elements) = block.get_mut("elements").and_then(Value::as_array_mut) {
            for element in elements {
                if element.get("type").and_then(Value::as_str) == Some("button")
                    && element.get("action_id").is_none()
                {
                    element["action_id"] = Value::String(random_id(5));
                }
            }
        }
    }
}

fn random_id(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(len)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_users_dm_is_opened_once() {
        let mut workspace = Workspace::default();
        assert_eq!(
            workspace.open_dm("U01AZ88AQQ4"),
            ("D01AZ88AQQ4".to_string(), false)
        );
        assert_eq!(
            workspace.open_dm("U01AZ88AQQ4"),
            ("D01AZ88AQQ4".to_string(), true)
        );
        assert_eq!(
            workspace.dm_user("D01AZ88AQQ4").as_deref(),
            Some("U01AZ88AQQ4")
        );
    }

    #[test]
    fn timestamps_are_unique_and_slack_shaped() {
        let mut workspace = Workspace::default();
        let (a, b) = (workspace.next_ts(), workspace.next_ts());
        assert_ne!(a, b);
        let (seconds, micros) = a.split_once('.').unwrap();
        assert!(seconds.parse::<i64>().is_ok() && micros.len() == 6);
    }

    #[test]
    fn missing_block_and_action_ids_are_assigned_and_given_ones_kept() {
        let mut blocks = json!([
            {"type": "section", "block_id": "keep", "text": {"type": "mrkdwn", "text": "x"}},
            {"type": "actions", "elements": [{"type": "button", "value": "v", "text": {"type": "plain_text", "text": "V"}}]}
        ]);
        assign_ids(&mut blocks);
        assert_eq!(blocks[0]["block_id"], "keep");
        assert!(blocks[1]["block_id"].is_string());
        assert!(blocks[1]["elements"][0]["action_id"].is_string());
    }
}
