//! JSON text in and out (`json`, `from_json`) and selecting from JSON
//! (`jsonpath`, `first_or_none`).

use minijinja::value::{Serde, Value};
use minijinja::{Error, State};
use serde_json::Value as Json;
use serde_json_path::JsonPath;

use super::{charge, fail};
use crate::template::value::{to_json, Undefined};

/// `value | json`: compact JSON text, without `tojson`'s HTML escaping of
/// `<`, `>`, `&` and `'` (request bodies are not HTML).
pub(super) fn json(state: &State, value: &Value) -> Result<String, Error> {
    let text = to_json(value, Undefined::of(state))?.to_string();
    charge(state, text.len())?;
    Ok(text)
}

/// `text | from_json`: parses JSON text into a value.
pub(super) fn from_json(state: &State, text: &str) -> Result<Value, Error> {
    charge(state, text.len())?;
    serde_json::from_str::<Json>(text)
        .map(|parsed| Value::from(Serde(parsed)))
        .map_err(|e| {
            fail(format!(
                "from_json: input is not valid JSON (line {} column {})",
                e.line(),
                e.column()
            ))
        })
}

/// `value | jsonpath(path)`: the list of nodes an RFC 9535 JSONPath query
/// selects (an empty list when nothing matches).
pub(super) fn jsonpath(state: &State, value: &Value, path: &str) -> Result<Value, Error> {
    let query =
        JsonPath::parse(path).map_err(|e| fail(format!("jsonpath: invalid path `{path}`: {e}")))?;
    let document = to_json(value, Undefined::of(state))?;
    let nodes: Vec<&Json> = query.query(&document).all();
    charge(state, nodes.len() * 64)?;
    Ok(Value::from(Serde(nodes)))
}

/// `value | first_or_none`: the first item of a list (or key of a map,
/// character of a string), or none when it is empty or none.
pub(super) fn first_or_none(value: &Value) -> Result<Value, Error> {
    if value.is_none() {
        return Ok(Value::from(()));
    }
    Ok(value.try_iter()?.next().unwrap_or_else(|| Value::from(())))
}
