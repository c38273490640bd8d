//! The link graph: every action's `from` resolved to links both ways, then the story-wide
//! checks on it (an entry point exists, no cycle, every action reachable from a webhook) and the
//! ancestors whose output a template may read.

use super::actions::Parsed;
use crate::diagnostic::{did_you_mean, Code, Diagnostic, Span};
use crate::story::kinds::LinkKind;
use crate::story::model::Link;
use crate::yaml::Spanned;
use std::collections::{BTreeSet, HashMap};

/// The link graph, built from every action's `from`.
pub(super) struct Graph {
    /// Per action: where its events come from, with the position of each `from` entry.
    pub(super) sources: Vec<Vec<(Link, Span)>>,
    /// Per action: where its events go.
    pub(super) receivers: Vec<Vec<Link>>,
    /// Per action: some `from` entry was rejected, so "unreachable" would only repeat that error.
    broken: Vec<bool>,
}

impl Graph {
    /// Resolves every `from` entry, reporting unknown ids and suffixes, links an action can never
    /// emit along, repeats, and `from` on a webhook. Rejected entries are left out of the graph.
    pub(super) fn build(parsed: &[Parsed], d: &mut Vec<Diagnostic>) -> Graph {
        let index: HashMap<&str, usize> = parsed
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id(), i))
            .collect();
        let mut sources = vec![Vec::new(); parsed.len()];
        let mut receivers = vec![Vec::new(); parsed.len()];
        let mut broken = vec![false; parsed.len()];
        for (receiver, action) in parsed.iter().enumerate() {
            let Some(links) = action.header.as_ref().and_then(|h| h.from.as_ref()) else {
                continue;
            };
            if action.is_webhook() && !links.0.is_empty() {
                d.push(
                    Diagnostic::new(
                        Code::BadLink,
                        links.0[0].span,
                        format!(
                            "`{}` is a webhook, where runs start; it cannot have `from`",
                            action.id()
                        ),
                    )
                    .with_hint(
                        "remove `from:`; to pass events between stories use `send_to_story`",
                    ),
                );
                continue;
            }
            for written in &links.0 {
                let Some((source_id, kind)) = split_link(written, d) else {
                    continue;
                };
                let Some(&source) = index.get(source_id) else {
                    let hint =
                        did_you_mean(source_id, index.keys().copied()).unwrap_or_else(|| {
                            "`from` names actions of this story by their id".to_owned()
                        });
                    d.push(
                        Diagnostic::new(
                            Code::UnknownLink,
                            written.span,
                            format!("`from` names unknown action `{source_id}`"),
                        )
                        .with_hint(hint),
                    );
                    continue;
                };
                if let Some(config) = &parsed[source].config {
                    if !config.can_emit(kind) {
                        let hint = match kind {
                            LinkKind::NoMatch => "only triggers emit `.no_match`",
                            _ => {
                                "a webhook never fails: its request is checked before a run exists"
                            }
                        };
                        d.push(
                            Diagnostic::new(
                                Code::BadLink,
                                written.span,
                                format!(
                                    "`{source_id}` is a {} action and never emits `{}`",
                                    config.kind_name(),
                                    kind.suffix()
                                ),
                            )
                            .with_hint(hint),
                        );
                        continue;
                    }
                }
                let link = Link {
                    action: source,
                    kind,
                };
                if sources[receiver].iter().any(|(l, _)| *l == link) {
                    d.push(
                        Diagnostic::new(
                            Code::BadLink,
                            written.span,
                            format!("`{}` is listed twice in `from`", written.value),
                        )
                        .with_hint("each event would arrive twice; remove the repeat"),
                    );
                    continue;
                }
                sources[receiver].push((link, written.span));
                receivers[source].push(Link {
                    action: receiver,
                    kind,
                });
            }
            broken[receiver] = sources[receiver].len() < links.0.len();
        }
        Graph {
            sources,
            receivers,
            broken,
        }
    }

    /// Reports each cycle once, at the `from` entry that closes it, then every action no webhook
    /// reaches (cycles aside: they are already reported).
    pub(super) fn check_cycles_and_reachability(&self, parsed: &[Parsed], d: &mut Vec<Diagnostic>) {
        let in_cycle = self.check_cycles(parsed, d);
        self.check_reachability(parsed, &in_cycle, d);
    }

    /// Reports each cycle at the `from` entry that closes it; returns which actions are in one.
    fn check_cycles(&self, parsed: &[Parsed], d: &mut Vec<Diagnostic>) -> Vec<bool> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let n = parsed.len();
        let mut mark = vec![Mark::New; n];
        let mut in_cycle = vec![false; n];
        for start in 0..n {
            if mark[start] != Mark::New {
                continue;
            }
            // Iterative depth-first search over receivers; `path` is the active chain.
            let mut path: Vec<(usize, usize)> = vec![(start, 0)];
            mark[start] = Mark::Active;
            while let Some((node, next)) = path.last().copied() {
                if let Some(link) = self.receivers[node].get(next) {
                    path.last_mut().expect("non-empty").1 += 1;
                    let to = link.action;
                    match mark[to] {
                        Mark::New => {
                            mark[to] = Mark::Active;
                            path.push((to, 0));
                        }
                        Mark::Active => {
                            let from = path
                                .iter()
                                .position(|(n, _)| *n == to)
                                .expect("active nodes are on the path");
                            let members: Vec<usize> =
                                path[from..].iter().map(|(n, _)| *n).collect();
                            let mut chain: Vec<&str> =
                                members.iter().map(|&i| parsed[i].id()).collect();
                            chain.push(parsed[to].id());
                            let span = self.sources[to]
                                .iter()
                                .find(|(l, _)| l.action == node)
                                .map(|(_, s)| *s)
                                .unwrap_or(parsed[to].key.span);
                            members.iter().for_each(|&m| in_cycle[m] = true);
                            d.push(
                                Diagnostic::new(Code::Cycle, span, format!("links form a cycle: {}", chain.join(" → ")))
                                    .with_hint("stories are acyclic; to repeat work, explode a list or send to another story"),
                            );
                        }
                        Mark::Done => {}
                    }
                } else {
                    mark[node] = Mark::Done;
                    path.pop();
                }
            }
        }
        in_cycle
    }

    /// Reports every action no webhook reaches, except those in a cycle, with a rejected `from`
    /// entry or following one, or unreadable: their error is already reported.
    fn check_reachability(&self, parsed: &[Parsed], in_cycle: &[bool], d: &mut Vec<Diagnostic>) {
        let n = parsed.len();
        let mut reached = vec![false; n];
        let mut queue: Vec<usize> = (0..n).filter(|&i| parsed[i].is_webhook()).collect();
        queue.iter().for_each(|&i| reached[i] = true);
        while let Some(node) = queue.pop() {
            for link in &self.receivers[node] {
                if !reached[link.action] {
                    reached[link.action] = true;
                    queue.push(link.action);
                }
            }
        }
        let after_broken = self.after_broken();
        for (i, action) in parsed.iter().enumerate() {
            if reached[i] || in_cycle[i] || after_broken[i] || action.header.is_none() {
                continue;
            }
            let has_from = action
                .header
                .as_ref()
                .is_some_and(|h| h.from.as_ref().is_some_and(|l| !l.0.is_empty()));
            let hint = if has_from {
                "every action it follows is itself unreachable; link the chain to a webhook"
            } else {
                "add `from:` naming the action whose events it receives"
            };
            d.push(
                Diagnostic::new(
                    Code::Unreachable,
                    action.key.span,
                    format!("action `{}` is not reachable from any webhook", action.id()),
                )
                .with_hint(hint),
            );
        }
    }

    /// Per action: whether it has a rejected `from` entry, or follows one that has. Its
    /// ancestors are not fully known, so what follows from them (unreachable, a template reading
    /// an action that is not upstream) is not reported again: one typo, one diagnostic.
    pub(super) fn after_broken(&self) -> Vec<bool> {
        let mut marked = self.broken.clone();
        let mut queue: Vec<usize> = (0..marked.len()).filter(|&i| marked[i]).collect();
        while let Some(node) = queue.pop() {
            for link in &self.receivers[node] {
                if !marked[link.action] {
                    marked[link.action] = true;
                    queue.push(link.action);
                }
            }
        }
        marked
    }

    /// Every action whose output can be in `action`'s event context.
    pub(super) fn ancestors<'p>(&self, action: usize, parsed: &'p [Parsed]) -> BTreeSet<&'p str> {
        let mut seen = vec![false; parsed.len()];
        let mut stack = vec![action];
        let mut out = BTreeSet::new();
        while let Some(node) = stack.pop() {
            for (link, _) in &self.sources[node] {
                if !seen[link.action] {
                    seen[link.action] = true;
                    out.insert(parsed[link.action].id());
                    stack.push(link.action);
                }
            }
        }
        out
    }
}

