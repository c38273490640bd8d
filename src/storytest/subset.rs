//! JSON subset matching, and the differences when it fails. An expected mapping matches when
//! every key it gives matches (other keys may be there); a list matches a list of the same
//! length, element by element; scalars are equal (numbers by value: `1` is `1.0`). Text that
//! quotes a number or boolean does not equal it: `"5"` is not `5`.

use serde_json::Value;

/// One difference: where (`body.data.id`, `$` for the whole value), what was expected, what
/// was found (`None`: nothing there).
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The path, `$` for the root.
    pub path: String,
    /// The expected value.
    pub expected: Value,
    /// The value found; `None` when the key is missing.
    pub found: Option<Value>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let expected = short(&self.expected);
        match &self.found {
            Some(found) => write!(
                f,
                "{}: expected {expected}, got {}",
                self.path,
                short(found)
            ),
            None => write!(f, "{}: expected {expected}, got nothing", self.path),
        }
    }
}

/// A value in one line, long ones cut.
pub fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 200 {
        let cut: String = text.chars().take(197).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// The differences between `expected` (a subset) and `actual`; empty when it matches.
pub fn differences(expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    walk("$", expected, actual, &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path, plain) {
        ("$", true) => key.to_owned(),
        (_, true) => format!("{path}.{key}"),
        _ => format!("{path}[{}]", Value::String(key.to_owned())),
    }
}

fn walk(path: &str, expected: &Value, actual: &Value, out: &mut Vec<Difference>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, want) in want {
                let at = join(path, key);
                match have.get(key) {
                    Some(have) => walk(&at, want, have, out),
                    None => out.push(Difference {
                        path: at,
                        expected: want.clone(),
                        found: None,
                    }),
                }
            }
        }
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => {
            for (i, (want, have)) in want.iter().zip(have).enumerate() {
                walk(&format!("{path}[{i}]"), want, have, out);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        _ if expected == actual => {}
        _ => out.push(Difference {
            path: path.to_owned(),
            expected: expected.clone(),
            found: Some(actual.clone()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_subset_matches_and_extra_keys_are_ignored() {
        let actual = json!({"a": 1, "b": {"c": [1, {"d": "x", "e": 2}]}, "f": true});
        assert!(differences(&json!({"b": {"c": [1.0, {"d": "x"}]}}), &actual).is_empty());
        assert!(differences(&json!({}), &actual).is_empty());
    }

    #[test]
    fn differences_name_their_paths() {
        let actual = json!({"a": 1, "b": {"c": [1, 2]}, "odd key": "v"});
        let found = differences(
            &json!({"a": "1", "b": {"c": [1], "z": null}, "odd key": "w"}),
            &actual,
        );
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                r#"a: expected "1", got 1"#,
                "b.c: expected [1], got [1,2]",
                "b.z: expected null, got nothing",
                r#"$["odd key"]: expected "w", got "v""#,
            ]
        );
    }
}
