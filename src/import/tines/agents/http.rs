//! `Agents::HTTPRequestAgent` → `http_request`, or → `prompt` when its request carries prompt
//! links (`{% prompt x %}`, `PROMPT("x")`): Warden's first-class prompt sends the same request
//! with `prompt_url("x")` links and waits for the answer.

use super::{seconds, short, Build, Field};
use crate::import::tines::export::truthy;
use crate::import::tines::yaml::Y;
use serde_json::{Map, Value};

const KNOWN: &[&str] = &[
    "url",
    "method",
    "content_type",
    "payload",
    "headers",
    "basic_auth",
    "retry_on_status",
    "timeout",
    "disable_redirect_follow",
    "disable_ssl_verification",
    "user_agent",
    "log_error_on_status",
    "emit_failure_event",
];

/// Whether any string in the request links a prompt.
fn has_prompt(value: &Value) -> bool {
    match value {
        Value::String(s) => {
            s.contains("{% prompt") || s.contains("{%prompt") || s.contains("PROMPT(")
        }
        Value::Array(items) => items.iter().any(has_prompt),
        Value::Object(map) => map.values().any(has_prompt),
        _ => false,
    }
}

/// The status a prompt link in `text` answers with, if it is one.
fn linked_status(text: &str) -> Option<String> {
    if let Some(rest) = text.split("{%").nth(1) {
        let inner = rest.split("%}").next()?.trim();
        if let Some(status) = inner.strip_prefix("prompt") {
            return Some(status.trim().to_owned());
        }
    }
    let rest = text.split("PROMPT(").nth(1)?;
    let inner = rest.split(')').next()?.trim();
    Some(inner.trim_matches(['"', '\'']).to_owned())
}

/// Button labels by the status their link answers: a Slack button (or any object) with a prompt
/// link and a `text` (`"text"` or `{"text": "…"}`).
fn button_labels(value: &Value, labels: &mut std::collections::BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            let status = map
                .values()
                .filter_map(Value::as_str)
                .find_map(linked_status);
            let label = match map.get("text") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Object(t)) => t.get("text").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            };
            if let (Some(status), Some(label)) = (status, label) {
                labels.entry(status).or_insert(label);
            }
            map.values().for_each(|v| button_labels(v, labels));
        }
        Value::Array(items) => items.iter().for_each(|v| button_labels(v, labels)),
        _ => {}
    }
}

/// Converts the request; a request with prompt links becomes a `prompt` with it as `request:`.
pub(super) fn request(b: &mut Build, options: &Map<String, Value>) -> &'static str {
    let mut prompt = options.values().any(has_prompt);
    let response_read: Vec<&String> =
        b.cx.read_downstream
            .iter()
            .filter(|field| *field != "prompt")
            .collect();
    if prompt && !response_read.is_empty() {
        prompt = false;
        b.leave_out(format!(
            "its prompt links: it stays an http_request, because other actions read its response ({}) and Warden's `prompt` emits only the answer",
            response_read.iter().map(|f| format!("`{}.{f}`", b.cx.id)).collect::<Vec<_>>().join(", ")
        ));
    }
    let request = request_options(b, options, prompt);
    if !prompt {
        b.options = request;
        return "http_request";
    }
    let mut statuses: Vec<String> = Vec::new();
    for status in &b.found.prompts {
        let value = crate::import::tines::prompt_status(status);
        if !statuses
            .iter()
            .any(|s| crate::import::tines::prompt_status(s) == value)
        {
            statuses.push(status.clone());
        }
    }
    if statuses.is_empty() {
        b.options = request;
        return "http_request";
    }
    b.options = Y::map();
    b.options.set("request", request);
    let mut labels = std::collections::BTreeMap::new();
    for value in options.values() {
        button_labels(value, &mut labels);
    }
    let choices = statuses
        .iter()
        .map(|status| {
            let mut choice = Y::map();
            choice.set("value", Y::str(crate::import::tines::prompt_status(status)));
            let label = labels
                .get(status.as_str())
                .cloned()
                .unwrap_or_else(|| status.clone());
            choice.set("label", Y::str(label));
            choice
        })
        .collect();
    b.options.set("choices", Y::Seq(choices));
    b.remark("A Tines HTTP action with prompt links: Warden's `prompt` sends this request with single-use");
    b.remark("`prompt_url()` links and emits `{prompt: {status}}` once answered, or `status: timeout` after");
    b.remark("`timeout` (default 24h). Unlike Tines it does not also emit the HTTP response.");
    "prompt"
}

