//! `actions.md`: each action kind (and transform mode), its options from the story JSON Schema,
//! and the event it emits, produced by the code the action runs.

use super::markdown::{fenced, json_block, nested_tables, options_table};
use super::{example_action, example_story, EXAMPLE_NOW};
use crate::actions::{http, prompt, send_to_story, transform, trigger};
use crate::story::kinds::http_request::ResponseFormat;
use crate::story::kinds::transform::TransformOptions;
use crate::story::{schema, ActionConfig, Story};
use crate::template::Context;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The built-in kinds, in the order the page lists them (the story format's order).
pub(super) use crate::story::kinds::KINDS;

/// The transform modes, in the order the page lists them.
pub(super) use crate::story::kinds::transform::MODES;

const INTRO: &str = "# Actions

Every action of a story has a kind (`type:`) or uses an integration template (`uses:`). This page
lists each kind's options and the **event it emits**: what the actions after it read as
`{{ <action id>.… }}`. An action that fails sends the [failure event](failure-event.md) along its
`.failure` links instead.

Options come from the same source as `warden schema`; every example event below was produced
by running Warden's own code on the example input (`warden docs` regenerates this page, and a
test checks it is current).

The examples run on the event of a `webhook` action `alert` (the `webhook` section below says
what it holds).

";

/// The body of the example request.
const ALERT_BODY: &str = r#"{"eventType": "user.account.privilege.grant", "actor": "jane@example.com", "ip": "203.0.113.7", "message": "grant from 203.0.113.7 by user=jane, then 198.51.100.23", "targets": [{"id": "00u1abc", "type": "User"}, {"id": "00g2def", "type": "Group"}]}"#;

/// The URL secret of the example request.
const URL_SECRET: &str = "s3cr3t-url-token";

/// The headers of the example request, as sent.
const ALERT_HEADERS: &[(&str, &str)] = &[
    ("content-type", "application/json"),
    ("user-agent", "Panther"),
    ("authorization", "Bearer pan-abc123"),
    ("x-original-uri", "/webhook/docs-example/s3cr3t-url-token"),
];

/// The event the examples start from: what the webhook action `alert` of the example story
/// emits for the example request (`api::webhook::event`, as the server builds it).
pub(super) fn alert_event() -> Value {
    let story = example_story();
    let ActionConfig::Webhook(options) = &example_action(&story, "alert").config else {
        panic!("`alert` is a webhook")
    };
    let mut headers = HeaderMap::new();
    for (name, value) in ALERT_HEADERS {
        headers.insert(*name, HeaderValue::from_static(value));
    }
    let body = axum::body::Bytes::from_static(ALERT_BODY.as_bytes());
    crate::api::webhook::event(
        &reqwest::Method::POST,
        None,
        &headers,
        &body,
        options,
        URL_SECRET,
    )
    .expect("the example request is valid")
}

/// A context with `alert` (and `extra` roots) in scope.
fn context(extra: &[(&str, Value)]) -> Context {
    let mut roots = Map::new();
    roots.insert("alert".into(), alert_event());
    for (name, value) in extra {
        roots.insert((*name).to_owned(), value.clone());
    }
    Context::new(roots)
}

/// The page.
pub(super) fn page() -> String {
    let schema = schema::story_schema(&BTreeMap::new());
    let defs = schema["$defs"].as_object().cloned().unwrap_or_default();
    let variants = schema["$defs"]["Action"]["oneOf"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let story = example_story();
    let mut out = String::from(INTRO);
    out.push_str("Kinds: ");
    let links: Vec<String> = KINDS.iter().map(|k| format!("[`{k}`](#{k})")).collect();
    out.push_str(&links.join(", "));
    out.push_str(", and [integration templates](#integration-templates-uses).\n");
    for kind in KINDS {
        let variant = variants
            .iter()
            .find(|v| v["properties"]["type"]["const"] == *kind)
            .unwrap_or_else(|| panic!("the schema has no kind `{kind}`"));
        let _ = write!(out, "\n## {kind}\n\n");
        if let Some(description) = variant["properties"]["type"]["description"].as_str() {
            let _ = writeln!(out, "{description}\n");
        }
        let options = &variant["properties"]["options"];
        if *kind == "transform" {
            out.push_str(TRANSFORM_INTRO);
            for mode in MODES {
                let mode_schema = options["oneOf"]
                    .as_array()
                    .and_then(|all| {
                        all.iter()
                            .find(|m| m["properties"]["mode"]["const"] == *mode)
                    })
                    .unwrap_or_else(|| panic!("the schema has no transform mode `{mode}`"));
                let _ = write!(out, "\n### transform: {mode}\n\n");
                if let Some(description) = mode_schema["description"].as_str() {
                    let _ = writeln!(out, "{}\n", super::markdown::cell(description));
                }
                let mut nested = Vec::new();
                out.push_str(&options_table(mode_schema, &defs, &["mode"], &mut nested));
                out.push_str(&nested_tables(&mut nested, &defs));
                out.push_str(&transform_output(&story, mode));
            }
            continue;
        }
        let def = options["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/$defs/"))
            .and_then(|name| defs.get(name))
            .unwrap_or(options);
        out.push_str("### Options\n\n");
        let mut nested = Vec::new();
        out.push_str(&options_table(def, &defs, &[], &mut nested));
        out.push_str(&nested_tables(&mut nested, &defs));
        out.push_str("\n### Output event\n\n");
        out.push_str(&kind_output(&story, kind));
    }
    out.push_str(INTEGRATION);
    out
}

