//! Filters and functions for Tines-formula users, on top of minijinja's
//! builtins (`default`, `lower`, `join`, `map`, `selectattr`, `int`,
//! `urlencode`…).
//!
//! Error messages name the filter and the problem but never the filtered
//! value, which may be a credential (arguments such as a pattern or a path,
//! normally written in the template, are quoted).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use minijinja::value::{Serde, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use regex::Regex;
use serde_json::Value as Json;
use serde_json_path::JsonPath;
use sha2::{Digest, Sha256};

use super::{to_json, PROMPT_URLS};

/// Longest regex pattern accepted, in bytes.
const MAX_PATTERN_LEN: usize = 4096;
/// Limit on a compiled regex (and on its lazy DFA cache), so a hostile
/// pattern such as `\w{1000}{1000}` fails instead of eating memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Compiled regexes kept; the cache is cleared when full, which keeps it
/// bounded without bookkeeping (stories use a handful of patterns).
const REGEX_CACHE_CAP: usize = 64;
/// Default `date` format: RFC 3339 in UTC, second precision.
const DEFAULT_DATE_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Registers this module's filters and functions on `env`.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("json", json);
    env.add_filter("from_json", from_json);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("sha256", sha256);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_match", regex_match);
    env.add_filter("regex_extract", regex_extract);
    env.add_filter("date", date);
    env.add_filter("timestamp", timestamp);
    env.add_filter("jsonpath", jsonpath);
    env.add_filter("first_or_none", first_or_none);
    env.add_function("prompt_url", prompt_url);
}

fn fail(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// Charges fuel for `bytes` of work done outside the engine (minijinja only
/// charges for the value a filter returns).
fn charge(state: &State, bytes: usize) -> Result<(), Error> {
    state.consume_fuel(bytes as u64 / 64 + 1)
}

/// `value | json`: compact JSON text, without `tojson`'s HTML escaping of
/// `<`, `>`, `&` and `'` (request bodies are not HTML).
fn json(state: &State, value: &Value) -> Result<String, Error> {
    let text = to_json(value)?.to_string();
    charge(state, text.len())?;
    Ok(text)
}

/// `text | from_json`: parses JSON text into a value.
fn from_json(state: &State, text: &str) -> Result<Value, Error> {
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

/// Bytes of a string or bytes value; other kinds are an error naming `filter`.
fn bytes_of<'a>(filter: &str, value: &'a Value) -> Result<&'a [u8], Error> {
    match value.kind() {
        ValueKind::String => Ok(value.as_str().unwrap_or_default().as_bytes()),
        ValueKind::Bytes => Ok(value.as_bytes().unwrap_or_default()),
        ValueKind::Undefined => Err(ErrorKind::UndefinedError.into()),
        kind => Err(fail(format!("{filter}: expected a string, got {kind}"))),
    }
}

/// `text | b64encode`: standard-alphabet base64 with padding.
fn b64encode(value: &Value) -> Result<String, Error> {
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes_of("b64encode", value)?))
}

/// `text | b64decode`: decodes standard-alphabet base64 (padding optional)
/// to a UTF-8 string.
fn b64decode(text: &str) -> Result<String, Error> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    // base64's own messages quote the offending byte, which may be secret.
    let bytes = LENIENT
        .decode(text.trim())
        .map_err(|_| fail("b64decode: input is not valid base64".to_owned()))?;
    String::from_utf8(bytes)
        .map_err(|_| fail("b64decode: decoded bytes are not valid UTF-8 text".to_owned()))
}

/// `text | sha256`: lowercase hex SHA-256 of the UTF-8 bytes.
fn sha256(value: &Value) -> Result<String, Error> {
    let digest = Sha256::digest(bytes_of("sha256", value)?);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

static REGEX_CACHE: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();

#[cfg(test)]
fn regex_cache_len() -> usize {
    REGEX_CACHE
        .get()
        .map_or(0, |c| c.lock().unwrap_or_else(|p| p.into_inner()).len())
}

/// Compiles `pattern` with size limits, through a small shared cache.
fn regex(filter: &str, pattern: &str) -> Result<Regex, Error> {
    let cache = REGEX_CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(pattern) {
        return Ok(hit.clone());
    }
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(fail(format!(
            "{filter}: pattern is longer than {MAX_PATTERN_LEN} bytes"
        )));
    }
    let compiled = regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let why = match e {
                regex::Error::CompiledTooBig(_) => "it compiles too large".to_owned(),
                other => other
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .trim_start_matches("error: ")
                    .to_owned(),
            };
            fail(format!("{filter}: invalid pattern `{pattern}`: {why}"))
        })?;
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= REGEX_CACHE_CAP {
        map.clear();
    }
    map.insert(pattern.to_owned(), compiled.clone());
    Ok(compiled)
}

