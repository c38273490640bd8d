//! Panther's Python rules: `def rule(event)` and its optional `title`, `dedup`, `severity`,
//! `alert_context`, `description`, `reference`, `runbook` and `destinations`, with global helpers
//! (`global_helpers/*.py`, importable by name) and data models (`data_models/*.yml`, for
//! `event.udm()`).
//!
//! Python runs in separate `python3` processes ([`pool`]): a pool of workers, each started with
//! `python3 -I -B -c <harness>` and every rule, helper and data model loaded once. The harness
//! (`harness.py`, embedded) gives rules Panther's `PantherEvent` (case-insensitive, immutable,
//! `get`, `deep_get`, `deep_walk`, `udm`), enforces each call's deadline with `SIGALRM`, and
//! answers batches of events over [`protocol`]'s length-prefixed frames. A worker that does not
//! answer is killed and replaced; a rule that raises or runs late is a rule error for that event,
//! never a stopped ingest. [`load`] reads the files and reports load errors (syntax, an import
//! outside the standard library and the helpers, no `rule`) at the Python file's line.

pub mod load;
pub mod pool;
pub mod protocol;

pub use pool::{Config, Pool};
pub use protocol::{HelperSource, Library, ModelSource, Outcome, Outputs, PyError, RuleSource};

use super::Rule;
use std::sync::Arc;

/// A Python rule's module and what it may import or ask `udm()` for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonCode {
    /// The `.py` file, as printed.
    pub path: String,
    /// Its code.
    pub source: String,
    /// The helpers and data models loaded beside it (shared by every rule of a load).
    pub shared: Arc<Shared>,
}

/// Global helpers and data models of one load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shared {
    /// `global_helpers`.
    pub helpers: Vec<HelperSource>,
    /// `data_models`.
    pub models: Vec<ModelSource>,
}

/// What the workers load for `rules`: their modules, and the helpers and data models they were
/// loaded with. Rules that are not Python rules, or whose code was not read, are left out.
pub fn library<'r>(rules: impl IntoIterator<Item = &'r Rule>) -> Library {
    let mut library = Library::default();
    let mut shared: Option<&Arc<Shared>> = None;
    for rule in rules {
        let Some(code) = rule.python.as_ref().and_then(|p| p.code.as_ref()) else {
            continue;
        };
        library.rules.push(RuleSource {
            id: rule.id.clone(),
            path: code.path.clone(),
            source: code.source.clone(),
            severity: rule.severity.as_str().to_owned(),
        });
        if shared.is_none_or(|s| !Arc::ptr_eq(s, &code.shared)) {
            for helper in &code.shared.helpers {
                if !library.helpers.iter().any(|h| h.name == helper.name) {
                    library.helpers.push(helper.clone());
                }
            }
            for model in &code.shared.models {
                if !library.models.iter().any(|m| m.id == model.id) {
                    library.models.push(model.clone());
                }
            }
            shared = Some(&code.shared);
        }
    }
    library
}

/// The alert fields of a Python rule's match, with Panther's defaults: the title is `title()`,
/// else `DisplayName`, else `RuleID`; the dedup string is `dedup()`, else `title()`'s result,
/// else `defaultDedupString:<RuleID>`; the severity is `severity()`, else `Severity`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFields {
    /// The title.
    pub title: String,
    /// The dedup string.
    pub dedup: String,
    /// The severity.
    pub severity: super::Severity,
    /// `alert_context()`, or empty.
    pub context: serde_json::Map<String, serde_json::Value>,
}

/// [`AlertFields`] of `rule` from what its functions returned.
pub fn alert_fields(rule: &Rule, outputs: &Outputs) -> AlertFields {
    let titled = outputs.title.clone().filter(|t| !t.is_empty());
    let title = titled
        .clone()
        .unwrap_or_else(|| rule.display_name.clone().unwrap_or_else(|| rule.id.clone()));
    let dedup = outputs
        .dedup
        .clone()
        .filter(|d| !d.is_empty())
        .or(titled)
        .unwrap_or_else(|| format!("defaultDedupString:{}", rule.id));
    let severity = outputs
        .severity
        .as_deref()
        .and_then(super::Severity::parse)
        .unwrap_or(rule.severity);
    AlertFields {
        title,
        dedup,
        severity,
        context: outputs.alert_context.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests;