const TRANSFORM_INTRO: &str = "Every transform has `mode:` and the options of its mode. The \
stateful modes (`deduplicate`, `throttle`, `implode`) keep their state per action across runs.\n";

const INTEGRATION: &str = "
## Integration templates (`uses:`)

An action with `uses: vendor/name` and `with:` (the template's inputs) runs the template's
`request`, or its `steps` in order. Its event is the template's `output`, rendered from the
responses; a template without `output` emits the last response's event, the same
`{status, headers, body}` as [`http_request`](#http_request) (or `{}` when every step was
skipped). Failures are those of `http_request`, and a spent rate budget waits without costing
an attempt. `warden schema` lists each shipped template with its inputs.
";

/// The output section of a kind other than `transform`.
fn kind_output(story: &Story, kind: &str) -> String {
    match kind {
        "webhook" => format!(
            "The request as received: `body` (JSON, form fields as a mapping, or text; the query for a \
GET), `headers` (lowercase names, without authentication, cookies, the secret header and any \
header repeating the URL secret), `query` (a mapping) and `method`. For a `POST \
/webhook/docs-example/{URL_SECRET}` with these headers and body:\n\n{}\n{}\nthe event (the \
one the other examples on this page start from) is:\n\n{}\nA run started by [`send_to_story`](#send_to_story) gets the same shape, with \
`body` the payload, empty `headers` and `query`, `method: POST`, and `source`, the step that \
started it:\n\n{}",
            fenced(
                "http",
                &ALERT_HEADERS
                    .iter()
                    .map(|(name, value)| format!("{name}: {value}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            fenced("json", ALERT_BODY),
            json_block(&alert_event()),
            json_block(&send_to_story::child_entry_event(
                json!({"user": "jane@example.com"}),
                "01JGZ7Q3A1B2C3D4E5F6G7H8J9",
                42
            ))
        ),
        "http_request" => {
            let mut headers = HeaderMap::new();
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            headers.append("x-ratelimit-remaining", HeaderValue::from_static("3"));
            let body = http::parse_body(
                br#"{"data": {"id": "203.0.113.7", "attributes": {"last_analysis_stats": {"malicious": 4, "harmless": 60}}}}"#,
                ResponseFormat::Auto,
                true,
            )
            .expect("valid JSON");
            let event = http::response_event(200, http::headers_json(&headers), body);
            format!(
                "The response: `status`, `headers` (lowercase names; a repeated header's values joined \
with `, `) and `body` (JSON when the content type is JSON or `response: json`, otherwise text). \
Only statuses in `success_status` are emitted; others are failures (see the \
[failure event](failure-event.md)).\n\n{}",
                json_block(&event)
            )
        }
        "trigger" => {
            let ActionConfig::Trigger(options) = &example_action(story, "is_admin_grant").config
            else {
                panic!("`is_admin_grant` is a trigger")
            };
            let matched = trigger::evaluate(options, &context(&[])).expect("renders");
            let mut other = alert_event();
            other["body"]["actor"] = json!("mallory@elsewhere.test");
            let mut roots = Map::new();
            roots.insert("alert".into(), other);
            let missed = trigger::evaluate(options, &Context::new(roots)).expect("renders");
            format!(
                "The verdict, not the incoming event: `matched` and each rule's `type` and `matched` \
(the values tested are not copied). A match goes along plain links, a miss along `.no_match` \
links, with the same shape. Later actions read the original event through its own action id.\n\n\
{}\nOn the example event, with rules `field==value` on `eventType` and `regex` `@example\\.com$` \
on `actor`:\n\n{}\nWith `actor: mallory@elsewhere.test` (sent along `.no_match`):\n\n{}",
                fenced(
                    "yaml",
                    "rules:\n  - { type: \"field==value\", path: \"{{ alert.body.eventType }}\", value: user.account.privilege.grant }\n  - { type: regex, path: \"{{ alert.body.actor }}\", value: \"@example\\\\.com$\" }"
                ),
                json_block(&matched.event),
                json_block(&missed.event)
            )
        }
        "prompt" => format!(
            "Once answered: `prompt.status` is the chosen choice's `value`, `responder` who \
answered (the Slack user id, or `prompt_url` for an answer through a signed link) and \
`responded_at`:\n\n{}\nWhen \
`timeout` passes first, `status` is `timeout`:\n\n{}",
            json_block(&prompt::answer_event(
                json!("deny"),
                Some(json!("U024BE7LH")),
                EXAMPLE_NOW
            )),
            json_block(&prompt::answer_event(json!("timeout"), None, EXAMPLE_NOW))
        ),
        "send_to_story" => format!(
            "Without `wait`, the child run's id, at once:\n\n{}\nWith `wait: true`, once the \
child run finished: its id, `status` (`succeeded` or `failed`) and `result`, the last event it \
emitted (null when none). A child still running at `timeout` fails the step.\n\n{}",
            json_block(&send_to_story::started_event("01JGZ7Q3A1B2C3D4E5F6G7H8J9")),
            json_block(&send_to_story::finished_event(
                "01JGZ7Q3A1B2C3D4E5F6G7H8J9",
                "succeeded",
                json!({"status": 200, "headers": {}, "body": {"suspended": true}})
            ))
        ),
        other => panic!("no output section for kind `{other}`"),
    }
}

/// The transform options of example action `id`.
fn transform_options<'a>(story: &'a Story, id: &str) -> &'a TransformOptions {
    match &example_action(story, id).config {
        ActionConfig::Transform(options) => options,
        _ => panic!("`{id}` is a transform"),
    }
}

/// The output section of a transform mode.
fn transform_output(story: &Story, mode: &str) -> String {
    let ctx = context(&[]);
    let mut out = String::from("\n#### Output event\n\n");
    let text = match (mode, transform_options(story, example_id(mode))) {
        ("message", TransformOptions::Message(o)) => {
            let plain = transform::message(o, &ctx).expect("renders");
            let TransformOptions::Message(looping) = transform_options(story, "target_ids") else {
                panic!("`target_ids` is a message")
            };
            let looped = transform::message(looping, &ctx).expect("renders");
            format!(
                "The rendered `payload` (a field that is one `{{{{ }}}}` keeps its JSON type):\n\n{}\n{}\n\
With `loop`, a list: the payload rendered once per element, `item.value`, `item.index` and \
`item.key` (null for a list) in scope:\n\n{}\n{}",
                fenced("yaml", "payload: { user: \"{{ alert.body.actor }}\", ip: \"{{ alert.body.ip }}\", targets: \"{{ alert.body.targets | length }}\" }"),
                json_block(&plain),
                fenced("yaml", "loop: \"{{ alert.body.targets }}\"\npayload: { n: \"{{ item.index }}\", id: \"{{ item.value.id }}\" }"),
                json_block(&looped)
            )
        }
        ("extract", TransformOptions::Extract(o)) => {
            let event = transform::extract(o, &ctx).expect("renders");
            format!(
                "One list of matches per `to` key (a regex with a group collects group 1). No event \
when nothing matched, unless `emit_no_match`.\n\n{}\n{}",
                fenced("yaml", "matchers:\n  - { path: \"{{ alert.body.message }}\", regex: \"\\\\b\\\\d{1,3}(?:\\\\.\\\\d{1,3}){3}\\\\b\", to: ips }\n  - { path: \"{{ alert.body.message }}\", regex: \"user=(\\\\w+)\", to: users }"),
                json_block(&event.unwrap_or(Value::Null))
            )
        }
        ("explode", TransformOptions::Explode(o)) => {
            let events = transform::explode(o, &ctx, EXAMPLE_GUID).expect("renders");
            format!(
                "One event per element (at most `limit`): the element under `to`, its `index`, \
`size` (the number of events emitted) and `guid` (shared by the events of one explode; an \
implode groups by it). A value that is not a list emits nothing. The two events of the \
example:\n\n{}\n{}",
                fenced("yaml", "path: \"{{ alert.body.targets }}\"\nto: target"),
                json_block(&Value::Array(events))
            )
        }
        ("implode", TransformOptions::Implode(o)) => {
            // Each exploded event as the implode step sees it: under the explode's action id.
            let items: Vec<(u64, Value, u64)> = exploded(story)
                .into_iter()
                .map(|event| {
                    let ctx = context(&[("each_target", event.clone())]);
                    let item =
                        crate::actions::render("item_path", &o.item_path, &ctx).expect("renders");
                    let size =
                        crate::actions::render("size_path", &o.size_path, &ctx).expect("renders");
                    let index = event["index"].as_u64().expect("explode sets `index`");
                    (index, item, size.as_u64().expect("a count"))
                })
                .collect();
            let mut state = None;
            let mut complete = None;
            for (index, item, size) in &items {
                let (next, emitted) = transform::implode_add(state, *index, item.clone(), *size);
                state = Some(next);
                complete = complete.or(emitted);
            }
            let (index, item, size) = &items[0];
            let (first, _) = transform::implode_add(None, *index, item.clone(), *size);
            let (_, partial) = transform::implode_flush(Some(first));
            format!(
                "Once every index of a group arrived: `items` (each event's `item_path`, in index \
order) and `size`:\n\n{}\n{}\nWhen `timeout` passes first, what arrived, with `partial: \
true` (here only index 0 of 2); nothing when nothing arrived:\n\n{}",
                fenced("yaml", "guid_path: \"{{ each_target.guid }}\"\nsize_path: \"{{ each_target.size }}\"\nitem_path: \"{{ each_target.target.id }}\""),
                json_block(&complete.unwrap_or(Value::Null)),
                json_block(&partial.unwrap_or(Value::Null))
            )
        }
        ("deduplicate", TransformOptions::Deduplicate(o)) => {
            let key = crate::actions::render("path", &o.path, &ctx).expect("renders");
            format!(
                "For a key not seen within `period` (or the last `lookback` events): `key`, the \
rendered `path`. A duplicate emits nothing.\n\n{}\n{}",
                fenced("yaml", "path: \"{{ alert.body.actor }}\"\nperiod: 1h"),
                json_block(&transform::deduplicated_event(key))
            )
        }
        ("delay", TransformOptions::Delay(o)) => {
            // The step waits until `delay_until`, and emits when woken then.
            let now = jiff::Timestamp::from_millisecond(EXAMPLE_NOW).expect("a valid instant");
            let until = transform::delay_until(o, &ctx, now).expect("renders");
            format!(
                "When released: `released_at` (RFC 3339). The incoming event is not repeated; read \
it through its action id. With `duration: 5m`, an event that arrived at {}:\n\n{}",
                crate::clock::rfc3339(EXAMPLE_NOW),
                json_block(&transform::released_event(until.as_millisecond()))
            )
        }
        ("throttle", TransformOptions::Throttle(_)) => format!(
            "When released (at once while the budget lasts, else in order as it refills): \
`released_at`, like `delay`.\n\n{}",
            json_block(&transform::released_event(EXAMPLE_NOW))
        ),
        (mode, _) => panic!("the example action of mode `{mode}` has another mode"),
    };
    out.push_str(&text);
    out
}

/// The `guid` of the example explode (`<run id>-<step id>` in a run).
const EXAMPLE_GUID: &str = "01JGZ7Q3A1B2C3D4E5F6G7H8J9-7";

/// The example explode's events.
fn exploded(story: &Story) -> Vec<Value> {
    let TransformOptions::Explode(o) = transform_options(story, "each_target") else {
        panic!("`each_target` is an explode")
    };
    transform::explode(o, &context(&[]), EXAMPLE_GUID).expect("renders")
}

/// The example story's action of each mode.
fn example_id(mode: &str) -> &'static str {
    match mode {
        "message" => "summary",
        "extract" => "addresses",
        "explode" => "each_target",
        "implode" => "all_targets",
        "deduplicate" => "once_per_user",
        "delay" => "later",
        "throttle" => "slowly",
        other => panic!("no example of mode `{other}`"),
    }
}
