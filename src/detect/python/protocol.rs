//! The wire between warden and a Python worker: each message is a 4-byte big-endian length and
//! that many bytes of UTF-8 JSON, both ways. Requests are built here; answers are read into
//! [`Outcome`]s. Many events travel in one `eval` message, so a batch costs one round trip per
//! worker rather than one per event.

use serde::Serialize;
use serde_json::{Map, Value};
use std::io::{self, Read, Write};

/// The largest answer accepted from a worker; a bigger length means a corrupt stream.
pub const MAX_FRAME: usize = 256 * 1024 * 1024;

/// Writes one frame.
pub fn write_frame(out: &mut impl Write, body: &[u8]) -> io::Result<()> {
    let length = u32::try_from(body.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a message past 4 GiB"))?;
    out.write_all(&length.to_be_bytes())?;
    out.write_all(body)?;
    out.flush()
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut length = [0u8; 4];
    match input.read_exact(&mut length) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let length = u32::from_be_bytes(length) as usize;
    if length > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {length} bytes"),
        ));
    }
    let mut body = vec![0; length];
    input.read_exact(&mut body)?;
    Ok(Some(body))
}

/// An `eval` message: `rules` on each of `events`, every event written by [`write_event`].
pub fn eval_request(rules: &[String], events: &[&Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 2_048 + 64);
    out.extend_from_slice(br#"{"op":"eval","rules":"#);
    write_json(&mut out, rules);
    out.extend_from_slice(br#","events":["#);
    for (n, event) in events.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_event(&mut out, event);
    }
    out.extend_from_slice(b"]}");
    out
}

/// A `test` message: `rule` on `event` (written as `eval` writes it, so a test reads its event
/// as ingest does) with `mocks` patched.
pub fn test_request(rule: &str, event: &Value, mocks: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(br#"{"op":"test","rule":"#);
    write_json(&mut out, rule);
    out.extend_from_slice(br#","mocks":"#);
    write_json(&mut out, mocks);
    out.extend_from_slice(br#","event":"#);
    write_event(&mut out, event);
    out.push(b'}');
    out
}

/// Writes an event as the worker reads it: `[fields, unread]`, where every object or array
/// field is its JSON text and `unread` names those fields. The worker builds a field's Python
/// objects only when a rule first reads it (`PantherEvent` in `event.py`): most rules read a
/// few fields of an event, and building all of them was the larger part of a worker's time.
/// The text is escaped as it is written ([`Escaping`]), with no second pass over it.
fn write_event(out: &mut Vec<u8>, event: &Value) {
    let Value::Object(fields) = event else {
        out.push(b'[');
        write_json(out, event);
        out.extend_from_slice(b",[]]");
        return;
    };
    let nested = |v: &Value| matches!(v, Value::Object(_) | Value::Array(_));
    out.extend_from_slice(b"[{");
    for (n, (key, value)) in fields.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_json(out, key);
        out.push(b':');
        if nested(value) {
            out.push(b'"');
            serde_json::to_writer(Escaping(out), value).expect("a JSON value serialises");
            out.push(b'"');
        } else {
            write_json(out, value);
        }
    }
    out.extend_from_slice(b"},[");
    let unread = fields.iter().filter(|(_, v)| nested(v)).map(|(k, _)| k);
    for (n, key) in unread.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_json(out, key);
    }
    out.extend_from_slice(b"]]");
}

fn write_json(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    serde_json::to_writer(out, value).expect("JSON serialises");
}

/// Writes JSON text as the inside of a JSON string: `"` and `\` get a backslash. Nothing else
/// needs one, because serde_json's compact text has no control characters (it escapes them).
struct Escaping<'a>(&'a mut Vec<u8>);

impl Write for Escaping<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(at) = rest.iter().position(|&b| b == b'"' || b == b'\\') {
            self.0.extend_from_slice(&rest[..at]);
            self.0.extend_from_slice(&[b'\\', rest[at]]);
            rest = &rest[at + 1..];
        }
        self.0.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A global helper module: importable by `name`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HelperSource {
    /// The module name (`GlobalID`, else the file stem).
    pub name: String,
    /// The `.py` file, as printed in errors.
    pub path: String,
    /// Its code.
    pub source: String,
}

/// One `Mappings` entry of a data model: a `Path` or a `Method`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Mapping {
    /// The unified name rules ask `udm()` for.
    pub name: String,
    /// A JSONPath-like path (`$.client.ipAddress`, `a.b[0]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A function of the model's Python file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// A data model: its log types, mappings and optional Python.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ModelSource {
    /// `DataModelID`.
    pub id: String,
    /// `LogTypes`.
    pub log_types: Vec<String>,
    /// `Mappings`.
    pub mappings: Vec<Mapping>,
    /// The `.py` file (or the `.yml` when there is none), as printed in errors.
    pub path: String,
    /// The Python named by `Filename`.
    pub source: Option<String>,
}

