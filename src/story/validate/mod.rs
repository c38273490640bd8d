//! Story and integration-template validation: one pass, every problem reported with its
//! position, nothing thrown. Pure: no I/O; the caller supplies the source and a [`Catalog`].
//!
//! A story is checked in this order, each stage carrying on past the errors of the one before:
//! each action on its own ([`actions`]), the link graph ([`graph`]), then per action the
//! templates against their scope ([`scope`]) and the options its kind checks
//! ([`ActionConfig::check`](crate::story::kinds::ActionConfig::check), beside each kind's
//! options in `story::kinds`). Diagnostics are sorted by position at the end, so the order of
//! the stages does not show in the output.

mod actions;
mod graph;
mod integration_template;
mod scope;

pub use actions::RESERVED_IDS;
pub use integration_template::check_integration;
pub use scope::{RUN_FIELDS, STEP_FIELDS};

use super::integration::Integration;
use super::kinds::CheckContext;
use super::model::{Action, Story};
use super::raw::StoryHeader;
use crate::diagnostic::{sort_and_dedup, Code, Diagnostic};
use crate::yaml::{self, from_node, Entries, Key, Node, NodeKind};
use actions::{parse_action, Parsed};
use graph::{check_entry_point, Graph};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What a story may refer to beyond itself.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Integration templates by `vendor/name`.
    pub integrations: BTreeMap<String, Arc<Integration>>,
    /// Ids of the stories `send_to_story` may name.
    pub story_ids: BTreeSet<String>,
}

/// The credential and resource names a story may use.
struct Known {
    /// Declared by the story itself: the only ones a webhook may check, so a vendor API key can
    /// never become a URL secret.
    declared_credentials: BTreeSet<String>,
    credentials: BTreeSet<String>,
    resources: BTreeSet<String>,
}

/// Validates a story's source. `id` is the story's id (its file name without `.yml`).
pub fn check_story(id: &str, source: &str, catalog: &Catalog) -> Result<Story, Vec<Diagnostic>> {
    let mut d = Vec::new();
    let story = check_story_inner(id, source, catalog, &mut d);
    sort_and_dedup(&mut d);
    match story {
        Some(story) if d.is_empty() => Ok(story),
        _ => Err(d),
    }
}

/// The file's root is not a mapping; `keys` says what it should start with.
fn not_a_mapping(node: &Node, what: &str, keys: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidValue,
        node.span,
        format!("expected {what} (a mapping), found {}", node.describe()),
    )
    .with_hint(format!("start the file with {keys}"))
}

/// Collects every diagnostic into `d`; the story is built only when there were none.
fn check_story_inner(
    id: &str,
    source: &str,
    catalog: &Catalog,
    d: &mut Vec<Diagnostic>,
) -> Option<Story> {
    let root = yaml::parse(source, d)?;
    if root.as_map().is_none() {
        d.push(not_a_mapping(&root, "a story", "`name:` and `actions:`"));
        return None;
    }
    let header = from_node::<StoryHeader>(&root, d);
    let declared_credentials = declared(header.as_ref().and_then(|h| h.credentials.as_ref()));
    let declared_resources = declared(header.as_ref().and_then(|h| h.resources.as_ref()));
    // A story may also use what any loaded integration template declares: which names exist
    // then depends only on the files, never on the environment.
    let templates = catalog.integrations.values().map(|i| &i.spec);
    let known = Known {
        declared_credentials: declared_credentials.clone(),
        credentials: union(
            &declared_credentials,
            templates.clone().flat_map(|t| t.credentials.keys()),
        ),
        resources: union(
            &declared_resources,
            templates.flat_map(|t| t.resources.keys()),
        ),
    };

    let actions_key = root
        .as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.name == "actions"));
    let entries: &[(Key, Node)] = match actions_key.map(|(_, v)| &v.kind) {
        Some(NodeKind::Map(entries)) => entries,
        Some(_) => {
            let node = &actions_key.expect("matched").1;
            d.push(
                node.wrong_shape("actions", "a mapping of action ids to actions")
                    .with_hint("write `actions:` then one `id:` per action, indented"),
            );
            return None;
        }
        None => return None, // reported as a missing key by the header
    };

    let parsed: Vec<Parsed> = entries
        .iter()
        .map(|(key, node)| parse_action(key, node, catalog, d))
        .collect();
    let graph = Graph::build(&parsed, d);
    check_entry_point(
        &parsed,
        actions_key.map(|(k, _)| k.span).unwrap_or(root.span),
        d,
    );
    graph.check_cycles_and_reachability(&parsed, d);

    let after_broken = graph.after_broken();
    let every_action: BTreeSet<&str> = parsed.iter().map(Parsed::id).collect();
    for (index, action) in parsed.iter().enumerate() {
        let Some(config) = &action.config else {
            continue;
        };
        // Past a rejected `from`, the ancestors are unknown: any action of the story may be
        // read (an id the story lacks is still reported).
        let upstream = if after_broken[index] {
            every_action.clone()
        } else {
            graph.ancestors(index, &parsed)
        };
        scope::check_action_templates(action, config, &upstream, &parsed, &known, d);
        let cx = CheckContext {
            id: action.id(),
            at: action.key.span,
            declared_credentials: &known.declared_credentials,
            story_ids: &catalog.story_ids,
        };
        config.check(&cx, d);
    }

    let header = header?;
    if !d.is_empty() {
        return None;
    }
    let actions = parsed
        .into_iter()
        .enumerate()
        .map(|(index, p)| Action {
            id: p.key.name.clone(),
            name: p.header.as_ref().and_then(|h| h.name.clone()),
            description: p.header.as_ref().and_then(|h| h.description.clone()),
            span: p.key.span,
            config: p.config.expect("no diagnostics means every action parsed"),
            sources: graph.sources[index].iter().map(|(link, _)| *link).collect(),
            receivers: graph.receivers[index].clone(),
        })
        .collect();
    Some(Story {
        id: id.to_owned(),
        name: header.name.value,
        description: header.description,
        version: hex_prefix(&Sha256::digest(source.as_bytes())),
        credentials: declared_credentials.into_iter().collect(),
        resources: declared_resources.into_iter().collect(),
        strict_data: header.strict_data.unwrap_or(false),
        actions,
        source: Arc::from(source),
    })
}

/// The names a story declares under `credentials:` or `resources:`.
fn declared(entries: Option<&Entries<String>>) -> BTreeSet<String> {
    entries
        .into_iter()
        .flat_map(Entries::keys)
        .map(str::to_owned)
        .collect()
}

fn union<'a>(own: &BTreeSet<String>, more: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    own.iter().cloned().chain(more.map(str::to_owned)).collect()
}

/// A story's version: the first 8 bytes of its source's SHA-256, in hex.
fn hex_prefix(bytes: &[u8]) -> String {
    crate::hex::hex(&bytes[..8])
}
