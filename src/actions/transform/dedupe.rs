//! `mode: deduplicate`: drops events whose key was seen recently.
//!
//! State is `{"keys": [["<fingerprint>", <first seen, ms>], ...]}`, oldest first. Keys are kept as
//! fingerprints, not values, so the state never holds event data and each entry has a fixed size.

use crate::story::kinds::transform::DeduplicateOptions;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The largest `lookback` honoured: comparisons stay cheap and the state small.
pub const MAX_LOOKBACK: usize = 1_000;

/// The most keys a `period` remembers. A period bounds the state by time only, so a burst of
/// distinct keys needs this second bound; past it the oldest keys are forgotten early (a duplicate
/// of one of them would pass).
pub const MAX_PERIOD_KEYS: usize = 10_000;

/// Decides whether `key` is new and returns the state to store next, with `is_new`.
///
/// As in Tines (and Huginn before it), only new keys are remembered and a duplicate changes
/// nothing: with `lookback` the last N distinct keys are kept, with `period` a key is forgotten a
/// period after it was first seen, however often it repeats meanwhile. A missing or malformed
/// state counts as empty, so a corrupted row costs at most one duplicate, never a failed run.
pub fn deduplicate(
    o: &DeduplicateOptions,
    state: Option<Value>,
    key: &Value,
    now_ms: i64,
) -> (Value, bool) {
    let id = fingerprint(key);
    let mut seen = read(state);
    let capacity = match (&o.lookback, &o.period) {
        (Some(n), _) => (n.value as usize).min(MAX_LOOKBACK),
        (None, Some(_)) => MAX_PERIOD_KEYS,
        // Validation requires one of the two; remember as much as a lookback can.
        (None, None) => MAX_LOOKBACK,
    };
    if let Some(period) = &o.period {
        // Durations are capped at a year, so the milliseconds fit an i64.
        let period_ms = i64::try_from(period.value.as_millis()).unwrap_or(i64::MAX);
        seen.retain(|(_, at)| now_ms.saturating_sub(*at) < period_ms);
    }
    let is_new = !seen.iter().any(|(k, _)| *k == id);
    if is_new {
        seen.push((id, now_ms));
    }
    let excess = seen.len().saturating_sub(capacity);
    seen.drain(..excess);
    let keys: Vec<Value> = seen.into_iter().map(|(k, at)| json!([k, at])).collect();
    (json!({ "keys": keys }), is_new)
}

/// The first 32 hex digits of the SHA-256 of the key's compact JSON: 128 bits, so collisions are
/// not a practical concern, at half the storage of the full digest.
fn fingerprint(key: &Value) -> String {
    let digest = Sha256::digest(key.to_string().as_bytes());
    crate::hex::hex(&digest[..16])
}