/// `text | regex_replace(pattern, replacement)`: replaces every match;
/// `$1` / `${name}` in `replacement` refer to capture groups.
fn regex_replace(
    state: &State,
    text: &str,
    pattern: &str,
    replacement: &str,
) -> Result<String, Error> {
    charge(state, text.len())?;
    Ok(regex("regex_replace", pattern)?
        .replace_all(text, replacement)
        .into_owned())
}

/// `text | regex_match(pattern)`: true if the pattern matches anywhere in
/// `text` (anchor with `^…$` for a whole-string match).
fn regex_match(state: &State, text: &str, pattern: &str) -> Result<bool, Error> {
    charge(state, text.len())?;
    Ok(regex("regex_match", pattern)?.is_match(text))
}

/// `text | regex_extract(pattern)`: capture group 1 of the first match, or
/// the whole match when the pattern has no group; none when nothing matches.
fn regex_extract(state: &State, text: &str, pattern: &str) -> Result<Value, Error> {
    charge(state, text.len())?;
    let Some(caps) = regex("regex_extract", pattern)?.captures(text) else {
        return Ok(Value::from(()));
    };
    let found = caps.get(1).or_else(|| caps.get(0));
    Ok(found.map_or_else(|| Value::from(()), |m| Value::from(m.as_str())))
}

/// Reads an instant from unix seconds (int, float or numeric string), an
/// RFC 3339 string, or a zone-less `YYYY-MM-DD HH:MM:SS[.fff]` (Panther's
/// normalised form), which is taken as UTC.
fn instant(filter: &str, value: &Value) -> Result<Timestamp, Error> {
    let unreadable = || {
        fail(format!(
            "{filter}: expected unix seconds, an RFC 3339 date or `YYYY-MM-DD HH:MM:SS` (UTC)"
        ))
    };
    match value.kind() {
        ValueKind::Undefined => Err(ErrorKind::UndefinedError.into()),
        ValueKind::Number => from_unix(value).ok_or_else(unreadable),
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default().trim();
            if let Ok(ts) = text.parse::<Timestamp>() {
                return Ok(ts);
            }
            if let Ok(civil) = text.parse::<jiff::civil::DateTime>() {
                return TimeZone::UTC.to_timestamp(civil).map_err(|_| unreadable());
            }
            text.parse::<f64>()
                .ok()
                .and_then(|secs| from_unix(&Value::from(secs)))
                .ok_or_else(unreadable)
        }
        _ => Err(unreadable()),
    }
}

fn from_unix(value: &Value) -> Option<Timestamp> {
    if value.is_integer() {
        return Timestamp::from_second(i64::try_from(value.clone()).ok()?).ok();
    }
    let secs = f64::try_from(value.clone())
        .ok()
        .filter(|s| s.is_finite())?;
    Timestamp::from_nanosecond((secs * 1e9).round() as i128).ok()
}

/// `value | date(format)`: formats an instant (see [`instant`]) in UTC with
/// strftime `format`, by default `%Y-%m-%dT%H:%M:%SZ`.
fn date(value: &Value, format: Option<&str>) -> Result<String, Error> {
    let ts = instant("date", value)?;
    let format = format.unwrap_or(DEFAULT_DATE_FORMAT);
    jiff::fmt::strtime::format(format, &ts.to_zoned(TimeZone::UTC))
        .map_err(|e| fail(format!("date: cannot format with `{format}`: {e}")))
}

/// `value | timestamp`: whole unix seconds of an instant (see [`instant`]).
fn timestamp(value: &Value) -> Result<i64, Error> {
    Ok(instant("timestamp", value)?.as_second())
}

/// `value | jsonpath(path)`: the list of nodes an RFC 9535 JSONPath query
/// selects (an empty list when nothing matches).
fn jsonpath(state: &State, value: &Value, path: &str) -> Result<Value, Error> {
    let query =
        JsonPath::parse(path).map_err(|e| fail(format!("jsonpath: invalid path `{path}`: {e}")))?;
    let document = to_json(value)?;
    let nodes: Vec<&Json> = query.query(&document).all();
    charge(state, nodes.len() * 64)?;
    Ok(Value::from(Serde(nodes)))
}

/// `value | first_or_none`: the first item of a list (or key of a map,
/// character of a string), or none when it is empty or none.
fn first_or_none(value: &Value) -> Result<Value, Error> {
    if value.is_none() {
        return Ok(Value::from(()));
    }
    Ok(value.try_iter()?.next().unwrap_or_else(|| Value::from(())))
}

