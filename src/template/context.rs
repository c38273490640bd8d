//! [`Context`]: the root variables a field renders against.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Serde, Value as MjValue, ValueKind};
use serde_json::{Map, Value as Json};

use super::redaction::Secrets;

/// Roots that name configuration, not data: a missing credential or resource is always an
/// error, even where missing data is tolerated.
const NAMED_ROOTS: &[&str] = &["credentials", "resources"];

/// Root variables a template renders against: upstream action ids and the
/// [`SCOPES`](super::SCOPES). Converted to a minijinja value once, so one
/// context serves many renders cheaply; clones share it.
#[derive(Clone)]
pub struct Context {
    root: MjValue,
    /// Credential values to scrub from error messages.
    secrets: Secrets,
    /// Set when missing data renders empty; collects the paths found missing.
    missing_data: Option<Arc<Mutex<BTreeSet<String>>>>,
}

impl Context {
    /// Builds a context from root variables (`receive_alert`, `credentials`…). It is strict: a
    /// missing value is a render error (see [`Context::tolerating_missing_data`]).
    pub fn new(vars: Map<String, Json>) -> Context {
        let secrets = Secrets::of(vars.get("credentials"));
        Context {
            root: MjValue::from(Serde(vars)),
            secrets,
            missing_data: None,
        }
    }

    /// The same context where reading a missing attribute of data yields an empty value
    /// instead of failing (Tines' behaviour): `{{ a.b.c }}` prints nothing and a single
    /// expression renders `null` when `a.b` is absent or null. The paths found missing are
    /// kept ([`Context::missing_data`]). A missing credential or resource, and a value passed
    /// to `| required`, still fail. Clones (and [`Context::with`]) share what is collected.
    pub fn tolerating_missing_data(mut self) -> Context {
        self.missing_data = Some(Arc::default());
        self
    }

    /// The dotted paths renders found missing so far (first missing part included), sorted.
    pub fn missing_data(&self) -> Vec<String> {
        self.missing_data.as_ref().map_or_else(Vec::new, |found| {
            found
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .iter()
                .cloned()
                .collect()
        })
    }

    /// Whether a render that met missing data may be done again tolerantly, recording
    /// `paths`: never for a strict context or a missing credential or resource.
    pub(super) fn tolerates(&self, paths: &[String]) -> bool {
        let Some(found) = &self.missing_data else {
            return false;
        };
        if paths
            .iter()
            .any(|path| NAMED_ROOTS.contains(&super::compile::root_of(path)))
        {
            return false;
        }
        found
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(paths.iter().cloned());
        true
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
            missing_data: self.missing_data.clone(),
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
        Some(match self.first_missing(path)? {
            Missing::Root(root) => {
                let mut known = self.root_names();
                known.truncate(20);
                format!("undefined variable `{root}` (known: {})", known.join(", "))
            }
            Missing::Attribute { path, parent_kind } => {
                let (walked, part) = path.rsplit_once('.').unwrap_or_default();
                format!(
                    "undefined value `{path}`: `{walked}` ({parent_kind}) has no attribute `{part}`"
                )
            }
        })
    }

    /// The part of dotted `path` that does not resolve, up to its first missing part, or
    /// `None` if it resolves.
    pub(super) fn missing_path(&self, path: &str) -> Option<String> {
        Some(match self.first_missing(path)? {
            Missing::Root(root) => root.to_owned(),
            Missing::Attribute { path, .. } => path,
        })
    }

    fn first_missing<'p>(&self, path: &'p str) -> Option<Missing<'p>> {
        let mut parts = path.split('.');
        let root = parts.next()?;
        let mut current = self.root.get_attr(root).ok().filter(|v| !v.is_undefined());
        if current.is_none() {
            return Some(Missing::Root(root));
        }
        let mut walked = root.to_owned();
        for part in parts {
            let parent = current?;
            current = match (part.parse::<usize>(), parent.kind()) {
                (Ok(index), ValueKind::Seq) => parent.get_item_by_index(index).ok(),
                _ => parent.get_attr(part).ok(),
            }
            .filter(|v| !v.is_undefined());
            walked.push('.');
            walked.push_str(part);
            if current.is_none() {
                return Some(Missing::Attribute {
                    path: walked,
                    parent_kind: parent.kind(),
                });
            }
        }
        None
    }
}

/// Where a dotted path stops resolving.
enum Missing<'p> {
    /// Its root is not in the context.
    Root(&'p str),
    /// `path` (up to the missing part) is absent from a value of `parent_kind`.
    Attribute {
        path: String,
        parent_kind: ValueKind,
    },
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
