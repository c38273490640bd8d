//! `Agents::TriggerAgent` → `trigger`, and `Agents::EventTransformationAgent` → `transform` by
//! mode.

use super::{placeholder, seconds, short, Build, Field};
use crate::import::tines::export::{number, truthy, Agent};
use crate::import::tines::yaml::Y;
use serde_json::{Map, Value};

/// Tines' rule tokens Warden has, spelled the same.
const TOKENS: &[&str] = &[
    "regex",
    "!regex",
    "field==value",
    "field!=value",
    "field<value",
    "field<=value",
    "field>value",
    "field>=value",
    "in",
    "not in",
];

pub(super) fn trigger(b: &mut Build, options: &Map<String, Value>) -> &'static str {
    let mut rules = Vec::new();
    let mut notes = Vec::new();
    for rule in options
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = rule.get("type").and_then(Value::as_str).unwrap_or_default();
        if !TOKENS.contains(&kind) {
            notes.push(format!(
                "rule type `{kind}` has no equivalent; the rule is left out"
            ));
            continue;
        }
        let path = rule
            .get("path")
            .cloned()
            .unwrap_or(Value::String(String::new()));
        let value = rule
            .get("value")
            .cloned()
            .unwrap_or(Value::String(String::new()));
        let mut y = Y::map();
        y.set("type", Y::str(kind));
        let path = match &path {
            Value::String(s) => Y::Str(b.text(s, Field::default(), &mut notes)),
            other => Y::Str(other.to_string()),
        };
        y.set("path", path);
        let value = b.translate(&value, Field::default(), &mut notes);
        // A regex is checked as written once translated: a literal one must compile here.
        if kind.ends_with("regex") {
            if let Some(bad) = bad_regex(&to_json(&value), true) {
                notes.push(format!(
                    "rule `{kind}` on `{}`: {bad}; the rule is left out",
                    short(&rule.get("path").cloned().unwrap_or_default())
                ));
                continue;
            }
        }
        y.set("value", value);
        rules.push(y);
    }
    if rules.is_empty() {
        notes.push("no rule could be translated: this trigger lets every event through".into());
        let mut y = Y::map();
        y.set("type", Y::str("regex"));
        y.set("path", Y::str(""));
        y.set("value", Y::str(""));
        rules.push(y);
    }
    let count = rules.len();
    b.put("rules", Y::Seq(rules), notes);
    if let Some(n) = options.get("must_match").and_then(number) {
        if n >= 1.0 && n.fract() == 0.0 && (n as usize) <= count {
            b.put("must_match", Y::Num((n as u64).to_string()), Vec::new());
        } else {
            b.leave_out(format!(
                "`must_match: {n}` does not fit the {count} rules kept; all must match"
            ));
        }
    }
    b.unknown_options(options, &["rules", "must_match", "emit_no_match"]);
    "trigger"
}

/// The strings of a translated value, as JSON.
fn to_json(y: &Y) -> Value {
    match y {
        Y::Str(s) => Value::String(s.clone()),
        Y::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        _ => Value::Null,
    }
}

/// Why a regex (or one in a list) would not compile, if it would not. With `skip_templates`,
/// values with template markup are left to run time.
fn bad_regex(value: &Value, skip_templates: bool) -> Option<String> {
    let patterns: Vec<&str> = match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    patterns
        .into_iter()
        .filter(|p| !skip_templates || (!p.contains("{{") && !p.contains("{%")))
        .find_map(|p| {
            crate::pattern::compile_regex(p, true).err().map(|e| {
                format!(
                    "regex `{p}` is not valid here ({})",
                    crate::pattern::regex_error_summary(&e)
                )
            })
        })
}

