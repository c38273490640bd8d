//! Markdown pieces the pages share: fenced JSON, table cells, and option tables read from the
//! story JSON Schema.

use serde_json::{Map, Value};
use std::fmt::Write as _;

/// `value` as pretty JSON in a fenced block.
pub(super) fn json_block(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    format!("```json\n{text}\n```\n")
}

/// `text` in a fenced block of `language`.
pub(super) fn fenced(language: &str, text: &str) -> String {
    let text = text.trim_end_matches('\n');
    format!("```{language}\n{text}\n```\n")
}

/// `text` fit for one table cell: one line, pipes escaped.
pub(super) fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// `text` as inline code fit for a table cell (a backtick inside widens the fence).
pub(super) fn code(text: &str) -> String {
    let text = text.replace('\n', "\\n").replace('|', "\\|");
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// The schema of `$ref`, looked up in `defs`.
fn resolve<'a>(schema: &'a Value, defs: &'a Map<String, Value>) -> Option<(&'a str, &'a Value)> {
    let name = schema.get("$ref")?.as_str()?.strip_prefix("#/$defs/")?;
    defs.get(name).map(|def| (name, def))
}

/// The non-null alternative of an optional property (`anyOf: [X, null]`).
fn non_null(schema: &Value) -> &Value {
    if let Some(Value::Array(any)) = schema.get("anyOf") {
        let rest: Vec<&Value> = any
            .iter()
            .filter(|s| s.get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        if let [only] = rest.as_slice() {
            return only;
        }
    }
    schema
}

/// The constants of an enum definition (`oneOf` of `const`s).
fn constants(schema: &Value) -> Option<Vec<String>> {
    let Value::Array(variants) = schema.get("oneOf")? else {
        return None;
    };
    variants
        .iter()
        .map(|v| v.get("const").and_then(Value::as_str).map(code))
        .collect()
}

/// Whether an enum's values say more than their names (`regex` is case-insensitive), so they
/// get a table of their own; `GET.` or `A minute.` do not.
fn explained(def: &Value) -> bool {
    def.get("oneOf")
        .and_then(Value::as_array)
        .is_some_and(|variants| {
            variants.iter().any(|v| {
                v.get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.len() > 15)
            })
        })
}

/// A readable type of a property, and the object definitions it refers to (documented below
/// the table).
fn type_of(schema: &Value, defs: &Map<String, Value>, nested: &mut Vec<String>) -> String {
    let schema = non_null(schema);
    if let Some(value) = schema.get("const") {
        return format!("`{}`", value.as_str().unwrap_or_default());
    }
    if let Some((name, def)) = resolve(schema, defs) {
        return match name {
            "Template" => "template".into(),
            "Dynamic" => "JSON (strings are templates)".into(),
            "Duration" => "duration (`30s`, `5m`, `1h30m`, seconds)".into(),
            "Map_of_Dynamic" => "map of JSON (strings are templates)".into(),
            "Map_of_Template" => "map of templates".into(),
            "Pattern" => "regex".into(),
            "StatusList" => "list of statuses (`404`, `\"500-599\"`)".into(),
            _ => match constants(def) {
                Some(values) if explained(def) => {
                    if !nested.iter().any(|n| n == name) {
                        nested.push(name.to_owned());
                    }
                    format!(
                        "one of {} ([`{name}`](#{}))",
                        values.join(", "),
                        name.to_lowercase()
                    )
                }
                Some(values) => format!("one of {}", values.join(", ")),
                None if def.get("properties").is_some() => {
                    if !nested.iter().any(|n| n == name) {
                        nested.push(name.to_owned());
                    }
                    format!("[`{name}`](#{})", name.to_lowercase())
                }
                None => format!("`{name}`"),
            },
        };
    }
    if let Some(values) = constants(schema) {
        return format!("one of {}", values.join(", "));
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or("any")
            .to_owned(),
        _ => "any".to_owned(),
    };
    match kind.as_str() {
        "array" => {
            let items = schema
                .get("items")
                .map_or_else(|| "any".to_owned(), |i| type_of(i, defs, nested));
            format!("list of {items}")
        }
        "object" => match schema.get("additionalProperties") {
            Some(inner @ Value::Object(_)) => format!("map of {}", type_of(inner, defs, nested)),
            _ => "mapping".into(),
        },
        other => other.to_owned(),
    }
}

/// A table of an object schema's properties (name, type, required, description), skipping
/// `skip`; object definitions the properties use are added to `nested`.
pub(super) fn options_table(
    object: &Value,
    defs: &Map<String, Value>,
    skip: &[&str],
    nested: &mut Vec<String>,
) -> String {
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = String::from("| option | type | required | description |\n|---|---|---|---|\n");
    let Some(Value::Object(properties)) = object.get("properties") else {
        return "No options.\n".into();
    };
    for (name, schema) in properties {
        if skip.contains(&name.as_str()) {
            continue;
        }
        let description = schema
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| `{name}` | {} | {} | {} |",
            type_of(schema, defs, nested),
            if required.contains(&name.as_str()) {
                "yes"
            } else {
                "no"
            },
            cell(description)
        );
    }
    out
}

/// The tables of the definitions in `nested` (and those they use in turn), each under a
/// heading of its name: an object's options, or an enum's values and what each means.
pub(super) fn nested_tables(nested: &mut Vec<String>, defs: &Map<String, Value>) -> String {
    let mut out = String::new();
    let mut done = 0;
    while done < nested.len() {
        let name = nested[done].clone();
        done += 1;
        let Some(def) = defs.get(&name) else { continue };
        let _ = write!(out, "\n#### {name}\n\n");
        if let Some(description) = def.get("description").and_then(Value::as_str) {
            let _ = writeln!(out, "{}\n", cell(description));
        }
        if def.get("properties").is_some() {
            out.push_str(&options_table(def, defs, &[], nested));
            continue;
        }
        out.push_str("| value | meaning |\n|---|---|\n");
        for variant in def
            .get("oneOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let value = variant
                .get("const")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let meaning = variant
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let _ = writeln!(out, "| {} | {} |", code(value), cell(meaning));
        }
    }
    out
}
