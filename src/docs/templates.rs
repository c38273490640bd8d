//! `templates.md`: what a template can read (scopes), how missing data renders, and every filter
//! and function with examples rendered by the template engine.

use super::filters::{Callable, Entry, Example, Origin, ENTRIES};
use super::markdown::{cell, code, fenced};
use crate::template::{compile, names, Context};
use serde_json::{Map, Value};
use std::fmt::Write as _;

const INTRO: &str = "# Templates

Every string in a story's options is a [minijinja](https://docs.rs/minijinja) template (Jinja2
syntax), compiled when the story is validated. A field that is exactly one `{{ expression }}`
keeps the expression's JSON type (a number, a list, `null`); any other field renders to text,
where lists, mappings, booleans and null print as compact JSON. There is no HTML escaping,
except in a prompt's Slack text, where every `{{ }}` value is escaped for Slack unless it is
`| safe`. Every render has a fuel budget, so no template can hang the runner.

Every result on this page was rendered by Warden's template engine from the template and data
shown (`warden docs` regenerates the page, and a test checks each result).
";

/// What each root scope holds; `template::SCOPES` must all be here (a test checks it).
pub(super) const SCOPES: &[(&str, &str, &str)] = &[
    ("<action id>", "everywhere, for the action's ancestors (the actions it follows, directly or not)", "the event that action emitted (see [actions](actions.md)), or on a `.failure` link its [failure event](failure-event.md)"),
    ("run", "everywhere", "`id`, `story`, `story_version` (hash of the story's source), `started_at` (RFC 3339)"),
    ("step", "everywhere", "`id`, `action` (the action id), `attempt` (1 on the first execution), `idempotency_key` (`warden-<run>-<step>`, also sent as `Idempotency-Key`)"),
    ("resources", "everywhere", "`resources.<name>`: the values of the resources the story or its templates declare (`WARDEN_RESOURCE_<NAME>`)"),
    ("credentials", "only in an outbound request's `headers`, `body`, `basic_auth` and `bearer_token` (never a URL)", "`credentials.<name>`: the declared credentials' values (`WARDEN_CREDENTIAL_<NAME>`); scrubbed from every error and stored event"),
    ("inputs", "only inside integration templates", "`inputs.<name>`: the values the action's `with:` gave"),
    ("item", "only in a looping `message` transform's `payload`", "`value` (the element), `index` (from 0) and `key` (a mapping's key, else null)"),
];

/// A template rendered against `data` (JSON text), in a strict context.
pub(super) fn render(source: &str, data: &str) -> Result<Value, String> {
    render_in(source, data, false).0
}

/// A template rendered against `data`; `tolerant` as a story without `strict_data`. Also the
/// paths the render found missing.
fn render_in(source: &str, data: &str, tolerant: bool) -> (Result<Value, String>, Vec<String>) {
    let roots: Map<String, Value> =
        serde_json::from_str(data).expect("example data is a JSON object");
    let mut ctx = Context::new(roots);
    if tolerant {
        ctx = ctx.tolerating_missing_data();
    }
    let result = compile(source)
        .and_then(|c| c.render(&ctx))
        .map_err(|e| e.to_string());
    (result, ctx.missing_data())
}

/// A result as a table cell.
fn shown(result: &Result<Value, String>) -> String {
    match result {
        Ok(value) => code(&serde_json::to_string(value).unwrap_or_default()),
        Err(message) => format!("fails: {}", cell(message)),
    }
}

/// The data an example shows: none for `{}`; for `prompt_url`, the prompt's choices (its URLs
/// are a hidden variable the runner sets).
fn data_cell(example: &Example) -> String {
    if example.data == "{}" {
        return String::new();
    }
    let data: Value = serde_json::from_str(example.data).unwrap_or_default();
    if let Some(Value::Object(urls)) = data.get(crate::template::PROMPT_URLS) {
        let choices: Vec<String> = urls.keys().map(|k| format!("`{k}`")).collect();
        return format!("a prompt's `request`, choices {}", choices.join(" and "));
    }
    code(example.data)
}

/// The missing-data examples: a template, data, and whether the story is `strict_data`.
const MISSING: &[(&str, &str, bool)] = &[
    (
        "{{ alert.client.city }}",
        r#"{"alert": {"client": {"ip": "203.0.113.7"}}}"#,
        false,
    ),
    (
        "City: {{ alert.client.city }}.",
        r#"{"alert": {"client": {"ip": "203.0.113.7"}}}"#,
        false,
    ),
    (
        "{{ alert.client.geo.city }}",
        r#"{"alert": {"client": {"geo": null}}}"#,
        false,
    ),
    (
        "{{ alert.client.city | default('unknown') }}",
        r#"{"alert": {"client": {}}}"#,
        false,
    ),
    (
        "{{ alert.client.city is defined }}",
        r#"{"alert": {"client": {}}}"#,
        false,
    ),
    (
        "{{ alert.client.city | required }}",
        r#"{"alert": {"client": {}}}"#,
        false,
    ),
    (
        "{{ alert.client.city }}",
        r#"{"alert": {"client": {}}}"#,
        true,
    ),
];