pub(super) fn transform(b: &mut Build, agent: &Agent) -> &'static str {
    let options = &agent.options;
    let mode = options
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("message_only");
    let common = ["mode"];
    let known: &[&str] = match mode {
        "message_only" | "message" => {
            b.put("mode", Y::str("message"), Vec::new());
            let looping = options.get("loop").is_some_and(|l| {
                !matches!(l, Value::Bool(false) | Value::Null)
                    && !matches!(l, Value::String(s) if s.is_empty() || s == "false")
            });
            if looping {
                b.option(options, "loop", "loop", Field::default());
            }
            let item = Field {
                item: looping,
                ..Field::default()
            };
            match options.get("payload") {
                Some(_) => b.option(options, "payload", "payload", item),
                None => b.put("payload", Y::map(), Vec::new()),
            }
            &["loop", "payload"]
        }
        "extract" => {
            b.put("mode", Y::str("extract"), Vec::new());
            let mut matchers = Vec::new();
            let mut notes = Vec::new();
            for m in options
                .get("matchers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let regex = m
                    .get("regexp")
                    .or_else(|| m.get("regex"))
                    .cloned()
                    .unwrap_or_default();
                if !regex.is_string() {
                    notes.push(format!(
                        "matcher without a regex ({}); it is left out",
                        short(&regex)
                    ));
                    continue;
                }
                if let Some(bad) = bad_regex(&regex, false) {
                    notes.push(format!("matcher: {bad}; it is left out"));
                    continue;
                }
                let mut y = Y::map();
                let path = m.get("path").cloned().unwrap_or_default();
                y.set("path", Y::Str(path_template(b, &path, &mut notes)));
                y.set("regex", Y::from_json(&regex));
                let to = m
                    .get("to")
                    .and_then(Value::as_str)
                    .filter(|t| !t.trim().is_empty())
                    .unwrap_or("matches");
                y.set("to", Y::str(to));
                matchers.push(y);
            }
            if matchers.is_empty() {
                b.leave_out("an extract without a matcher Warden can run");
                return placeholder(b, agent);
            }
            b.put("matchers", Y::Seq(matchers), notes);
            if options.get("emit_no_match").is_some_and(truthy) {
                b.put("emit_no_match", Y::Bool(true), Vec::new());
            }
            &["matchers", "emit_no_match"]
        }
        "explode" => {
            b.put("mode", Y::str("explode"), Vec::new());
            let mut notes = Vec::new();
            let path = options.get("path").cloned().unwrap_or_default();
            let path = path_template(b, &path, &mut notes);
            b.put("path", Y::Str(path), notes);
            let to = options
                .get("to")
                .and_then(Value::as_str)
                .filter(|t| !t.trim().is_empty())
                .unwrap_or("individual_item");
            b.put("to", Y::str(to), Vec::new());
            if let Some(limit) = options.get("limit").and_then(number) {
                b.put(
                    "limit",
                    Y::Num((limit as u64).clamp(1, 20_000).to_string()),
                    Vec::new(),
                );
            }
            &["path", "to", "limit"]
        }
        "implode" => {
            b.put("mode", Y::str("implode"), Vec::new());
            let parents = b.cx.parents;
            if !options.contains_key("item_path") {
                b.remark("Tines collected whole events (no `item_path`): this collects the output of the action that sent each one.");
            }
            for key in ["item_path", "guid_path", "size_path"] {
                let mut notes = Vec::new();
                let value = match (key, options.get(key)) {
                    (_, Some(v)) => path_template(b, v, &mut notes),
                    // Tines collects the whole event when no item path is given.
                    // Tines collects whole events: here, the output of whichever linked action sent it.
                    ("item_path", None) => match parents {
                        [] => String::new(),
                        [one] => format!("{{{{ {one} }}}}"),
                        [rest @ .., last] => format!(
                            "{{{{ {} }}}}",
                            rest.iter().rev().fold(last.clone(), |otherwise, id| {
                                format!("({id} if {id} is defined else {otherwise})")
                            })
                        ),
                    },
                    _ => {
                        notes.push(format!("no `{key}` in the export"));
                        String::new()
                    }
                };
                b.put(key, Y::Str(value), notes);
            }
            if let Some(secs) = options.get("seconds") {
                match seconds(secs) {
                    Some(d) => b.put("timeout", d, Vec::new()),
                    None => b.leave_out(format!(
                        "`seconds` ({}) is not a number of seconds",
                        short(secs)
                    )),
                }
            }
            &["item_path", "guid_path", "size_path", "seconds"]
        }
        "deduplicate" => {
            b.put("mode", Y::str("deduplicate"), Vec::new());
            let mut notes = Vec::new();
            let path = options.get("path").cloned().unwrap_or_default();
            let path = path_template(b, &path, &mut notes);
            b.put("path", Y::Str(path), notes);
            match (
                options.get("lookback").and_then(number),
                options.get("period"),
            ) {
                (_, Some(period)) if seconds(period).is_some() => {
                    b.put("period", seconds(period).unwrap_or(Y::Null), Vec::new())
                }
                (Some(n), _) if (1.0..=1000.0).contains(&n) => {
                    b.put("lookback", Y::Num((n as u64).to_string()), Vec::new())
                }
                (lookback, period) => {
                    b.put(
                        "lookback",
                        Y::Num("1000".into()),
                        vec![format!(
                        "lookback {} / period {}: Warden compares with at most 1000 past events",
                        lookback.map_or("none".into(), |n| n.to_string()),
                        period.map_or("none".into(), short)
                    )],
                    );
                }
            }
            &["path", "lookback", "period"]
        }
        "delay" => {
            b.put("mode", Y::str("delay"), Vec::new());
            let until = options.get("until").and_then(Value::as_str).filter(|u| {
                u.contains("<<") || u.contains("{{") || u.contains("{%") || u.starts_with('=')
            });
            match (options.get("seconds").and_then(seconds), until) {
                (Some(d), _) => b.put("duration", d, Vec::new()),
                // A computed time: Warden's `until` takes RFC 3339 or unix seconds.
                (None, Some(_)) => b.option(options, "until", "until", Field::default()),
                (None, None) => {
                    b.put("duration", Y::str("1s"), vec![format!(
                        "`until` ({}) / `seconds` ({}): Tines' natural-language times have no equivalent",
                        options.get("until").map_or("none".into(), short),
                        options.get("seconds").map_or("none".into(), short)
                    )]);
                }
            }
            &["seconds", "until"]
        }
        "throttle" => {
            b.put("mode", Y::str("throttle"), Vec::new());
            let interval = options
                .get("interval")
                .and_then(Value::as_str)
                .unwrap_or("minute");
            let interval = interval.trim().to_ascii_lowercase();
            let interval = interval.trim_end_matches('s');
            match interval {
                "minute" | "hour" | "day" => b.put("interval", Y::str(interval), Vec::new()),
                other => b.put(
                    "interval",
                    Y::str("minute"),
                    vec![format!("interval `{other}`: one of minute, hour, day")],
                ),
            }
            let runs = options
                .get("runs_per_interval")
                .or_else(|| options.get("capacity"))
                .and_then(number)
                .unwrap_or(1.0);
            b.put(
                "runs_per_interval",
                Y::Num((runs as u64).clamp(1, 10_000).to_string()),
                Vec::new(),
            );
            if let Some(n) = options.get("events_per_run").and_then(number) {
                if n > 1.0 {
                    b.leave_out(format!(
                        "`events_per_run: {n}`: Warden releases one event at a time"
                    ));
                }
            }
            if options.contains_key("throttle_key") {
                b.option(options, "throttle_key", "key", Field::default());
            }
            &[
                "interval",
                "runs_per_interval",
                "capacity",
                "events_per_run",
                "throttle_key",
            ]
        }
        other => {
            b.leave_out(format!("transform mode `{other}` has no equivalent"));
            return placeholder(b, agent);
        }
    };
    let known: Vec<&str> = common.iter().chain(known).copied().collect();
    b.unknown_options(options, &known);
    "transform"
}

/// A path option: a template, or (older exports) a bare path such as `get_alerts.body.alerts`.
fn path_template(b: &mut Build, value: &Value, notes: &mut Vec<String>) -> String {
    let Value::String(text) = value else {
        return value.to_string();
    };
    let bare = !text.contains("{{")
        && !text.contains("{%")
        && !text.contains("<<")
        && !text.starts_with('=');
    let root = text
        .trim_start_matches('.')
        .split(['.', '['])
        .next()
        .unwrap_or_default();
    if bare && b.cx.place.refs.by_key.contains_key(root) {
        return b.text(&format!("{{{{ {text} }}}}"), Field::default(), notes);
    }
    b.text(text, Field::default(), notes)
}