/// A story needs a webhook: runs start nowhere else. Reported at `at` (the `actions` key).
pub(super) fn check_entry_point(parsed: &[Parsed], at: Span, d: &mut Vec<Diagnostic>) {
    if parsed.is_empty() || !parsed.iter().any(Parsed::is_webhook) {
        d.push(
            Diagnostic::new(
                Code::NoEntryPoint,
                at,
                "the story has no webhook action, so no run can start",
            )
            .with_hint("add an action with `type: webhook`; runs start there"),
        );
    }
}

/// `id`, `id.no_match` or `id.failure`; any other suffix is reported.
fn split_link<'a>(
    written: &'a Spanned<String>,
    d: &mut Vec<Diagnostic>,
) -> Option<(&'a str, LinkKind)> {
    match written.value.split_once('.') {
        None => Some((written.value.as_str(), LinkKind::Default)),
        Some((id, "no_match")) => Some((id, LinkKind::NoMatch)),
        Some((id, "failure")) => Some((id, LinkKind::Failure)),
        Some((_, suffix)) => {
            let hint = did_you_mean(suffix, ["no_match", "failure"])
                .unwrap_or_else(|| "the link suffixes are `.no_match` and `.failure`".to_owned());
            d.push(
                Diagnostic::new(
                    Code::BadLink,
                    written.span,
                    format!("unknown link suffix `.{suffix}` in `{}`", written.value),
                )
                .with_hint(hint),
            );
            None
        }
    }
}
