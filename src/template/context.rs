//! [`Context`]: the root variables a field renders against.

use std::fmt;

use minijinja::value::{Serde, Value as MjValue, ValueKind};
use serde_json::{Map, Value as Json};

use super::redaction::Secrets;

/// Root variables a template renders against: upstream action ids and the
/// [`SCOPES`](super::SCOPES). Converted to a minijinja value once, so one
/// context serves many renders cheaply; clones share it.
#[derive(Clone)]
pub struct Context {
    root: MjValue,
    /// Credential values to scrub from error messages.
    secrets: Secrets,
}

impl Context {
    /// Builds a context from root variables (`receive_alert`, `credentials`…).
    pub fn new(vars: Map<String, Json>) -> Context {
        let secrets = Secrets::of(vars.get("credentials"));
        Context {
            root: MjValue::from(Serde(vars)),
            secrets,
        }
    }

    /// A copy with root variable `name` set to `value` (e.g. `item` for each
    /// element of a loop). The other roots are shared, not converted again.
    pub fn with(&self, name: &str, value: &Json) -> Context {
        let new_value = MjValue::from(Serde(value));
        let mut replaced = false;
        let mut pairs: Vec<(MjValue, MjValue)> = Vec::new();
        for key in self.root.try_iter().into_iter().flatten() {
            if key.as_str() == Some(name) {
                replaced = true;
                pairs.push((key, new_value.clone()));
            } else {
                let old = self.root.get_item(&key).unwrap_or_default();
                pairs.push((key, old));
            }
        }
        if !replaced {
            pairs.push((MjValue::from(name), new_value));
        }
        Context {
            root: MjValue::from_pairs(pairs),
            secrets: if name == "credentials" {
                Secrets::of(Some(value))
            } else {
                self.secrets.clone()
            },
        }
    }

    /// The roots as one minijinja map, what templates render against.
    pub(super) fn root(&self) -> &MjValue {
        &self.root
    }

    /// `message` with every credential value of this context replaced.
    pub(super) fn redact(&self, message: String) -> String {
        self.secrets.scrub(message)
    }

    fn root_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .root
            .try_iter()
            .map(|keys| keys.filter_map(|k| k.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        names.retain(|n| !n.starts_with("__"));
        names
    }

    /// Describes why dotted `path` does not resolve, or `None` if it does.
    pub(super) fn missing(&self, path: &str) -> Option<String> {
        let mut parts = path.split('.');
        let root = parts.next()?;
        let mut current = self.root.get_attr(root).ok().filter(|v| !v.is_undefined());
        if current.is_none() {
            let mut known = self.root_names();
            known.truncate(20);
            return Some(format!(
                "undefined variable `{root}` (known: {})",
                known.join(", ")
            ));
        }
        let mut walked = root.to_owned();
        for part in parts {
            let parent = current?;
            current = match (part.parse::<usize>(), parent.kind()) {
                (Ok(index), ValueKind::Seq) => parent.get_item_by_index(index).ok(),
                _ => parent.get_attr(part).ok(),
            }
            .filter(|v| !v.is_undefined());
            if current.is_none() {
                return Some(format!(
                    "undefined value `{walked}.{part}`: `{walked}` ({}) has no attribute `{part}`",
                    parent.kind()
                ));
            }
            walked.push('.');
            walked.push_str(part);
        }
        None
    }
}

impl Default for Context {
    fn default() -> Context {
        Context::new(Map::new())
    }
}

impl From<Map<String, Json>> for Context {
    fn from(vars: Map<String, Json>) -> Context {
        Context::new(vars)
    }
}

/// Shows root names only: a context holds credentials.
impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("roots", &self.root_names())
            .finish_non_exhaustive()
    }
}
