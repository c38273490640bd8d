//! A validated story: every link resolved, every template compiled, the graph acyclic and every
//! action reachable from a webhook. The runner works only with this.

use super::kinds::{ActionConfig, LinkKind};
use crate::diagnostic::Span;
use std::sync::Arc;

/// A story that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    /// The story's id: its file name without `.yml`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What the story does.
    pub description: Option<String>,
    /// A hash of the source; a run pins the version it started with.
    pub version: String,
    /// Credentials the story declares (beyond those its integration templates declare).
    pub credentials: Vec<String>,
    /// Resources the story declares.
    pub resources: Vec<String>,
    /// `strict_data: true`: a template reading missing event data fails its step; by default
    /// missing data renders empty and the step records the paths.
    pub strict_data: bool,
    /// The actions in source order; links refer to them by index.
    pub actions: Vec<Action>,
    /// The YAML it was read from, kept so a run can pin this exact version.
    pub source: Arc<str>,
}

/// One validated action.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// The snake_case id, also its key in the event context.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// What it does.
    pub description: Option<String>,
    /// Where it is defined.
    pub span: Span,
    /// Its kind and options.
    pub config: ActionConfig,
    /// The actions it receives events from.
    pub sources: Vec<Link>,
    /// The actions it sends events to.
    pub receivers: Vec<Link>,
}

/// One end of a link between two actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Link {
    /// The other action's index in [`Story::actions`].
    pub action: usize,
    /// Which events travel the link.
    pub kind: LinkKind,
}

impl Story {
    /// The action with this id.
    pub fn action(&self, id: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.id == id)
    }

    /// The index of the action with this id.
    pub fn action_index(&self, id: &str) -> Option<usize> {
        self.actions.iter().position(|a| a.id == id)
    }

    /// Ids of the actions that receive `action`'s events along `kind` links.
    pub fn receiver_ids(&self, action: usize, kind: LinkKind) -> Vec<String> {
        self.receivers(action, kind)
            .map(|i| self.actions[i].id.clone())
            .collect()
    }

    /// The integration templates the story uses, by id.
    pub fn integrations(&self) -> std::collections::BTreeMap<&str, &Arc<super::Integration>> {
        self.actions
            .iter()
            .filter_map(|a| match &a.config {
                ActionConfig::Integration(call) => {
                    Some((call.template.id.as_str(), &call.template))
                }
                _ => None,
            })
            .collect()
    }

    /// The webhook actions, where runs start.
    pub fn entry_points(&self) -> impl Iterator<Item = (usize, &Action)> {
        self.actions
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(a.config, ActionConfig::Webhook(_)))
    }

    /// The receivers of `action`'s events along `kind` links.
    pub fn receivers(&self, action: usize, kind: LinkKind) -> impl Iterator<Item = usize> + '_ {
        self.actions[action]
            .receivers
            .iter()
            .filter(move |l| l.kind == kind)
            .map(|l| l.action)
    }
}
