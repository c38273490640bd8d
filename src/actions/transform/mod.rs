//! `transform`: Tines' Event Transform modes (see [`crate::story::kinds::transform`]).
//!
//! The modes are pure functions. The stateless modes (`message`, `extract`, `explode`, `delay`)
//! take a template [`Context`]; the stateful ones (`deduplicate`, `throttle`, `implode`) take the
//! action's previous state as JSON and return the next one, so these rules can be tested without
//! a store. [`run`] (in `step.rs`) is the one place that reads state and hands back its
//! compare-and-set.

mod dedupe;
mod implode;
mod step;
mod throttle;

pub use step::{deduplicated_event, explode_marks, released_event, run, At};

pub use dedupe::deduplicate;
pub use implode::{implode_add, implode_flush};
pub use throttle::throttle_slot;

use super::{render, render_dynamic, render_text, Error};
use crate::story::kinds::transform::{
    DelayOptions, ExplodeOptions, ExtractOptions, MessageOptions,
};
use crate::story::value::MAX_DURATION;
use crate::template::Context;
use jiff::Timestamp;
use serde_json::{json, Map, Value};

/// The most elements a `message` loop renders, and the most events an `explode` emits: enough for
/// any real alert batch, small enough that one event cannot occupy the runner.
pub const MAX_ELEMENTS: usize = 20_000;

/// The most matches one extract matcher collects. An empty-matching regex on a large body would
/// otherwise produce one list entry per byte.
pub const MAX_MATCHES: usize = 20_000;

/// How many elements `explode` emits when the story gives no `limit` (Tines' default).
pub const DEFAULT_EXPLODE_LIMIT: usize = 500;

/// Builds the event of `mode: message`. With `loop`, the payload is rendered once per element so
/// one event can carry a reshaped list (Tines' `LOOP`); without it, the payload is the event.
pub fn message(o: &MessageOptions, ctx: &Context) -> Result<Value, Error> {
    let Some(loop_over) = &o.loop_over else {
        return render_dynamic("payload", &o.payload, ctx);
    };
    let elements: Vec<(Value, Value)> = match render("loop", loop_over, ctx)? {
        Value::Array(items) => items.into_iter().map(|v| (Value::Null, v)).collect(),
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| (Value::String(k), v))
            .collect(),
        other => {
            return Err(Error::permanent(format!(
                "`loop` gave {}, expected a list or a mapping",
                kind_of(&other)
            )))
        }
    };
    if elements.len() > MAX_ELEMENTS {
        return Err(Error::permanent(format!(
            "`loop` gave {} elements; at most {MAX_ELEMENTS} are allowed",
            elements.len()
        )));
    }
    let mut out = Vec::with_capacity(elements.len());
    for (index, (key, value)) in elements.into_iter().enumerate() {
        let item = json!({ "value": value, "index": index, "key": key });
        let rendered = render_dynamic("payload", &o.payload, &ctx.with("item", &item));
        out.push(rendered.map_err(|e| at_loop_element(e, index, &item["key"]))?);
    }
    Ok(Value::Array(out))
}

/// Says which loop element a payload failed on, in the failure's details, so the failing input
/// can be found without copying it into the message.
fn at_loop_element(error: Error, index: usize, key: &Value) -> Error {
    match error {
        Error::Permanent { message, details } => Error::Permanent {
            message,
            details: Some(
                details.unwrap_or_else(|| json!({ "loop": { "index": index, "key": key } })),
            ),
        },
        other => other,
    }
}

/// Collects regex matches for `mode: extract`: one list per matcher under its `to` key (matchers
/// sharing a `to` append to one list). A regex with groups collects its first group, so a story
/// can match context but keep only the interesting part. `None` means "emit nothing".
pub fn extract(o: &ExtractOptions, ctx: &Context) -> Result<Option<Value>, Error> {
    let mut out = Map::new();
    let mut found_any = false;
    for (i, matcher) in o.matchers.iter().enumerate() {
        let text = render_text(&format!("matchers[{i}].path"), &matcher.path, ctx)?;
        let regex = &matcher.regex.regex;
        let found: Vec<Value> = if regex.captures_len() > 1 {
            regex
                .captures_iter(&text)
                .filter_map(|c| c.get(1))
                .take(MAX_MATCHES)
                .map(|m| Value::String(m.as_str().to_owned()))
                .collect()
        } else {
            regex
                .find_iter(&text)
                .take(MAX_MATCHES)
                .map(|m| Value::String(m.as_str().to_owned()))
                .collect()
        };
        found_any |= !found.is_empty();
        if let Value::Array(list) = out
            .entry(matcher.to.value.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.extend(found);
        }
    }
    Ok((found_any || o.emit_no_match).then_some(Value::Object(out)))
}