/// `prompt_url(status)`: the URL that answers the current prompt with
/// `status`. Only a prompt action's message has the runner-provided
/// [`PROMPT_URLS`] variable this reads.
fn prompt_url(state: &State, status: &str) -> Result<Value, Error> {
    let urls = state
        .lookup(PROMPT_URLS)
        .filter(|v| !v.is_undefined() && !v.is_none())
        .ok_or_else(|| {
            fail("prompt_url() is only available in a prompt action's message".to_owned())
        })?;
    match urls.get_attr(status) {
        Ok(url) if !url.is_undefined() => Ok(url),
        _ => {
            let choices: Vec<String> = urls
                .try_iter()?
                .map(|k| format!("`{}`", k.as_str().unwrap_or_default()))
                .collect();
            Err(fail(format!(
                "prompt_url(): unknown status `{status}`, expected one of {}",
                choices.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{compile, Context};
    use serde_json::{json, Value as Json};

    fn render_in(source: &str, vars: Json) -> Result<Json, String> {
        let Json::Object(map) = vars else {
            panic!("vars must be an object")
        };
        compile(source)
            .and_then(|c| c.render(&Context::new(map)))
            .map_err(|e| e.to_string())
    }

    fn render(source: &str) -> Result<Json, String> {
        render_in(source, json!({}))
    }

    fn vt_report() -> Json {
        json!({"vt": {"body": {"data": {
            "id": "44d88612fea8a8f36de82e1278abb02f",
            "attributes": {
                "last_analysis_stats": {"malicious": 61, "harmless": 0},
                "last_analysis_results": {
                    "Avast": {"category": "malicious", "result": "EICAR Test-NOT virus!!!"},
                    "Bkav": {"category": "undetected", "result": null},
                    "ClamAV": {"category": "malicious", "result": "Win.Test.EICAR_HDB-1"}
                },
                "tags": ["eicar", "text"]
            }
        }}}})
    }

    #[test]
    fn json_serializes_compactly_without_html_escaping() {
        let out = render_in(
            "{{ x | json }}",
            json!({"x": {"a": [1, null, "<b>&'"], "b": true}}),
        );
        assert_eq!(out.unwrap(), json!(r#"{"a":[1,null,"<b>&'"],"b":true}"#));
        assert_eq!(render("{{ 'q\"' | json }}").unwrap(), json!(r#""q\"""#));
        assert_eq!(
            render_in("{{ x.nope | json }}", json!({"x": {}})).unwrap_err(),
            "undefined value `x.nope`: `x` (map) has no attribute `nope`"
        );
    }

    #[test]
    fn from_json_parses_text_into_a_value() {
        let out = render_in(
            "{{ (body | from_json).items[1].id }}",
            json!({"body": r#"{"items": [{"id": 1}, {"id": 2}]}"#}),
        );
        assert_eq!(out.unwrap(), json!(2));
        assert_eq!(
            render("{{ '[1, {\"a\": null}]' | from_json }}").unwrap(),
            json!([1, {"a": null}])
        );
        assert_eq!(
            render("{{ '{' | from_json }}").unwrap_err(),
            "invalid operation: from_json: input is not valid JSON (line 1 column 1)"
        );
    }

    #[test]
    fn b64encode_and_b64decode_round_trip() {
        assert_eq!(
            render("{{ 'user:pass' | b64encode }}").unwrap(),
            json!("dXNlcjpwYXNz")
        );
        assert_eq!(
            render("{{ 'dXNlcjpwYXNz' | b64decode }}").unwrap(),
            json!("user:pass")
        );
        assert_eq!(
            render("{{ 'aGk' | b64decode }}").unwrap(),
            json!("hi"),
            "padding is optional"
        );
        assert_eq!(
            render("{{ 'héllo' | b64encode | b64decode }}").unwrap(),
            json!("héllo")
        );
    }

    #[test]
    fn b64_errors_are_clear() {
        assert_eq!(
            render("{{ 'not base64!' | b64decode }}").unwrap_err(),
            "invalid operation: b64decode: input is not valid base64"
        );
        assert_eq!(
            render("{{ '/w==' | b64decode }}").unwrap_err(),
            "invalid operation: b64decode: decoded bytes are not valid UTF-8 text"
        );
        assert_eq!(
            render("{{ 1 | b64encode }}").unwrap_err(),
            "invalid operation: b64encode: expected a string, got number"
        );
    }

    #[test]
    fn urlencode_builtin_is_kept() {
        // Like Jinja2, `/` is left as is in strings (it is escaped in mappings).
        assert_eq!(
            render("https://x/{{ 'a b/c&d?=:' | urlencode }}").unwrap(),
            json!("https://x/a%20b/c%26d%3F%3D%3A")
        );
        assert_eq!(
            render("{{ {'q': 'a b', 'n': 1} | urlencode }}").unwrap(),
            json!("q=a%20b&n=1")
        );
    }

    #[test]
    fn sha256_is_lowercase_hex_of_utf8() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(render("{{ 'abc' | sha256 }}").unwrap(), json!(abc));
        assert_eq!(
            render("{{ none | sha256 }}").unwrap_err(),
            "invalid operation: sha256: expected a string, got none"
        );
    }

    #[test]
    fn regex_replace_replaces_every_match_with_groups() {
        assert_eq!(
            render("{{ 'a1b22c' | regex_replace('[0-9]+', '#') }}").unwrap(),
            json!("a#b#c")
        );
        assert_eq!(
            render("{{ 'john.smith' | regex_replace('(\\\\w+)\\\\.(\\\\w+)', '$2, $1') }}")
                .unwrap(),
            json!("smith, john")
        );
    }

    #[test]
    fn regex_match_searches_anywhere() {
        assert_eq!(
            render("{{ 'evil.example.com' | regex_match('example\\\\.com$') }}").unwrap(),
            json!(true)
        );
        assert_eq!(
            render("{{ 'evil.example.com' | regex_match('^example') }}").unwrap(),
            json!(false)
        );
    }

    #[test]
    fn regex_extract_returns_group_one_or_the_match_or_none() {
        assert_eq!(
            render("{{ 'id=42;' | regex_extract('id=(\\\\d+)') }}").unwrap(),
            json!("42")
        );
        assert_eq!(
            render("{{ 'id=42;' | regex_extract('\\\\d+') }}").unwrap(),
            json!("42")
        );
        assert_eq!(
            render("{{ 'none here' | regex_extract('\\\\d+') }}").unwrap(),
            Json::Null
        );
        assert_eq!(
            render("{{ 'ab' | regex_extract('a(x)?') }}").unwrap(),
            json!("a")
        );
    }

    #[test]
    fn invalid_or_hostile_regex_is_a_clear_error() {
        assert_eq!(
            render("{{ 'a' | regex_extract('(') }}").unwrap_err(),
            "invalid operation: regex_extract: invalid pattern `(`: unclosed group"
        );
        let message = render("{{ 'a' | regex_match('a{10000}{10000}') }}").unwrap_err();
        assert!(message.ends_with("it compiles too large"), "{message}");
        let message = render("{{ 'a' | regex_replace('a' * 5000, '') }}").unwrap_err();
        assert_eq!(
            message,
            "invalid operation: regex_replace: pattern is longer than 4096 bytes"
        );
    }

    #[test]
    fn regex_cache_stays_bounded() {
        for i in 0..200 {
            assert_eq!(
                render(&format!("{{{{ 'x{i}' | regex_match('x{i}$') }}}}")).unwrap(),
                json!(true)
            );
        }
        let len = super::regex_cache_len();
        assert!(len <= super::REGEX_CACHE_CAP, "{len}");
    }

    #[test]
    fn date_formats_the_three_input_forms_in_utc() {
        let vars = json!({
            "unix": 1606339623, "unix_f": 1606339623.496,
            "rfc": "2020-11-25T21:27:03.496Z", "rfc_offset": "2020-11-25T22:27:03.496+01:00",
            "panther": "2020-11-25 21:27:03.496000000", "unix_s": "1606339623"
        });
        for name in ["unix", "unix_f", "rfc", "rfc_offset", "panther", "unix_s"] {
            let out = render_in(&format!("{{{{ {name} | date }}}}"), vars.clone());
            assert_eq!(out.unwrap(), json!("2020-11-25T21:27:03Z"), "{name}");
        }
        let out = render_in(
            "{{ panther | date('%Y-%m-%d %H:%M:%S%.3f %Z') }}",
            vars.clone(),
        );
        assert_eq!(out.unwrap(), json!("2020-11-25 21:27:03.496 UTC"));
        assert_eq!(
            render_in("{{ unix | date('%s') }}", vars).unwrap(),
            json!("1606339623")
        );
    }

    #[test]
    fn date_errors_name_the_problem_not_the_input() {
        let message = render("{{ 'yesterday' | date }}").unwrap_err();
        assert_eq!(message, "invalid operation: date: expected unix seconds, an RFC 3339 date or `YYYY-MM-DD HH:MM:SS` (UTC)");
        let message = render("{{ 0 | date('%Y %') }}").unwrap_err();
        assert!(
            message.starts_with("invalid operation: date: cannot format with `%Y %`"),
            "{message}"
        );
        assert!(render("{{ [1] | date }}").is_err());
    }

    #[test]
    fn timestamp_returns_unix_seconds() {
        assert_eq!(
            render("{{ '2020-11-25T21:27:03.496Z' | timestamp }}").unwrap(),
            json!(1606339623)
        );
        assert_eq!(
            render("{{ '2020-11-25 21:27:03.496000000' | timestamp }}").unwrap(),
            json!(1606339623)
        );
        assert_eq!(
            render("{{ 1606339623.9 | timestamp }}").unwrap(),
            json!(1606339623)
        );
        assert!(render("{{ 'soon' | timestamp }}")
            .unwrap_err()
            .starts_with("invalid operation: timestamp: expected"));
    }

    #[test]
    fn jsonpath_queries_a_virustotal_report() {
        let report = vt_report();
        let source = "{{ vt.body | jsonpath('$.data.attributes.last_analysis_stats.malicious') }}";
        assert_eq!(render_in(source, report.clone()).unwrap(), json!([61]));
        let source = "{{ vt.body | jsonpath(\"$.data.attributes.last_analysis_results[?@.category == 'malicious'].result\") }}";
        assert_eq!(
            render_in(source, report.clone()).unwrap(),
            json!(["EICAR Test-NOT virus!!!", "Win.Test.EICAR_HDB-1"])
        );
        let source = "{{ vt.body | jsonpath('$.data.nope') }}";
        assert_eq!(render_in(source, report.clone()).unwrap(), json!([]));
        let source = "{{ vt.body | jsonpath('$..tags[0]') | first_or_none }}";
        assert_eq!(render_in(source, report).unwrap(), json!("eicar"));
    }

    #[test]
    fn jsonpath_invalid_path_error_includes_the_path() {
        let message = render("{{ {} | jsonpath('$.data[') }}").unwrap_err();
        assert!(
            message.starts_with("invalid operation: jsonpath: invalid path `$.data[`"),
            "{message}"
        );
    }

    #[test]
    fn first_or_none_returns_the_first_item_or_none() {
        assert_eq!(render("{{ [3, 4] | first_or_none }}").unwrap(), json!(3));
        assert_eq!(render("{{ [] | first_or_none }}").unwrap(), Json::Null);
        assert_eq!(render("{{ none | first_or_none }}").unwrap(), Json::Null);
        assert!(render("{{ 5 | first_or_none }}").is_err());
    }

    #[test]
    fn builtin_filters_are_available() {
        let vars = json!({"alerts": [{"sev": "HIGH", "n": "3"}, {"sev": "low", "n": "4.5"}], "m": {"a": 1}});
        let cases = [
            ("{{ alerts[5] | default('none') }}", json!("none")),
            ("{{ alerts[0].sev | lower }}", json!("high")),
            ("{{ alerts[1].sev | upper }}", json!("LOW")),
            ("{{ alerts | length }}", json!(2)),
            (
                "{{ alerts | map(attribute='sev') | join(',') }}",
                json!("HIGH,low"),
            ),
            (
                "{{ alerts | selectattr('sev', 'eq', 'low') | list | length }}",
                json!(1),
            ),
            ("{{ alerts[0].n | int + 1 }}", json!(4)),
            ("{{ alerts[1].n | float }}", json!(4.5)),
            ("{{ 5 | string }}", json!("5")),
            ("{{ m | items | list }}", json!([["a", 1]])),
        ];
        for (source, expected) in cases {
            assert_eq!(
                render_in(source, vars.clone()).unwrap(),
                expected,
                "{source}"
            );
        }
    }

    #[test]
    fn prompt_url_returns_the_url_for_a_status() {
        let vars = json!({"__prompt_urls": {"approve": "https://w/p/1?s=approve", "deny": "https://w/p/1?s=deny"}});
        let out = render_in("Approve: {{ prompt_url('approve') }}", vars.clone());
        assert_eq!(out.unwrap(), json!("Approve: https://w/p/1?s=approve"));
        let message = render_in("{{ prompt_url('maybe') }}", vars).unwrap_err();
        assert_eq!(message, "invalid operation: prompt_url(): unknown status `maybe`, expected one of `approve`, `deny`");
    }

    #[test]
    fn prompt_url_outside_a_prompt_is_an_error() {
        let message = render("{{ prompt_url('approve') }}").unwrap_err();
        assert_eq!(
            message,
            "invalid operation: prompt_url() is only available in a prompt action's message"
        );
    }
}
