//! `failure-event.md`: the event a `.failure` link carries, built by
//! `engine::machine::failure_event` from the errors the actions raise.

use super::actions::alert_event;
use super::markdown::json_block;
use super::{example_action, example_story};
use crate::actions::{http, transform, Error};
use crate::engine::machine;
use crate::run::StepEnd;
use crate::story::kinds::transform::TransformOptions;
use crate::story::{ActionConfig, Story};
use crate::template::Context;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Map, Value};
use std::fmt::Write as _;

const INTRO: &str = "# The failure event

When an action fails for good, the step fails and the event below goes along the action's
`.failure` links (`from: vt_lookup.failure`). With no `.failure` link the run ends `failed`.
\"For good\" means: a permanent or misconfigured error at once, a retriable error once its
`max_attempts` are spent (retries wait with exponential backoff, or exactly the vendor's
`Retry-After`), and a step lost with its worker `WARDEN_POISON_LIMIT` times.

Every example below was built by Warden's own code (`engine::machine::failure_event` over the
errors the actions raise); `warden docs` regenerates this page.

## Fields

| field | present | what it holds |
|---|---|---|
| `error.class` | always | `retriable`, `permanent`, `misconfigured` or `poisoned` (below) |
| `error.message` | always | what went wrong, e.g. `HTTP 404`; never a credential value |
| `status` | when a response came back | its HTTP status |
| `headers` | when a response came back | its headers, lowercase names |
| `body` | when a response came back | its body, JSON or text as in `http_request`'s event |
| other keys | some errors | context worth keeping, e.g. `loop: {index, key}` for a looping message that failed on one element |

The response fields sit at the top level, beside `error`, exactly as in the action's own event,
so a failure handler reads `{{ vt_lookup.status }}` and `{{ vt_lookup.body }}` the way a
success handler would, plus `{{ vt_lookup.error.class }}`. The run's API shows the stored
error of the step as `{class, message, details}`, `details` holding those same fields.

## Classes

| class | meaning | examples |
|---|---|---|
| `retriable` | worth another attempt; retried first, the event is sent after the last attempt | a timeout or lost connection, 429, 5xx, any status in `retry_on_status` |
| `permanent` | the same input fails the same way | other 4xx, a body that is not JSON with `response: json`, a template over missing data with `\\| required` or `strict_data`, a template reading a credential or resource that is not set |
| `misconfigured` | an operator must act; logged at ERROR | 401/403 (a refused credential), a destination refused by the outbound guard, a `send_to_story` whose story is not loaded, a Slack prompt without the `slack` credential |
| `poisoned` | the step was lost with its worker too many times and is not run again | a step that crashes every worker that takes it |
";

/// The page.
pub(super) fn page() -> String {
    let story = example_story();
    let mut out = String::from(INTRO);
    out.push_str("\n## Examples\n");
    for (title, error) in examples(&story) {
        let _ = write!(out, "\n### {title}\n\n");
        out.push_str(&json_block(&machine::failure_event(&error)));
    }
    let _ = write!(
        out,
        "\n### A poisoned step (lost with its worker 20 times)\n\n{}",
        json_block(&poisoned_event(&story))
    );
    out
}

/// The errors the examples show, each raised by the code that raises it in a run.
fn examples(story: &Story) -> Vec<(&'static str, Error)> {
    let ActionConfig::HttpRequest(options) = &example_action(story, "vt_lookup").config else {
        panic!("`vt_lookup` is an http_request")
    };
    let response = |status: u16, body: &[u8]| {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let body = http::parse_body(
            body,
            crate::story::kinds::http_request::ResponseFormat::Auto,
            true,
        )
        .expect("valid JSON");
        http::response_event(status, http::headers_json(&headers), body)
    };
    let failed = |status: u16, body: &[u8]| {
        http::classify(options, status, None, response(status, body)).expect_err("a failing status")
    };
    let not_found = br#"{"error": {"code": "NotFoundError", "message": "Resource not found."}}"#;
    let unavailable = br#"{"error": {"code": "TransientError", "message": "Please retry."}}"#;
    let refused = br#"{"error": {"code": "WrongCredentialsError"}}"#;
    vec![
        (
            "`http_request` answered 404 (permanent)",
            failed(404, not_found),
        ),
        (
            "`http_request` answered 503 on its last attempt (retriable)",
            failed(503, unavailable),
        ),
        (
            "`http_request` answered 401 (misconfigured: no response fields)",
            failed(401, refused),
        ),
        (
            "A looping `message` whose `loop` is not a list (permanent, no response)",
            not_a_list(story),
        ),
    ]
}

/// The error of the example's looping message when `targets` is a string.
fn not_a_list(story: &Story) -> Error {
    let ActionConfig::Transform(TransformOptions::Message(options)) =
        &example_action(story, "target_ids").config
    else {
        panic!("`target_ids` is a message")
    };
    let mut alert = alert_event();
    alert["body"]["targets"] = json!("00u1abc");
    let mut roots = Map::new();
    roots.insert("alert".into(), alert);
    transform::message(options, &Context::new(roots)).expect_err("a string is not a list")
}

/// The event `engine::machine::poisoned` sends along the failure link of `vt_lookup`.
fn poisoned_event(story: &Story) -> Value {
    let index = story
        .actions
        .iter()
        .position(|a| a.id == "vt_lookup")
        .expect("`vt_lookup` exists");
    match machine::poisoned(story, index, 20, 20) {
        Some(StepEnd::Done { emitted, .. }) if !emitted.is_empty() => emitted[0].payload.clone(),
        other => panic!("a poisoned step with a failure link emits one event, got {other:?}"),
    }
}
