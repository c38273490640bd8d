//! The vendors of one test: a [`Canned`] responder that answers each request from the test's
//! `answers` (by `action.step`, then `action`), Slack's Web API for prompts with answers shaped
//! like Slack's own (unless the test gives its own), and remembers every request sent and every
//! one it had no answer for.

use super::format::Response;
use crate::http_client::canned::{Canned, Origin};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// A request an action sent.
#[derive(Debug, Clone, PartialEq)]
pub struct SentRequest {
    /// `action` or `action.step`; empty when sent outside an action.
    pub key: String,
    /// The action.
    pub action: String,
    /// `GET`, `POST`, …
    pub method: String,
    /// The whole URL.
    pub url: String,
    /// Headers, names in lower case.
    pub headers: Map<String, Value>,
    /// The body: JSON when it parses, a form as a mapping, else text; null when empty.
    pub body: Value,
}

impl std::fmt::Display for SentRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.key, self.method, self.url)
    }
}

/// The canned vendors of one test.
#[derive(Debug)]
pub struct Vendors {
    answers: BTreeMap<String, Vec<Response>>,
    /// Prompt actions that ask on Slack: their Web API calls get Slack-shaped answers.
    slack_prompts: BTreeSet<String>,
    /// Prompt actions (their requests without a step are their `request:`).
    prompts: BTreeSet<String>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Answers used so far, by key.
    used: BTreeMap<String, usize>,
    sent: Vec<SentRequest>,
    unanswered: Vec<SentRequest>,
}

impl Vendors {
    /// Vendors answering with `answers`; `prompts` are the story's prompt actions, with whether
    /// each asks on Slack.
    pub fn new(
        answers: impl IntoIterator<Item = (String, Vec<Response>)>,
        prompts: impl IntoIterator<Item = (String, bool)>,
    ) -> Vendors {
        let mut slack_prompts = BTreeSet::new();
        let mut all = BTreeSet::new();
        for (action, slack) in prompts {
            if slack {
                slack_prompts.insert(action.clone());
            }
            all.insert(action);
        }
        Vendors {
            answers: answers.into_iter().collect(),
            slack_prompts,
            prompts: all,
            state: Mutex::default(),
        }
    }

    /// Every request sent, in order.
    pub fn sent(&self) -> Vec<SentRequest> {
        self.lock().sent.clone()
    }

    /// The requests no answer was given for.
    pub fn unanswered(&self) -> Vec<SentRequest> {
        self.lock().unanswered.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding it cannot leave the lists half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next canned answer under `key`: a list is used in order, its last answer repeating.
    fn next(&self, state: &mut State, key: &str) -> Option<Response> {
        let list = self.answers.get(key)?;
        let used = state.used.entry(key.to_owned()).or_default();
        let answer = list.get(*used).or_else(|| list.last()).cloned();
        *used += 1;
        answer
    }
}

impl Canned for Vendors {
    fn answer(
        &self,
        origin: Option<Origin>,
        request: &reqwest::Request,
    ) -> http::Response<Vec<u8>> {
        let origin = origin.unwrap_or_default();
        let sent = sent_request(&origin, request);
        let mut state = self.lock();
        state.sent.push(sent.clone());
        let key = origin.key();
        let slack_call = self.prompts.contains(&origin.action) && origin.step.is_some();
        let answer = if slack_call {
            // A prompt's Slack call is answered under `action.method`, else like Slack would.
            self.next(&mut state, &key).map(|r| build(&r)).or_else(|| {
                let method = origin.step.as_deref().unwrap_or_default();
                (self.slack_prompts.contains(&origin.action))
                    .then(|| slack_default(method, &sent))
                    .flatten()
            })
        } else {
            self.next(&mut state, &key)
                .or_else(|| self.next(&mut state, &origin.action))
                .map(|r| build(&r))
        };
        match answer {
            Some(answer) => answer,
            None => {
                state.unanswered.push(sent);
                unanswered()
            }
        }
    }
}

/// What the responder sends for a request it has no answer for: a 501 the test reports (the
/// action sees a failure; the run is not driven further).
fn unanswered() -> http::Response<Vec<u8>> {
    let mut response = http::Response::new(b"warden test: no canned answer".to_vec());
    *response.status_mut() = http::StatusCode::NOT_IMPLEMENTED;
    response
}

fn build(answer: &Response) -> http::Response<Vec<u8>> {
    let status = http::StatusCode::from_u16(answer.status.value)
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let (bytes, content_type) = match &answer.body {
        None | Some(Value::Null) => (Vec::new(), None),
        Some(Value::String(text)) => (text.clone().into_bytes(), Some("text/plain; charset=utf-8")),
        Some(other) => (other.to_string().into_bytes(), Some("application/json")),
    };
    let mut response = http::Response::new(bytes);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in answer.headers.iter().flat_map(|h| h.iter()) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.value.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    // The body's type unless the test gave its own `Content-Type`.
    if let (Some(content_type), false) = (
        content_type,
        headers.contains_key(http::header::CONTENT_TYPE),
    ) {
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        );
    }
    response
}