/// A Python rule's code as a worker loads it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RuleSource {
    /// `RuleID`.
    pub id: String,
    /// The `.py` file, as printed in errors.
    pub path: String,
    /// Its code.
    pub source: String,
    /// The rule's `Severity`, what `severity()` returning `DEFAULT` means.
    pub severity: String,
}

/// Everything a worker loads before it evaluates anything.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Library {
    /// Global helpers.
    pub helpers: Vec<HelperSource>,
    /// Data models.
    pub models: Vec<ModelSource>,
    /// Python rules.
    pub rules: Vec<RuleSource>,
}

/// A problem in user code, where Python saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyError {
    /// What happened, e.g. "`rule` raised KeyError: 'x'".
    pub message: String,
    /// The user file it points at, when known.
    pub path: Option<String>,
    /// The line in that file, when known.
    pub line: Option<u32>,
    /// The 1-based column, when Python gives one (syntax errors, imports).
    pub column: Option<u32>,
}

impl PyError {
    /// An error not tied to user code (a worker that died or did not answer).
    pub fn engine(message: impl Into<String>) -> PyError {
        PyError {
            message: message.into(),
            path: None,
            line: None,
            column: None,
        }
    }

    fn from_json(value: &Value) -> PyError {
        PyError {
            message: value["message"]
                .as_str()
                .unwrap_or("unknown error")
                .to_owned(),
            path: value["path"].as_str().map(str::to_owned),
            line: value["line"].as_u64().and_then(|l| u32::try_from(l).ok()),
            column: value["column"].as_u64().and_then(|c| u32::try_from(c).ok()),
        }
    }
}

impl std::fmt::Display for PyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.path, self.line) {
            (Some(path), Some(line)) => write!(f, "{path}:{line}: {}", self.message),
            (Some(path), None) => write!(f, "{path}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// What Panther's optional functions returned for a matching event (`None`: not defined, or
/// returned `None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs {
    /// `title()`, at most 1,000 characters.
    pub title: Option<String>,
    /// `dedup()`, at most 1,000 characters.
    pub dedup: Option<String>,
    /// `severity()`, upper-case, `DEFAULT` already replaced by the rule's `Severity`.
    pub severity: Option<String>,
    /// `alert_context()`.
    pub alert_context: Option<Map<String, Value>>,
    /// `description()`.
    pub description: Option<String>,
    /// `reference()`.
    pub reference: Option<String>,
    /// `runbook()`.
    pub runbook: Option<String>,
    /// `destinations()`.
    pub destinations: Option<Vec<String>>,
}

impl Outputs {
    fn from_json(value: &Value) -> Outputs {
        let text = |name: &str| value[name].as_str().map(str::to_owned);
        Outputs {
            title: text("title"),
            dedup: text("dedup"),
            severity: text("severity"),
            alert_context: value["alert_context"].as_object().cloned(),
            description: text("description"),
            reference: text("reference"),
            runbook: text("runbook"),
            destinations: value["destinations"].as_array().map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            }),
        }
    }
}

/// One rule on one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `rule()` returned `True`.
    pub matched: bool,
    /// The optional functions' results, when matched.
    pub outputs: Outputs,
    /// `rule()` raised (then `matched` is false), or an optional function did (then the alert
    /// uses Panther's defaults for what failed), or the call ran past its deadline.
    pub error: Option<PyError>,
}

impl Outcome {
    /// The outcome of every call a failed exchange was carrying.
    pub fn failed(error: PyError) -> Outcome {
        Outcome {
            matched: false,
            outputs: Outputs::default(),
            error: Some(error),
        }
    }