/// The `http_request` options (also a prompt's `request`).
fn request_options(b: &mut Build, options: &Map<String, Value>, prompt: bool) -> Y {
    let saved = std::mem::replace(&mut b.options, Y::map());
    let headers_field = Field {
        credentials: true,
        prompt,
        item: false,
    };
    let url_field = Field {
        credentials: false,
        prompt,
        item: false,
    };
    b.option(options, "url", "url", url_field);
    let method = options
        .get("method")
        .and_then(Value::as_str)
        .map(|m| m.trim().to_ascii_uppercase())
        // The legacy default is POST.
        .unwrap_or_else(|| "POST".into());
    let method = match method.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" => method,
        other => {
            b.leave_out(format!("method `{other}` is not supported; POST is used"));
            "POST".into()
        }
    };
    b.put("method", Y::str(method.clone()), Vec::new());
    let content_type = options
        .get("content_type")
        .or_else(|| options.get("content-type"))
        .and_then(Value::as_str)
        .unwrap_or("json")
        .to_ascii_lowercase()
        .replace(['/', '-'], "_");
    let content_type = match content_type.as_str() {
        "json" | "application_json" | "" => "json",
        "form" | "application_x_www_form_urlencoded" | "x_www_form_urlencoded" => "form",
        "xml" | "text" | "text_plain" | "application_xml" | "text_xml" => "text",
        other => {
            b.leave_out(format!(
                "content type `{other}` (e.g. multipart `data`) has no equivalent; the body is sent as JSON"
            ));
            "json"
        }
    };
    if let Some(payload) = options.get("payload").filter(|p| !is_empty(p)) {
        if matches!(method.as_str(), "GET" | "HEAD" | "DELETE") {
            // Tines sends a GET's payload as query parameters.
            match payload {
                Value::Object(_) => b.option(options, "payload", "query", url_field),
                other => b.leave_out(format!(
                    "a {method} payload that is not a mapping ({}) cannot become query parameters",
                    short(other)
                )),
            }
        } else {
            let fits = match content_type {
                "form" => payload.is_object(),
                "text" => payload.is_string(),
                _ => true,
            };
            if fits {
                if content_type != "json" {
                    b.put("content_type", Y::str(content_type), Vec::new());
                }
            } else {
                b.leave_out(format!(
                    "a `{content_type}` body must be a {}; it is sent as JSON",
                    if content_type == "form" {
                        "mapping"
                    } else {
                        "string"
                    }
                ));
            }
            b.option(options, "payload", "body", headers_field);
        }
    }
    let mut headers: Map<String, Value> = options
        .get("headers")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(agent) = options.get("user_agent").filter(|v| !is_empty(v)) {
        headers.insert("User-Agent".into(), agent.clone());
    }
    if !headers.is_empty() {
        let headers: Map<String, Value> = headers
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(_) => (k, v),
                other => (k, Value::String(other.to_string())),
            })
            .collect();
        b.option(
            &Map::from_iter([("headers".to_owned(), Value::Object(headers))]),
            "headers",
            "headers",
            headers_field,
        );
    }
    basic_auth(b, options, headers_field);
    if let Some(statuses) = options.get("retry_on_status").filter(|v| !is_empty(v)) {
        match status_list(statuses) {
            Some(list) => b.put("retry_on_status", Y::Seq(list), Vec::new()),
            None => b.leave_out(format!(
                "`retry_on_status` ({}) is not a list of statuses",
                short(statuses)
            )),
        }
    }
    if let Some(timeout) = options.get("timeout") {
        match seconds(timeout) {
            Some(d) => b.put("timeout", d, Vec::new()),
            None => b.leave_out(format!(
                "`timeout` ({}) is not a number of seconds",
                short(timeout)
            )),
        }
    }
    if options.get("disable_redirect_follow").is_some_and(truthy) {
        b.put("follow_redirects", Y::Bool(false), Vec::new());
    }
    if options.get("disable_ssl_verification").is_some_and(truthy) {
        b.leave_out("`disable_ssl_verification`: Warden always verifies TLS certificates");
    }
    if let Some(codes) = options.get("log_error_on_status").filter(|v| !is_empty(v)) {
        b.leave_out(format!(
            "`log_error_on_status` ({}): give the statuses that count as success with `success_status`",
            short(codes)
        ));
    }
    if options.get("emit_failure_event").is_some_and(truthy) {
        b.remark("Tines' `emit_failure_event`: a failed request goes along this action's `.failure` links.");
    }
    b.unknown_options(options, KNOWN);
    std::mem::replace(&mut b.options, saved)
}

fn basic_auth(b: &mut Build, options: &Map<String, Value>, field: Field) {
    let Some(auth) = options.get("basic_auth").filter(|v| !is_empty(v)) else {
        return;
    };
    let pair = match auth {
        Value::Array(items) if items.len() == 2 => Some((items[0].clone(), items[1].clone())),
        Value::String(s) => {
            // Split at the first `:` outside a template.
            let split = s
                .char_indices()
                .filter(|(_, c)| *c == ':')
                .map(|(i, _)| i)
                .find(|&i| {
                    let before = &s[..i];
                    before.matches("{{").count() == before.matches("}}").count()
                        && before.matches("{%").count() == before.matches("%}").count()
                        && before.matches("<<").count() == before.matches(">>").count()
                });
            split.map(|i| {
                (
                    Value::String(s[..i].into()),
                    Value::String(s[i + 1..].into()),
                )
            })
        }
        _ => None,
    };
    let Some((user, password)) = pair else {
        b.leave_out(format!(
            "`basic_auth` ({}) is not `user:password`",
            short(auth)
        ));
        return;
    };
    let mut notes = Vec::new();
    let mut y = Y::map();
    y.set("username", b.translate(&user, field, &mut notes));
    y.set("password", b.translate(&password, field, &mut notes));
    b.put("basic_auth", y, notes);
}

/// `["429", 500, "500-599"]` → statuses Warden reads; `None` if one is not a status.
fn status_list(value: &Value) -> Option<Vec<Y>> {
    let items = match value {
        Value::Array(items) => items.clone(),
        Value::String(s) => s
            .split(',')
            .map(|p| Value::String(p.trim().into()))
            .collect(),
        other => vec![other.clone()],
    };
    items
        .iter()
        .map(|item| match item {
            Value::Number(n) => n
                .as_u64()
                .filter(|n| *n <= 599)
                .map(|n| Y::Num(n.to_string())),
            Value::String(s) => {
                let s = s.trim();
                if let Ok(n) = s.parse::<u16>() {
                    return (n <= 599).then(|| Y::Num(n.to_string()));
                }
                let (low, high) = s.split_once('-')?;
                let (low, high) = (
                    low.trim().parse::<u16>().ok()?,
                    high.trim().parse::<u16>().ok()?,
                );
                (low <= high && high <= 599).then(|| Y::str(format!("{low}-{high}")))
            }
            _ => None,
        })
        .collect()
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}