/// The page.
pub(super) fn page() -> String {
    let mut out = String::from(INTRO);
    out.push_str(
        "\n## What a template can read\n\n| root | where | what it holds |\n|---|---|---|\n",
    );
    for (root, place, holds) in SCOPES {
        let _ = writeln!(out, "| `{root}` | {place} | {holds} |");
    }
    out.push_str(
        "\nA name that is none of these (a typo, an action that is not an ancestor, an undeclared \
credential) is refused by `warden validate` with its position. `prompt_url()` is the one \
function only a prompt's `request` can call.\n",
    );
    out.push_str(MISSING_INTRO);
    out.push_str(
        "| template | data | story | result | missing paths recorded |\n|---|---|---|---|---|\n",
    );
    for (source, data, strict) in MISSING {
        let (result, missing) = render_in(source, data, !strict);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            code(source),
            code(data),
            if *strict {
                "`strict_data: true`"
            } else {
                "default"
            },
            shown(&result),
            missing
                .iter()
                .map(|m| code(m))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out.push_str("\n## Warden's filters\n\nBeyond Jinja's builtins (below), for security data. Errors name the filter and the problem, never the filtered value (it may be a secret).\n");
    for entry in ENTRIES
        .iter()
        .filter(|e| e.origin == Origin::Warden && e.callable == Callable::Filter)
    {
        out.push_str(&section(entry));
    }
    out.push_str("\n## Functions\n");
    for entry in ENTRIES.iter().filter(|e| e.callable == Callable::Function) {
        out.push_str(&section(entry));
    }
    out.push_str("\n## Jinja's builtin filters\n\nminijinja's builtins, as Jinja2 documents them; one example each.\n\n| filter | signature | result | example | data | output |\n|---|---|---|---|---|---|\n");
    for entry in ENTRIES
        .iter()
        .filter(|e| e.callable == Callable::Filter && e.origin == Origin::Builtin)
    {
        for (i, example) in entry.examples.iter().enumerate() {
            let (name, signature, result) = if i == 0 {
                (
                    format!("`{}`", entry.name),
                    code(entry.signature),
                    cell(entry.result),
                )
            } else {
                Default::default()
            };
            let _ = writeln!(
                out,
                "| {name} | {signature} | {result} | {} | {} | {} |",
                code(example.source),
                data_cell(example),
                shown(&render(example.source, example.data))
            );
        }
    }
    out.push_str("\n## Tests\n\n`value is name` (and `is not`), as in Jinja: ");
    let tests: Vec<String> = names::Callable::Test
        .known_names()
        .iter()
        .map(|t| format!("`{t}`"))
        .collect();
    out.push_str(&tests.join(", "));
    out.push_str(".\n\n");
    out.push_str(&fenced(
        "jinja",
        "{% if alert.tags is defined and 'admin' in alert.tags %}…{% endif %}",
    ));
    out
}

const MISSING_INTRO: &str = "
## Missing data

Names are checked when the story is validated; what is missing at run time is data (an optional
field of an alert, a branch that did not run). By default a step then reads it as empty
instead of failing, as in Tines: text prints nothing, a field that is one `{{ expression }}` is
`null`, and the step records the missing paths (`missing_data` on the step in
`/api/runs/{id}` and `warden runs show`). `| required` makes one value strict (missing or null
fails the step), and `strict_data: true` at the top of a story makes every missing value a
failure. A credential or resource that is not set always fails the step.

";

/// A Warden filter's or a function's section: signature, arguments, result, examples.
fn section(entry: &Entry) -> String {
    let mut out = format!("\n### `{}`\n\n", entry.name);
    let _ = writeln!(
        out,
        "{}\n",
        fenced("jinja", &format!("{{{{ {} }}}}", entry.signature)).trim_end()
    );
    let _ = writeln!(out, "- **Arguments:** {}", entry.arguments);
    let _ = writeln!(out, "- **Result:** {}\n", entry.result);
    out.push_str("| template | data | result |\n|---|---|---|\n");
    for example in entry.examples {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            code(example.source),
            data_cell(example),
            shown(&render(example.source, example.data))
        );
    }
    out
}