fn read(state: Option<Value>) -> Vec<(String, i64)> {
    let Some(Value::Object(mut map)) = state else {
        return Vec::new();
    };
    let Some(Value::Array(entries)) = map.remove("keys") else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let Value::Array(pair) = entry else {
                return None;
            };
            let mut pair = pair.into_iter();
            match (
                pair.next(),
                pair.next().as_ref().and_then(Value::as_i64),
                pair.next(),
            ) {
                (Some(Value::String(k)), Some(at), None) => Some((k, at)),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::transform::tests::options;

    const MINUTE: i64 = 60_000;

    /// Feeds `keys` in order, one per minute, and says which were new.
    fn run(o: &DeduplicateOptions, keys: &[Value]) -> (Value, Vec<bool>) {
        let mut state = None;
        let mut verdicts = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let (next, is_new) = deduplicate(o, state, key, i as i64 * MINUTE);
            state = Some(next);
            verdicts.push(is_new);
        }
        (state.unwrap_or(Value::Null), verdicts)
    }

    #[test]
    fn a_repeated_key_is_dropped() {
        let o: DeduplicateOptions = options("path: \"{{ a }}\"\nlookback: 10\n");
        let (_, verdicts) = run(&o, &[json!("x"), json!("y"), json!("x")]);
        assert_eq!(verdicts, [true, true, false]);
    }

    #[test]
    fn keys_compare_by_their_json_so_types_matter() {
        let o: DeduplicateOptions = options("path: \"{{ a }}\"\nlookback: 10\n");
        let (_, verdicts) = run(
            &o,
            &[json!("1"), json!(1), json!({"a": [1]}), json!({"a": [1]})],
        );
        assert_eq!(verdicts, [true, true, true, false]);
    }

    #[test]
    fn lookback_forgets_the_oldest_key() {
        let o: DeduplicateOptions = options("path: \"{{ a }}\"\nlookback: 2\n");
        let (state, verdicts) = run(&o, &[json!("a"), json!("b"), json!("c"), json!("a")]);
        assert_eq!(verdicts, [true, true, true, true]);
        assert_eq!(state["keys"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn lookback_counts_distinct_keys_not_duplicates() {
        let o: DeduplicateOptions = options("path: \"{{ a }}\"\nlookback: 2\n");
        let (_, verdicts) = run(
            &o,
            &[json!("a"), json!("b"), json!("b"), json!("b"), json!("a")],
        );
        assert_eq!(verdicts, [true, true, false, false, false]);
    }

    #[test]
    fn lookback_is_capped_at_a_thousand() {
        let o: DeduplicateOptions = options("path: \"{{ a }}\"\nlookback: 5000\n");
        let keys: Vec<Value> = (0..1_200).map(Value::from).collect();
        let (state, _) = run(&o, &keys);
        assert_eq!(state["keys"].as_array().map(Vec::len), Some(MAX_LOOKBACK));
    }

    #[test]
    fn period_forgets_keys_older_than_the_period() {
        let o: DeduplicateOptions = options("path: \"{{ a }}\"\nperiod: 5m\n");
        let (state, is_new) = deduplicate(&o, None, &json!("x"), 0);
        assert!(is_new);
        let (state, is_new) = deduplicate(&o, Some(state), &json!("x"), 4 * MINUTE);
        assert!(!is_new);
        let (state, is_new) = deduplicate(&o, Some(state), &json!("x"), 5 * MINUTE);
        assert!(is_new, "a duplicate does not refresh the first sighting");
        let (_, is_new) = deduplicate(&o, Some(state), &json!("x"), 6 * MINUTE);
        assert!(!is_new);
    }

    #[test]
    fn period_state_drops_expired_keys() {
        let o: DeduplicateOptions = options("path: \"{{ a }}\"\nperiod: 1m\n");
        let keys: Vec<Value> = (0..50).map(Value::from).collect();
        let (state, verdicts) = run(&o, &keys);
        assert!(verdicts.iter().all(|v| *v));
        assert_eq!(state["keys"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn period_state_is_bounded_under_a_burst() {
        let o: DeduplicateOptions = options("path: \"{{ a }}\"\nperiod: 1d\n");
        // A full state, as a burst of distinct keys within one period leaves it.
        let full: Vec<Value> = (0..MAX_PERIOD_KEYS)
            .map(|i| json!([fingerprint(&json!(i)), 0]))
            .collect();
        let mut state = json!({ "keys": full });
        for i in MAX_PERIOD_KEYS..(MAX_PERIOD_KEYS + 5) {
            let (next, is_new) = deduplicate(&o, Some(state), &json!(i), 0);
            assert!(is_new);
            state = next;
        }
        let keys = state["keys"].as_array().expect("a list of keys");
        assert_eq!(keys.len(), MAX_PERIOD_KEYS);
        assert_eq!(
            keys[0][0],
            fingerprint(&json!(5)),
            "the oldest keys go first"
        );
        let (_, is_new) = deduplicate(&o, Some(state), &json!(MAX_PERIOD_KEYS + 4), 0);
        assert!(!is_new);
    }

    #[test]
    fn a_malformed_state_counts_as_empty() {
        let o: DeduplicateOptions = options("path: \"{{ a }}\"\nlookback: 3\n");
        for bad in [
            json!(null),
            json!([1]),
            json!({"keys": 5}),
            json!({"keys": [[1, "x"], "y"]}),
        ] {
            let (state, is_new) = deduplicate(&o, Some(bad), &json!("k"), 0);
            assert!(is_new);
            assert_eq!(state["keys"].as_array().map(Vec::len), Some(1));
        }
    }

    #[test]
    fn the_state_holds_fingerprints_not_values() {
        let o: DeduplicateOptions = options("path: \"{{ a }}\"\nlookback: 3\n");
        let (state, _) = deduplicate(&o, None, &json!("secret@example.com"), 7);
        let entry = &state["keys"][0];
        assert_eq!(entry[0].as_str().map(str::len), Some(32));
        assert!(!state.to_string().contains("secret"));
        assert_eq!(entry[1], 7);
    }
}