    /// Reads one result of an `eval` or `test` answer: `0` (no match), or an object with
    /// `match` and/or `error`.
    pub fn from_json(value: &Value) -> Outcome {
        let matched = value.get("match");
        Outcome {
            matched: matched.is_some(),
            outputs: matched.map(Outputs::from_json).unwrap_or_default(),
            error: value.get("error").map(PyError::from_json),
        }
    }
}

/// The load answer's errors: the item (rule id, helper or model name) and what went wrong.
pub fn load_errors(answer: &Value) -> Vec<(String, PyError)> {
    answer["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let id = e["id"].as_str().unwrap_or_default().to_owned();
                    (id, PyError::from_json(e))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_is_written_with_its_nested_fields_as_json_text() {
        let event = json!({
            "eventType": "x \"q\" \\ é",
            "actor": {"name": "a \"b\" \\ c\n\u{1}é", "ids": [1, 2.5, null, true]},
            "n": 3,
            "target": [{"k": "v"}],
            "empty": {},
        });
        let request = eval_request(&["R".to_owned()], &[&event, &json!(7)]);
        let read: Value = serde_json::from_slice(&request).unwrap();
        assert_eq!(read["op"], "eval");
        assert_eq!(read["rules"], json!(["R"]));
        let [fields, unread] = [&read["events"][0][0], &read["events"][0][1]];
        assert_eq!(unread, &json!(["actor", "target", "empty"]));
        let keys: Vec<&String> = fields.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["eventType", "actor", "n", "target", "empty"],
            "order kept"
        );
        assert_eq!(fields["eventType"], event["eventType"]);
        assert_eq!(fields["n"], 3);
        for key in ["actor", "target", "empty"] {
            let text = fields[key].as_str().unwrap();
            assert_eq!(
                serde_json::from_str::<Value>(text).unwrap(),
                event[key],
                "{key}"
            );
        }
        assert_eq!(read["events"][1], json!([7, []]));
        let test: Value =
            serde_json::from_slice(&test_request("R", &event, &[json!({"objectName": "f"})]))
                .unwrap();
        assert_eq!(test["op"], "test");
        assert_eq!(test["event"], read["events"][0]);
        assert_eq!(test["mocks"][0]["objectName"], "f");
    }

    #[test]
    fn a_frame_reads_back_as_written() {
        let mut wire = Vec::new();
        write_frame(&mut wire, b"{\"op\":\"eval\"}").unwrap();
        write_frame(&mut wire, b"").unwrap();
        assert_eq!(&wire[..4], &[0, 0, 0, 13]);
        let mut input = &wire[..];
        assert_eq!(
            read_frame(&mut input).unwrap().unwrap(),
            b"{\"op\":\"eval\"}"
        );
        assert_eq!(read_frame(&mut input).unwrap().unwrap(), b"");
        assert!(read_frame(&mut input).unwrap().is_none());
    }

    #[test]
    fn a_frame_longer_than_the_limit_is_refused() {
        let wire = u32::MAX.to_be_bytes();
        let error = read_frame(&mut &wire[..]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_truncated_frame_is_an_error_not_an_end() {
        let wire = [0, 0, 0, 9, b'{'];
        assert!(read_frame(&mut &wire[..]).is_err());
    }

    #[test]
    fn results_read_as_no_match_match_and_error() {
        assert!(!Outcome::from_json(&json!(0)).matched);
        let hit = Outcome::from_json(&json!({"match": {"title": "t", "severity": "HIGH",
            "alert_context": {"a": 1}, "destinations": ["soc"]}}));
        assert!(hit.matched && hit.error.is_none());
        assert_eq!(hit.outputs.title.as_deref(), Some("t"));
        assert_eq!(hit.outputs.severity.as_deref(), Some("HIGH"));
        assert_eq!(hit.outputs.destinations, Some(vec!["soc".to_owned()]));
        let raised =
            Outcome::from_json(&json!({"error": {"message": "`rule` raised KeyError: 'x'",
            "path": "r.py", "line": 3}}));
        assert!(!raised.matched);
        assert_eq!(
            raised.error.unwrap().to_string(),
            "r.py:3: `rule` raised KeyError: 'x'"
        );
    }
}