/// Splits a list into events for `mode: explode`. Each event carries `index`, `size` and `guid`
/// so a later implode can put the list back together; `size` is the number actually emitted, so
/// an implode of a truncated list still completes. Anything but a list emits nothing, as in Tines.
pub fn explode(o: &ExplodeOptions, ctx: &Context, guid: &str) -> Result<Vec<Value>, Error> {
    let Value::Array(items) = render("path", &o.path, ctx)? else {
        return Ok(Vec::new());
    };
    let limit = o
        .limit
        .as_ref()
        .map_or(DEFAULT_EXPLODE_LIMIT, |l| l.value as usize)
        .min(MAX_ELEMENTS);
    let size = items.len().min(limit);
    Ok(items
        .into_iter()
        .take(size)
        .enumerate()
        .map(|(index, element)| {
            let mut event = Map::new();
            event.insert(o.to.value.clone(), element);
            // The bookkeeping keys win over a `to` of the same name: implode depends on them.
            event.insert("index".into(), index.into());
            event.insert("size".into(), size.into());
            event.insert("guid".into(), guid.into());
            Value::Object(event)
        })
        .collect())
}

/// When a `mode: delay` event is released. Never before `now` (a past `until` releases at once)
/// and never more than a year after it, the same bound every duration option has, so a
/// milliseconds-for-seconds mistake cannot park an event for centuries.
pub fn delay_until(o: &DelayOptions, ctx: &Context, now: Timestamp) -> Result<Timestamp, Error> {
    let latest = now.checked_add(MAX_DURATION).unwrap_or(Timestamp::MAX);
    let target = match (&o.duration, &o.until) {
        (Some(duration), _) => now.checked_add(duration.value).unwrap_or(latest),
        (None, Some(until)) => match release_time(&render("until", until, ctx)?)? {
            When::At(at) => at,
            When::UnixSeconds(seconds) => {
                if seconds <= now.as_millisecond() as f64 / 1000.0 {
                    now
                } else if seconds >= latest.as_millisecond() as f64 / 1000.0 {
                    latest
                } else {
                    // In range: between `now` and a year from it.
                    Timestamp::from_millisecond((seconds * 1000.0).round() as i64).unwrap_or(latest)
                }
            }
        },
        (None, None) => {
            return Err(Error::Misconfigured {
                message: "delay needs `duration` or `until`".into(),
            })
        }
    };
    Ok(target.clamp(now, latest))
}

/// A release time as written: an instant, or unix seconds still to be bounded.
enum When {
    At(Timestamp),
    UnixSeconds(f64),
}

fn release_time(value: &Value) -> Result<When, Error> {
    let seconds = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(at) = s.parse::<Timestamp>() {
                return Ok(When::At(at));
            }
            let numeric = !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
            s.parse::<f64>().ok().filter(|_| numeric)
        }
        _ => None,
    };
    match seconds {
        Some(seconds) if seconds.is_finite() => Ok(When::UnixSeconds(seconds)),
        _ => Err(Error::permanent(format!(
            "`until` gave {} `{}`, expected an RFC 3339 time (2024-05-01T12:00:00Z) or unix seconds",
            kind_of(value),
            preview(value)
        ))),
    }
}