fn json_response(body: Value) -> http::Response<Vec<u8>> {
    let mut response = http::Response::new(body.to_string().into_bytes());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// Slack's answer to a prompt's Web API call, in the shapes of Slack's documentation
/// (`users.lookupByEmail-ok.json`, `chat.postMessage-ok.json` in the fixtures).
fn slack_default(method: &str, sent: &SentRequest) -> Option<http::Response<Vec<u8>>> {
    let field = |name: &str| sent.body.get(name).cloned().unwrap_or(Value::Null);
    let body = match method {
        "users.lookupByEmail" => {
            let email = reqwest::Url::parse(&sent.url)
                .ok()
                .and_then(|u| {
                    u.query_pairs()
                        .find(|(k, _)| k == "email")
                        .map(|(_, v)| v.into_owned())
                })
                .unwrap_or_default();
            json!({
                "ok": true,
                "user": {
                    "id": "W012A3CDE",
                    "team_id": "T012AB3C4",
                    "name": "spengler",
                    "deleted": false,
                    "real_name": "Egon Spengler",
                    "tz": "America/Los_Angeles",
                    "profile": {
                        "real_name": "Egon Spengler",
                        "display_name": "spengler",
                        "email": email,
                    },
                    "is_bot": false,
                },
            })
        }
        "conversations.open" => json!({"ok": true, "channel": {"id": "D069C7QFK"}}),
        "chat.postMessage" => json!({
            "ok": true,
            "channel": field("channel"),
            "ts": "1503435956.000247",
            "message": {
                "text": field("text"),
                "username": "ecto1",
                "bot_id": "B19LU7CSY",
                "type": "message",
                "subtype": "bot_message",
                "ts": "1503435956.000247",
            },
        }),
        "chat.update" => json!({
            "ok": true,
            "channel": field("channel"),
            "ts": field("ts"),
            "text": field("text"),
            "message": {"text": field("text"), "user": "U34567890"},
        }),
        _ => return None,
    };
    Some(json_response(body))
}

fn sent_request(origin: &Origin, request: &reqwest::Request) -> SentRequest {
    let headers: Map<String, Value> = request
        .headers()
        .iter()
        .map(|(k, v)| {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_owned(), Value::String(value))
        })
        .collect();
    let bytes = request
        .body()
        .and_then(|b| b.as_bytes())
        .unwrap_or_default();
    let form = headers
        .get("content-type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let body = if bytes.is_empty() {
        Value::Null
    } else if form {
        Value::Object(
            form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        )
    } else {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
    };
    SentRequest {
        key: origin.key(),
        action: origin.action.clone(),
        method: request.method().as_str().to_owned(),
        url: request.url().to_string(),
        headers,
        body,
    }
}
