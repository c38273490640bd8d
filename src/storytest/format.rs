//! The test file: `<story>.test.yml` beside `<story>.yml`, read with the project's YAML parser
//! (positions, unknown keys with did-you-mean), then checked against its story (every action,
//! prompt and status it names exists). Pure: no I/O.
//!
//! ```yaml
//! resources: { okta_url: https://example.okta.com }    # optional; else template defaults
//! answers:                                             # optional; every test's vendors
//!   vt_lookup: { status: 200, body: { data: … } }
//! tests:
//!   denied:
//!     event: { body: { alertId: a1, … } }              # the webhook's request
//!     answers:                                         # this test's, over the file's
//!       vt_lookup:                                     # a list: one answer per request
//!         - { status: 429, headers: { Retry-After: "60" } }
//!         - { status: 200, body: { … } }
//!       lock_user.suspend: { status: 200 }             # a template step
//!     prompts: { ask_user: denied }                    # or { answer, responder, after }, or timeout
//!     expect:
//!       status: succeeded
//!       ran: [open_case, lock_user]
//!       not_ran: [record_confirmation]
//!       outputs: { lock_user: { body: { suspended: true } } }
//!       requests:
//!         - { action: lock_user.suspend, method: POST, url: "https://…/suspend" }
//! ```

use crate::diagnostic::{did_you_mean, Code, Diagnostic, Span};
use crate::run::{Millis, RunStatus};
use crate::story::kinds::ActionConfig;
use crate::story::value::Duration;
use crate::story::Story;
use crate::yaml::{from_node, Entries, Node, Spanned};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};

/// When every test's clock starts unless it says otherwise: fixed, so runs are reproducible.
pub const DEFAULT_START: &str = "2026-01-01T09:00:00Z";

/// The answer a prompt gets when nobody answers in time.
pub const TIMEOUT: &str = "timeout";

/// A read test file.
#[derive(Debug, Clone)]
pub struct TestFile {
    /// Resource values for every test (`okta_url: https://example.okta.com`).
    pub resources: Vec<(String, String)>,
    /// The tests, in file order.
    pub tests: Vec<StoryTest>,
}

/// One test: an entry event, what vendors and people answer, what must happen.
#[derive(Debug, Clone)]
pub struct StoryTest {
    /// Its name (the key under `tests:`) and where it is.
    pub name: Spanned<String>,
    /// What it shows.
    pub description: Option<String>,
    /// The clock at the start (milliseconds since the epoch).
    pub start: Millis,
    /// The request to the story's webhook.
    pub event: EntryEvent,
    /// Canned answers by `action` or `action.step`: the file's, then the test's over them.
    pub answers: Vec<(Spanned<String>, Vec<Response>)>,
    /// Answers to prompts, by prompt action.
    pub prompts: Vec<(Spanned<String>, PromptAnswer)>,
    /// What must hold at the end.
    pub expect: Expect,
}

/// The webhook request that starts the run.
#[derive(Debug, Clone, Deserialize)]
pub struct EntryEvent {
    /// The webhook action; needed only when the story has several.
    pub action: Option<Spanned<String>>,
    /// The request body (JSON).
    pub body: Option<Value>,
    /// Request headers.
    pub headers: Option<Map<String, Value>>,
    /// Query parameters.
    pub query: Option<Map<String, Value>>,
    /// `POST` unless given.
    pub method: Option<String>,
}

impl EntryEvent {
    /// The run's entry payload, as the webhook would store it.
    pub fn payload(&self) -> Value {
        serde_json::json!({
            "body": self.body.clone().unwrap_or_else(|| Value::Object(Map::new())),
            "headers": self.headers.clone().unwrap_or_default(),
            "query": self.query.clone().unwrap_or_default(),
            "method": self.method.as_deref().unwrap_or("POST").to_ascii_uppercase(),
        })
    }
}

/// A canned vendor answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Response {
    /// The status; 200 unless given.
    #[serde(default = "ok")]
    pub status: Spanned<u16>,
    /// Headers (`Retry-After: "60"`, Okta's `X-Rate-Limit-*`).
    pub headers: Option<Entries<String>>,
    /// The body: a mapping or list is sent as JSON, a string as text; none is empty.
    pub body: Option<Value>,
}

fn ok() -> Spanned<u16> {
    Spanned::new(200, Span::default())
}

/// How a prompt is answered.
#[derive(Debug, Clone, Deserialize)]
pub struct PromptAnswer {
    /// A choice's value, or `timeout` (nobody answers; the clock moves past the timeout).
    pub answer: Spanned<String>,
    /// Who answers (a Slack user id); `warden-test` unless given.
    pub responder: Option<String>,
    /// How long after the question the answer comes (the clock moves by this much first).
    pub after: Option<Duration>,
}

