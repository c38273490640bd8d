//! The wire between warden and a Python worker: each message is a 4-byte big-endian length and
//! that many bytes, both ways. An answer is JSON, read into typed values (`answer`). A request
//! is JSON too, except that `eval` and `test` put the events' nested fields before it as raw
//! JSON text (see [`eval_request`]). Many events travel in one `eval` message, so a batch costs
//! one round trip per worker rather than one per event.

mod answer;

pub use answer::{Answer, EvalAnswer, LoadAnswer, Outcome, Outputs, PyError, TestAnswer};
use serde::Serialize;
use serde_json::Value;
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
    let mut body = Vec::with_capacity(events.len() * 2_048 + 64);
    let mut header = Vec::with_capacity(events.len() * 256 + 64);
    header.extend_from_slice(br#"{"op":"eval","rules":"#);
    write_json(&mut header, rules);
    header.extend_from_slice(br#","events":["#);
    for (n, event) in events.iter().enumerate() {
        if n > 0 {
            header.push(b',');
        }
        write_event(&mut header, &mut body, event);
    }
    header.extend_from_slice(b"]}");
    with_header(body, &header)
}

/// A `test` message: `rule` on `event` (written as `eval` writes it, so a test reads its event
/// as ingest does) with `mocks` patched.
pub fn test_request(rule: &str, event: &Value, mocks: &[Value]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut header = Vec::new();
    header.extend_from_slice(br#"{"op":"test","rule":"#);
    write_json(&mut header, rule);
    header.extend_from_slice(br#","mocks":"#);
    write_json(&mut header, mocks);
    header.extend_from_slice(br#","event":"#);
    write_event(&mut header, &mut body, event);
    header.push(b'}');
    with_header(body, &header)
}

/// A message body: the JSON text of the events' nested fields one after another, a newline,
/// then the header, the JSON request that points into that text. Compact JSON never holds a
/// raw newline, so the last newline of the body is where the header starts; a body without
/// one (`load`) is all header.
fn with_header(mut body: Vec<u8>, header: &[u8]) -> Vec<u8> {
    body.push(b'\n');
    body.extend_from_slice(header);
    body
}

/// Writes an event as the worker reads it: `[fields, unread]` into `header`, where every
/// object or array field is a `[start, end]` range of `body` holding its JSON text, and
/// `unread` names those fields. The worker builds a field's Python objects only when a rule
/// first reads it (`PantherEvent` in `event.py`): most rules read a few fields of an event,
/// and building all of them was the larger part of a worker's time. Passed as bytes beside
/// the header rather than as JSON strings inside it, the text is escaped by neither side.
fn write_event(header: &mut Vec<u8>, body: &mut Vec<u8>, event: &Value) {
    let Value::Object(fields) = event else {
        header.push(b'[');
        write_value(header, event);
        header.extend_from_slice(b",[]]");
        return;
    };
    let nested = |v: &Value| matches!(v, Value::Object(_) | Value::Array(_));
    header.extend_from_slice(b"[{");
    for (n, (key, value)) in fields.iter().enumerate() {
        if n > 0 {
            header.push(b',');
        }
        write_str(header, key);
        header.push(b':');
        if nested(value) {
            let start = body.len();
            write_value(body, value);
            header.push(b'[');
            write_count(header, start);
            header.push(b',');
            write_count(header, body.len());
            header.push(b']');
        } else {
            write_value(header, value);
        }
    }
    header.extend_from_slice(b"},[");
    let unread = fields.iter().filter(|(_, v)| nested(v)).map(|(k, _)| k);
    for (n, key) in unread.enumerate() {
        if n > 0 {
            header.push(b',');
        }
        write_str(header, key);
    }
    header.extend_from_slice(b"]]");
}

/// Writes `value` as serde_json's compact text, byte for byte, without its serializer's
/// per-call overhead: an Okta event is a hundred short strings, and through `to_writer` they
/// cost most of warden's side of a Python evaluation.
fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_json(out, n),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            for (n, (key, item)) in fields.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
    }
}

/// A JSON string: copied as it is unless it holds what JSON escapes (serde_json does those).
fn write_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().any(|b| ESCAPED[usize::from(b)]) {
        return write_json(out, text);
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// The bytes a JSON string cannot hold as they are: control characters, `"` and `\`. A table,
/// because most strings of an event are a few bytes long and one lookup a byte is the least.
const ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// A count in decimal.
fn write_count(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn write_json(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    serde_json::to_writer(out, value).expect("JSON serialises");
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A request's header, and the text its ranges point into.
    fn split(request: &[u8]) -> (Value, &[u8]) {
        let cut = request.iter().rposition(|&b| b == b'\n').unwrap();
        (
            serde_json::from_slice(&request[cut + 1..]).unwrap(),
            request,
        )
    }

    #[test]
    fn an_event_is_written_with_its_nested_fields_as_json_text() {
        let event = json!({
            "eventType": "x \"q\" \\ é\n",
            "actor": {"name": "a \"b\" \\ c\n\u{1}é", "ids": [1, 2.5, null, true]},
            "n": 3,
            "target": [{"k": "v"}],
            "empty": {},
        });
        let request = eval_request(&["R".to_owned()], &[&event, &json!(7)]);
        let (read, body) = split(&request);
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
            let [start, end] = [0, 1].map(|i| fields[key][i].as_u64().unwrap() as usize);
            let text = &body[start..end];
            assert_eq!(
                serde_json::from_slice::<Value>(text).unwrap(),
                event[key],
                "{key}"
            );
        }
        assert_eq!(read["events"][1], json!([7, []]));
        let test_request = test_request("R", &event, &[json!({"objectName": "f"})]);
        let (test, test_body) = split(&test_request);
        assert_eq!(test["op"], "test");
        assert_eq!(
            test["event"][0]["actor"],
            json!([0, event["actor"].to_string().len()])
        );
        assert_eq!(&test_body[..6], b"{\"name");
        assert_eq!(test["mocks"][0]["objectName"], "f");
    }

    #[test]
    fn the_writer_writes_what_serde_json_writes() {
        let value = json!({
            "plain": "abc", "quote": "a\"b", "slash": "a\\b", "control": "a\u{1}\n\t\u{1f}b",
            "unicode": "é ✓ \u{7f} \u{2028}", "": "", "n": [0, -1, 1.5, 1e300, u64::MAX, i64::MIN],
            "nested": [{"x": null, "y": true, "z": false}, [], {}], "k\"ey": {"\u{0}": 1},
        });
        let mut written = Vec::new();
        write_value(&mut written, &value);
        assert_eq!(
            String::from_utf8(written).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
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
}