/// The JSON type of a value, as an error message names it.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// The start of a value's text, enough to recognise it in an error without copying a whole body.
fn preview(value: &Value) -> String {
    const MAX: usize = 64;
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde::de::DeserializeOwned;

    /// Options read from YAML through the story deserializer, as a story would give them.
    pub(crate) fn options<T: DeserializeOwned>(yaml: &str) -> T {
        let mut diagnostics = Vec::new();
        let node = crate::yaml::parse(yaml, &mut diagnostics).expect("yaml parses");
        let options = crate::yaml::from_node(&node, &mut diagnostics);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        options.expect("options deserialize")
    }

    /// A context with `event` as the upstream action `alert`.
    pub(crate) fn ctx(event: Value) -> Context {
        let mut vars = Map::new();
        vars.insert("alert".into(), event);
        Context::new(vars)
    }

    #[test]
    fn a_message_renders_its_payload_with_types_kept() {
        let o: MessageOptions = options(
            "payload:\n  id: \"{{ alert.id }}\"\n  text: \"alert {{ alert.id }}\"\n  fixed: 1\n",
        );
        let event = message(&o, &ctx(json!({"id": 7}))).unwrap();
        assert_eq!(event, json!({"id": 7, "text": "alert 7", "fixed": 1}));
    }

    #[test]
    fn a_loop_over_a_list_renders_once_per_element() {
        let o: MessageOptions = options(
            "loop: \"{{ alert.ips }}\"\npayload:\n  ip: \"{{ item.value }}\"\n  n: \"{{ item.index }}\"\n  key: \"{{ item.key }}\"\n",
        );
        let event = message(&o, &ctx(json!({"ips": ["1.1.1.1", "2.2.2.2"]}))).unwrap();
        assert_eq!(
            event,
            json!([
                {"ip": "1.1.1.1", "n": 0, "key": null},
                {"ip": "2.2.2.2", "n": 1, "key": null},
            ])
        );
    }

    #[test]
    fn a_loop_over_a_mapping_gives_keys_and_indexes() {
        let o: MessageOptions =
            options("loop: \"{{ alert.counts }}\"\npayload: \"{{ item.key }}={{ item.value }}#{{ item.index }}\"\n");
        let event = message(&o, &ctx(json!({"counts": {"b": 2, "a": 1}}))).unwrap();
        assert_eq!(event, json!(["b=2#0", "a=1#1"]));
    }

    #[test]
    fn a_loop_over_a_scalar_is_permanent() {
        let o: MessageOptions = options("loop: \"{{ alert.n }}\"\npayload: x\n");
        let error = message(&o, &ctx(json!({"n": 3}))).unwrap_err();
        assert_eq!(error.class(), "permanent");
        assert!(error.to_string().contains("a number"), "{error}");
    }

    #[test]
    fn a_loop_over_too_many_elements_is_permanent() {
        let o: MessageOptions = options("loop: \"{{ alert.items }}\"\npayload: x\n");
        let items = vec![Value::Null; MAX_ELEMENTS + 1];
        let error = message(&o, &ctx(json!({"items": items}))).unwrap_err();
        assert_eq!(error.class(), "permanent");
        let at_limit = vec![Value::Null; MAX_ELEMENTS];
        let event = message(&o, &ctx(json!({"items": at_limit}))).unwrap();
        assert_eq!(event.as_array().map(Vec::len), Some(MAX_ELEMENTS));
    }

    #[test]
    fn a_loop_failure_names_the_element_in_its_details() {
        let o: MessageOptions =
            options("loop: \"{{ alert.items }}\"\npayload: \"{{ item.value.x }}\"\n");
        let error = message(&o, &ctx(json!({"items": [{"x": 1}, {}]}))).unwrap_err();
        assert_eq!(
            error.to_json()["details"],
            json!({"loop": {"index": 1, "key": null}})
        );
    }

    #[test]
    fn extract_collects_every_match() {
        let o: ExtractOptions = options(
            "matchers:\n  - path: \"{{ alert.text }}\"\n    regex: '\\d+\\.\\d+\\.\\d+\\.\\d+'\n    to: ips\n",
        );
        let event = extract(&o, &ctx(json!({"text": "from 10.0.0.1 to 10.0.0.2"}))).unwrap();
        assert_eq!(event, Some(json!({"ips": ["10.0.0.1", "10.0.0.2"]})));
    }

    #[test]
    fn extract_keeps_the_first_group_when_the_regex_has_groups() {
        let o: ExtractOptions = options(
            "matchers:\n  - path: \"{{ alert.text }}\"\n    regex: 'user=(\\w+)(;)?'\n    to: users\n",
        );
        let event = extract(&o, &ctx(json!({"text": "user=ann; user=bob"}))).unwrap();
        assert_eq!(event, Some(json!({"users": ["ann", "bob"]})));
    }

    #[test]
    fn extract_searches_the_text_form_of_non_strings() {
        let o: ExtractOptions = options(
            "matchers:\n  - path: \"{{ alert.data }}\"\n    regex: '\"id\":\\d+'\n    to: ids\n",
        );
        let event = extract(&o, &ctx(json!({"data": {"id": 5}}))).unwrap();
        assert_eq!(event, Some(json!({"ids": ["\"id\":5"]})));
    }

    #[test]
    fn extract_emits_nothing_without_a_match_unless_asked() {
        let quiet: ExtractOptions =
            options("matchers:\n  - path: \"{{ alert.text }}\"\n    regex: x+\n    to: xs\n");
        assert_eq!(extract(&quiet, &ctx(json!({"text": "abc"}))).unwrap(), None);
        let loud: ExtractOptions = options(
            "emit_no_match: true\nmatchers:\n  - path: \"{{ alert.text }}\"\n    regex: x+\n    to: xs\n",
        );
        assert_eq!(
            extract(&loud, &ctx(json!({"text": "abc"}))).unwrap(),
            Some(json!({"xs": []}))
        );
    }

    #[test]
    fn extract_caps_the_matches_of_one_matcher() {
        let o: ExtractOptions =
            options("matchers:\n  - path: \"{{ alert.text }}\"\n    regex: a\n    to: as\n");
        let text = "a".repeat(MAX_MATCHES + 10);
        let event = extract(&o, &ctx(json!({ "text": text }))).unwrap().unwrap();
        assert_eq!(event["as"].as_array().map(Vec::len), Some(MAX_MATCHES));
    }

    #[test]
    fn explode_emits_one_event_per_element() {
        let o: ExplodeOptions = options("path: \"{{ alert.ips }}\"\nto: ip\n");
        let events = explode(&o, &ctx(json!({"ips": ["a", "b"]})), "g1").unwrap();
        assert_eq!(
            events,
            vec![
                json!({"ip": "a", "index": 0, "size": 2, "guid": "g1"}),
                json!({"ip": "b", "index": 1, "size": 2, "guid": "g1"}),
            ]
        );
    }

    #[test]
    fn explode_stops_at_the_limit_and_reports_the_emitted_size() {
        let o: ExplodeOptions = options("path: \"{{ alert.ips }}\"\nto: ip\nlimit: 2\n");
        let events = explode(&o, &ctx(json!({"ips": [1, 2, 3]})), "g").unwrap();
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e["size"] == 2));
    }

    #[test]
    fn explode_defaults_to_five_hundred_elements() {
        let o: ExplodeOptions = options("path: \"{{ alert.ips }}\"\nto: ip\n");
        let events = explode(&o, &ctx(json!({"ips": vec![0; 600]})), "g").unwrap();
        assert_eq!(events.len(), DEFAULT_EXPLODE_LIMIT);
    }

    #[test]
    fn explode_never_exceeds_twenty_thousand() {
        let o: ExplodeOptions = options("path: \"{{ alert.ips }}\"\nto: ip\nlimit: 50000\n");
        let events = explode(&o, &ctx(json!({"ips": vec![0; MAX_ELEMENTS + 5]})), "g").unwrap();
        assert_eq!(events.len(), MAX_ELEMENTS);
    }

    #[test]
    fn explode_of_a_non_list_emits_nothing() {
        let o: ExplodeOptions = options("path: \"{{ alert.x }}\"\nto: x\n");
        for x in [json!("a,b"), json!({"a": 1}), json!(null), json!(3)] {
            assert!(explode(&o, &ctx(json!({ "x": x })), "g")
                .unwrap()
                .is_empty());
        }
    }

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn delay(yaml: &str, until: Value) -> Result<Timestamp, Error> {
        let o: DelayOptions = options(yaml);
        delay_until(&o, &ctx(json!({ "until": until })), now())
    }

    #[test]
    fn a_delay_duration_adds_to_now() {
        let at = delay("duration: 90s\n", Value::Null).unwrap();
        assert_eq!(at, "2024-05-01T12:01:30Z".parse::<Timestamp>().unwrap());
    }

    #[test]
    fn delay_until_accepts_rfc3339_and_unix_seconds() {
        let yaml = "until: \"{{ alert.until }}\"\n";
        let expected: Timestamp = "2024-05-01T13:00:00Z".parse().unwrap();
        assert_eq!(
            delay(yaml, json!("2024-05-01T13:00:00Z")).unwrap(),
            expected
        );
        assert_eq!(
            delay(yaml, json!("2024-05-01T15:00:00+02:00")).unwrap(),
            expected
        );
        let unix = expected.as_second();
        assert_eq!(delay(yaml, json!(unix)).unwrap(), expected);
        assert_eq!(delay(yaml, json!(unix.to_string())).unwrap(), expected);
        assert_eq!(
            delay(yaml, json!(unix as f64 + 0.5))
                .unwrap()
                .as_millisecond(),
            expected.as_millisecond() + 500
        );
    }

    #[test]
    fn delay_until_a_past_time_releases_now() {
        let yaml = "until: \"{{ alert.until }}\"\n";
        assert_eq!(delay(yaml, json!("2020-01-01T00:00:00Z")).unwrap(), now());
        assert_eq!(delay(yaml, json!(0)).unwrap(), now());
        assert_eq!(delay(yaml, json!(-5)).unwrap(), now());
    }

    #[test]
    fn delay_until_is_capped_at_a_year() {
        let yaml = "until: \"{{ alert.until }}\"\n";
        let cap = now().checked_add(MAX_DURATION).unwrap();
        assert_eq!(delay(yaml, json!("2099-01-01T00:00:00Z")).unwrap(), cap);
        assert_eq!(delay(yaml, json!(1e300)).unwrap(), cap);
        assert_eq!(delay(yaml, json!(now().as_millisecond())).unwrap(), cap);
    }

    #[test]
    fn an_unparsable_until_is_permanent() {
        let yaml = "until: \"{{ alert.until }}\"\n";
        for bad in [
            json!("tomorrow"),
            json!("2024-05-01"),
            json!(null),
            json!([1]),
            json!("inf"),
            json!(""),
        ] {
            let error = delay(yaml, bad.clone()).unwrap_err();
            assert_eq!(error.class(), "permanent", "{bad}");
        }
    }
}