/// What must hold when the run is over.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Expect {
    /// The run's final status: `succeeded`, `failed` (or `waiting`).
    pub status: Option<Spanned<String>>,
    /// Actions that ran (had a step).
    pub ran: Option<Vec<Spanned<String>>>,
    /// Actions that did not run.
    pub not_ran: Option<Vec<Spanned<String>>>,
    /// Per action, a subset of the event it emitted (its first).
    pub outputs: Option<Entries<Value>>,
    /// Requests that were sent, in this order (others may come between).
    pub requests: Option<Vec<Spanned<ExpectedRequest>>>,
}

/// A request that must have been sent.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedRequest {
    /// `action` (any of its requests) or `action.step`.
    pub action: Spanned<String>,
    /// `GET`, `POST`, …
    pub method: Option<String>,
    /// The whole URL, query included.
    pub url: Option<String>,
    /// A subset of its headers (names in any case).
    pub headers: Option<Entries<String>>,
    /// A subset of its body (JSON, a form as a mapping, or text).
    pub body: Option<Value>,
}

#[derive(Deserialize)]
struct RawFile {
    resources: Option<Entries<String>>,
    #[allow(dead_code)]
    answers: Option<IgnoredAny>,
    tests: Entries<RawTest>,
}

#[derive(Deserialize)]
struct RawTest {
    description: Option<String>,
    start: Option<Spanned<String>>,
    event: EntryEvent,
    #[allow(dead_code)]
    answers: Option<IgnoredAny>,
    #[allow(dead_code)]
    prompts: Option<IgnoredAny>,
    #[serde(default)]
    expect: Expect,
}

/// Reads a test file; every problem is reported with its position.
pub fn read(source: &str) -> Result<TestFile, Vec<Diagnostic>> {
    let mut d = Vec::new();
    let file = crate::yaml::parse(source, &mut d).and_then(|root| {
        let raw = from_node::<RawFile>(&root, &mut d)?;
        Some(build(&root, raw, &mut d))
    });
    match file {
        Some(file) if d.is_empty() => Ok(file),
        _ => {
            crate::diagnostic::sort_and_dedup(&mut d);
            Err(d)
        }
    }
}

fn build(root: &Node, raw: RawFile, d: &mut Vec<Diagnostic>) -> TestFile {
    let shared = root
        .get("answers")
        .map(|n| answers(n, d))
        .unwrap_or_default();
    let nodes = root.get("tests").and_then(Node::as_map).unwrap_or_default();
    let mut tests = Vec::new();
    for ((name, raw), (_, node)) in raw.tests.0.into_iter().zip(nodes) {
        let mut own = node
            .get("answers")
            .map(|n| answers(n, d))
            .unwrap_or_default();
        // The test's answers replace the file's for the same request.
        let mut merged: Vec<_> = shared
            .iter()
            .filter(|(key, _)| !own.iter().any(|(k, _)| k.value == key.value))
            .cloned()
            .collect();
        merged.append(&mut own);
        let start = match &raw.start {
            None => parse_time(DEFAULT_START).unwrap_or_default(),
            Some(text) => parse_time(text).unwrap_or_else(|| {
                d.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        text.span,
                        format!("`start` is not a time: `{}`", text.value),
                    )
                    .with_hint("write an RFC 3339 time, e.g. 2026-01-01T09:00:00Z"),
                );
                0
            }),
        };
        tests.push(StoryTest {
            name,
            description: raw.description,
            start,
            event: raw.event,
            answers: merged,
            prompts: node
                .get("prompts")
                .map(|n| prompts(n, d))
                .unwrap_or_default(),
            expect: raw.expect,
        });
    }
    if tests.is_empty() {
        d.push(
            Diagnostic::new(Code::InvalidValue, root.span, "the file has no tests")
                .with_hint("add tests under `tests:`, one per path through the story"),
        );
    }
    TestFile {
        resources: (raw.resources.unwrap_or_default().0.into_iter())
            .map(|(k, v)| (k.value, v))
            .collect(),
        tests,
    }
}

fn parse_time(text: &str) -> Option<Millis> {
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// `answers:` — per key, one response or a list of them (one per request, in order).
fn answers(node: &Node, d: &mut Vec<Diagnostic>) -> Vec<(Spanned<String>, Vec<Response>)> {
    let Some(entries) = node.as_map() else {
        d.push(node.wrong_shape("answers", "a mapping of actions to answers"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        let list: Vec<Response> = match value.as_list() {
            Some(items) => items
                .iter()
                .filter_map(|item| from_node::<Response>(item, d))
                .collect(),
            None => from_node::<Response>(value, d).into_iter().collect(),
        };
        for answer in &list {
            if !(100..=599).contains(&answer.status.value) {
                d.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        answer.status.span,
                        format!(
                            "`status` must be an HTTP status, not {}",
                            answer.status.value
                        ),
                    )
                    .with_hint("use 100 to 599"),
                );
            }
        }
        if value.as_list().is_some_and(<[Node]>::is_empty) {
            d.push(value.wrong_shape(&key.name, "an answer or a non-empty list of answers"));
        }
        out.push((Spanned::new(key.name.clone(), key.span), list));
    }
    out
}

/// `prompts:` — per prompt action, a choice's value (or `timeout`), or `{answer, responder,
/// after}`.
fn prompts(node: &Node, d: &mut Vec<Diagnostic>) -> Vec<(Spanned<String>, PromptAnswer)> {
    let Some(entries) = node.as_map() else {
        d.push(node.wrong_shape("prompts", "a mapping of prompt actions to answers"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        let answer = match value.as_str() {
            Some(text) => Some(PromptAnswer {
                answer: Spanned::new(text.to_owned(), value.span),
                responder: None,
                after: None,
            }),
            None => from_node::<PromptAnswer>(value, d),
        };
        if let Some(answer) = answer {
            out.push((Spanned::new(key.name.clone(), key.span), answer));
        }
    }
    out
}

/// Checks a read file against its story: the webhook, every action, prompt, choice and status
/// named exists.
pub fn check(file: &TestFile, story: &Story) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    let ids: Vec<&str> = story.actions.iter().map(|a| a.id.as_str()).collect();
    let action = |name: &Spanned<String>, what: &str, d: &mut Vec<Diagnostic>| {
        if !ids.contains(&name.value.as_str()) {
            d.push(
                Diagnostic::new(
                    Code::UnknownLink,
                    name.span,
                    format!(
                        "{what} `{}` is not an action of story `{}`",
                        name.value, story.id
                    ),
                )
                .with_hint_opt(did_you_mean(&name.value, ids.iter().copied())),
            );
        }
    };
    for test in &file.tests {
        match &test.event.action {
            Some(name) => {
                action(name, "the event's action", &mut d);
                let webhook = story
                    .action(name)
                    .is_some_and(|a| matches!(a.config, ActionConfig::Webhook(_)));
                if story.action(name).is_some() && !webhook {
                    d.push(Diagnostic::new(
                        Code::InvalidValue,
                        name.span,
                        format!("`{}` is not a webhook", name.value),
                    ));
                }
            }
            None if webhooks(story).count() != 1 => d.push(
                Diagnostic::new(
                    Code::MissingKey,
                    test.name.span,
                    format!(
                        "story `{}` has {} webhooks: say which one the event goes to",
                        story.id,
                        webhooks(story).count()
                    ),
                )
                .with_hint("add `action:` under `event:`"),
            ),
            None => {}
        }
        for (key, _) in &test.answers {
            let name = key.value.split('.').next().unwrap_or_default();
            action(&Spanned::new(name.to_owned(), key.span), "answer", &mut d);
        }
        for (name, answer) in &test.prompts {
            action(name, "prompt", &mut d);
            let Some(ActionConfig::Prompt(options)) = story.action(name).map(|a| &a.config) else {
                if story.action(name).is_some() {
                    d.push(Diagnostic::new(
                        Code::InvalidValue,
                        name.span,
                        format!("`{}` is not a prompt", name.value),
                    ));
                }
                continue;
            };
            let choices: Vec<&str> = options.choices.iter().map(|c| c.value.as_str()).collect();
            if answer.answer.value != TIMEOUT && !choices.contains(&answer.answer.as_str()) {
                d.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        answer.answer.span,
                        format!(
                            "`{}` is not a choice of `{}` ({}, or `{TIMEOUT}`)",
                            answer.answer.value,
                            name.value,
                            choices.join(", ")
                        ),
                    )
                    .with_hint_opt(did_you_mean(&answer.answer.value, choices.iter().copied())),
                );
            }
        }
        let expect = &test.expect;
        if let Some(status) = &expect.status {
            if RunStatus::parse(&status.value).is_none() {
                let names = RunStatus::ALL.iter().map(|s| s.as_str());
                d.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        status.span,
                        format!("`{}` is not a run status", status.value),
                    )
                    .with_hint(
                        did_you_mean(&status.value, names)
                            .unwrap_or_else(|| "use succeeded, failed or waiting".to_owned()),
                    ),
                );
            }
        }
        for name in expect.ran.iter().chain(&expect.not_ran).flatten() {
            action(name, "action", &mut d);
        }
        for (name, _) in expect.outputs.iter().flat_map(|o| o.iter()) {
            action(name, "output of", &mut d);
        }
        for request in expect.requests.iter().flatten() {
            let key = &request.action;
            let name = key.value.split('.').next().unwrap_or_default();
            action(
                &Spanned::new(name.to_owned(), key.span),
                "request of",
                &mut d,
            );
        }
    }
    crate::diagnostic::sort_and_dedup(&mut d);
    d
}

fn webhooks(story: &Story) -> impl Iterator<Item = &crate::story::Action> {
    story
        .actions
        .iter()
        .filter(|a| matches!(a.config, ActionConfig::Webhook(_)))
}
