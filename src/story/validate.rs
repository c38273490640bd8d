//! Story and integration-template validation: one pass, every problem reported with its
//! position, nothing thrown. Pure: no I/O; the caller supplies the source and a [`Catalog`].

use super::integration::{Integration, IntegrationSpec};
use super::kinds::http_request::CREDENTIAL_FIELDS;
use super::kinds::transform::{self, TransformOptions};
use super::kinds::{
    ActionConfig, HttpRequestOptions, IntegrationCall, LinkKind, PromptOptions, SendToStoryOptions,
    TriggerOptions, WebhookOptions, KINDS,
};
use super::model::{Action, Link, Story};
use super::raw::{ActionHeader, StoryHeader};
use super::value::{compile_regex, regex_error_summary, Duration, Dynamic, Template};
use crate::diagnostic::{did_you_mean, sort_and_dedup, Code, Diagnostic, Span};
use crate::yaml::{self, from_node, Entries, Key, Node, NodeKind, Spanned};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

/// Attributes of `run` in templates.
pub const RUN_FIELDS: &[&str] = &["id", "story", "story_version", "started_at"];
/// Attributes of `step` in templates.
pub const STEP_FIELDS: &[&str] = &["id", "action", "attempt", "idempotency_key"];
/// Names an action id may not take: they are template scopes.
const RESERVED_IDS: &[&str] = &[
    "credentials",
    "resources",
    "run",
    "step",
    "inputs",
    "item",
    "prompt",
];

const MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;
const MAX_HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);
const MAX_PROMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// What a story may refer to beyond itself.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Integration templates by `vendor/name`.
    pub integrations: BTreeMap<String, Arc<Integration>>,
    /// Ids of the stories `send_to_story` may name.
    pub story_ids: BTreeSet<String>,
}

impl Catalog {
    /// Every credential some integration template declares.
    fn integration_credentials(&self) -> impl Iterator<Item = &str> {
        self.integrations
            .values()
            .flat_map(|i| i.spec.credentials.iter().map(|(k, _)| k.value.as_str()))
    }

    /// Every resource some integration template declares.
    fn integration_resources(&self) -> impl Iterator<Item = &str> {
        self.integrations
            .values()
            .flat_map(|i| i.spec.resources.iter().map(|(k, _)| k.value.as_str()))
    }
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

/// Validates an integration template's source. `id` is `vendor/name`.
pub fn check_integration(
    id: &str,
    path: &Path,
    source: &str,
) -> Result<Integration, Vec<Diagnostic>> {
    let mut d = Vec::new();
    let mut root_span = Span::default();
    let spec = yaml::parse(source, &mut d).and_then(|root| {
        root_span = root.span;
        if root.as_map().is_none() {
            d.push(not_a_mapping(
                &root,
                "an integration template",
                "`name`, `inputs` and `request`",
            ));
            return None;
        }
        from_node::<IntegrationSpec>(&root, &mut d)
    });
    if let Some(spec) = &spec {
        check_integration_spec(spec, root_span, &mut d);
    }
    sort_and_dedup(&mut d);
    match spec {
        Some(spec) if d.is_empty() => Ok(Integration {
            id: id.to_owned(),
            path: path.to_owned(),
            spec,
        }),
        _ => Err(d),
    }
}

fn not_a_mapping(node: &Node, what: &str, keys: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidValue,
        node.span,
        format!("expected {what} (a mapping), found {}", node.describe()),
    )
    .with_hint(format!("start the file with {keys}"))
}

/// One action as read, before graph checks.
struct Parsed<'a> {
    key: &'a Key,
    header: Option<ActionHeader>,
    /// `None` when the action's kind or options had errors (already reported).
    config: Option<ActionConfig>,
}

impl Parsed<'_> {
    fn id(&self) -> &str {
        &self.key.name
    }
    fn is_webhook(&self) -> bool {
        matches!(self.config, Some(ActionConfig::Webhook(_)))
            || self
                .header
                .as_ref()
                .and_then(|h| h.kind.as_ref())
                .is_some_and(|k| k.value == "webhook")
    }
}

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
    let known = Known {
        declared_credentials: declared_credentials.clone(),
        credentials: declared_credentials
            .iter()
            .map(String::as_str)
            .chain(catalog.integration_credentials())
            .map(str::to_owned)
            .collect(),
        resources: declared_resources
            .iter()
            .map(String::as_str)
            .chain(catalog.integration_resources())
            .map(str::to_owned)
            .collect(),
    };

    let actions_key = root
        .as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.name == "actions"));
    let entries: &[(Key, Node)] = match actions_key.map(|(_, v)| &v.kind) {
        Some(NodeKind::Map(entries)) => entries,
        Some(_) => {
            let node = &actions_key.expect("matched").1;
            d.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    node.span,
                    format!(
                        "`actions` must be a mapping of action ids to actions, found {}",
                        node.describe()
                    ),
                )
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
    if parsed.is_empty() || !parsed.iter().any(Parsed::is_webhook) {
        let span = actions_key.map(|(k, _)| k.span).unwrap_or(root.span);
        d.push(
            Diagnostic::new(
                Code::NoEntryPoint,
                span,
                "the story has no webhook action, so no run can start",
            )
            .with_hint("add an action with `type: webhook`; runs start there"),
        );
    }
    graph.check_cycles_and_reachability(&parsed, d);

    for (index, action) in parsed.iter().enumerate() {
        let Some(config) = &action.config else {
            continue;
        };
        let upstream = graph.ancestors(index, &parsed);
        check_action_templates(action, config, &upstream, &parsed, &known, d);
        check_options(action.id(), action.key.span, config, catalog, &known, d);
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
        actions,
        source: Arc::from(source),
    })
}

fn declared(entries: Option<&Entries<String>>) -> BTreeSet<String> {
    entries
        .map(|e| e.iter().map(|(k, _)| k.value.clone()).collect())
        .unwrap_or_default()
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn is_snake_case_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && id.len() <= 64
}

fn key_span(node: &Node, key: &str) -> Option<Span> {
    node.as_map()?
        .iter()
        .find(|(k, _)| k.name == key)
        .map(|(k, _)| k.span)
}

fn parse_action<'a>(
    key: &'a Key,
    node: &Node,
    catalog: &Catalog,
    d: &mut Vec<Diagnostic>,
) -> Parsed<'a> {
    if !is_snake_case_id(&key.name) {
        d.push(
            Diagnostic::new(Code::InvalidId, key.span, format!("action id `{}` is not snake_case", key.name))
                .with_hint("use lowercase letters, digits and `_`, starting with a letter (at most 64 characters), e.g. `vt_lookup`"),
        );
    } else if RESERVED_IDS.contains(&key.name.as_str()) {
        d.push(
            Diagnostic::new(
                Code::InvalidId,
                key.span,
                format!("action id `{}` is reserved", key.name),
            )
            .with_hint("templates use this name for a scope; pick another id"),
        );
    }
    if node.as_map().is_none() {
        d.push(
            Diagnostic::new(
                Code::InvalidValue,
                node.span,
                format!(
                    "action `{}` must be a mapping, found {}",
                    key.name,
                    node.describe()
                ),
            )
            .with_hint("give the action `type:` (or `uses:`), `from:` and `options:` (or `with:`)"),
        );
        return Parsed {
            key,
            header: None,
            config: None,
        };
    }
    let header = from_node::<ActionHeader>(node, d);
    let config = header
        .as_ref()
        .and_then(|h| parse_config(key, h, node, catalog, d));
    Parsed {
        key,
        header,
        config,
    }
}

fn parse_config(
    key: &Key,
    header: &ActionHeader,
    node: &Node,
    catalog: &Catalog,
    d: &mut Vec<Diagnostic>,
) -> Option<ActionConfig> {
    match (&header.kind, &header.uses) {
        (Some(_), Some(uses)) => {
            d.push(
                Diagnostic::new(
                    Code::KindConflict,
                    uses.span,
                    format!("action `{}` has both `type` and `uses`", key.name),
                )
                .with_hint(
                    "`type` names a built-in kind, `uses` an integration template; keep one",
                ),
            );
            None
        }
        (None, None) => {
            d.push(
                Diagnostic::new(
                    Code::KindConflict,
                    key.span,
                    format!("action `{}` has neither `type` nor `uses`", key.name),
                )
                .with_hint(format!(
                    "add `type:` (one of {}) or `uses: vendor/name`",
                    KINDS.join(", ")
                )),
            );
            None
        }
        (Some(kind), None) => {
            if let Some(span) = key_span(node, "with") {
                d.push(
                    Diagnostic::new(Code::KindConflict, span, "`with` belongs to `uses` actions")
                        .with_hint("a `type` action takes its settings under `options:`"),
                );
            }
            parse_builtin(key, kind, node.get("options"), catalog, d)
        }
        (None, Some(uses)) => {
            if let Some(span) = key_span(node, "options") {
                d.push(
                    Diagnostic::new(
                        Code::KindConflict,
                        span,
                        "`options` belongs to `type` actions",
                    )
                    .with_hint("a `uses` action takes its inputs under `with:`"),
                );
            }
            parse_integration_call(uses, node.get("with"), catalog, d)
        }
    }
}

fn parse_builtin(
    key: &Key,
    kind: &Spanned<String>,
    options: Option<&Node>,
    catalog: &Catalog,
    d: &mut Vec<Diagnostic>,
) -> Option<ActionConfig> {
    if !KINDS.contains(&kind.value.as_str()) {
        let hint = did_you_mean(&kind.value, KINDS.iter().copied()).unwrap_or_else(|| {
            if catalog.integrations.contains_key(&kind.value) {
                format!(
                    "`{}` is an integration template: write `uses: {}`",
                    kind.value, kind.value
                )
            } else {
                format!("the kinds are {}", KINDS.join(", "))
            }
        });
        d.push(
            Diagnostic::new(
                Code::UnknownKind,
                kind.span,
                format!("unknown action kind `{}`", kind.value),
            )
            .with_hint(hint),
        );
        return None;
    }
    let Some(options) = options else {
        d.push(
            Diagnostic::new(
                Code::MissingKey,
                key.span,
                format!("action `{}` is missing `options`", key.name),
            )
            .with_hint(format!(
                "a `{}` action needs `options:`; `warden schema` lists them",
                kind.value
            )),
        );
        return None;
    };
    Some(match kind.value.as_str() {
        "webhook" => ActionConfig::Webhook(from_node(options, d)?),
        "http_request" => ActionConfig::HttpRequest(from_node(options, d)?),
        "trigger" => ActionConfig::Trigger(from_node(options, d)?),
        "transform" => ActionConfig::Transform(parse_transform(options, d)?),
        "prompt" => ActionConfig::Prompt(from_node(options, d)?),
        "send_to_story" => ActionConfig::SendToStory(from_node(options, d)?),
        _ => unreachable!("checked against KINDS above"),
    })
}

fn parse_transform(options: &Node, d: &mut Vec<Diagnostic>) -> Option<TransformOptions> {
    let Some(entries) = options.as_map() else {
        d.push(Diagnostic::new(
            Code::InvalidValue,
            options.span,
            format!(
                "expected transform options (a mapping), found {}",
                options.describe()
            ),
        ));
        return None;
    };
    let Some((_, mode_node)) = entries.iter().find(|(k, _)| k.name == "mode") else {
        d.push(
            Diagnostic::new(
                Code::MissingKey,
                options.span,
                "missing required key `mode`",
            )
            .with_hint(format!(
                "add `mode:`, one of {}",
                transform::MODES.join(", ")
            )),
        );
        return None;
    };
    let mode = mode_node.as_str().unwrap_or_default();
    // Tines exports call the message mode `message_only`.
    let mode = if mode == "message_only" {
        "message"
    } else {
        mode
    };
    if !transform::MODES.contains(&mode) {
        let hint = did_you_mean(mode, transform::MODES.iter().copied())
            .unwrap_or_else(|| format!("expected one of: {}", transform::MODES.join(", ")));
        d.push(
            Diagnostic::new(
                Code::InvalidValue,
                mode_node.span,
                format!("unknown transform mode `{mode}`"),
            )
            .with_hint(hint),
        );
        return None;
    }
    let rest = Node {
        kind: NodeKind::Map(
            entries
                .iter()
                .filter(|(k, _)| k.name != "mode")
                .cloned()
                .collect(),
        ),
        span: options.span,
    };
    Some(match mode {
        "message" => TransformOptions::Message(from_node(&rest, d)?),
        "extract" => TransformOptions::Extract(from_node(&rest, d)?),
        "explode" => TransformOptions::Explode(from_node(&rest, d)?),
        "implode" => TransformOptions::Implode(from_node(&rest, d)?),
        "deduplicate" => TransformOptions::Deduplicate(from_node(&rest, d)?),
        "delay" => TransformOptions::Delay(from_node(&rest, d)?),
        "throttle" => TransformOptions::Throttle(from_node(&rest, d)?),
        _ => unreachable!("checked against MODES above"),
    })
}

fn parse_integration_call(
    uses: &Spanned<String>,
    with: Option<&Node>,
    catalog: &Catalog,
    d: &mut Vec<Diagnostic>,
) -> Option<ActionConfig> {
    let Some(template) = catalog.integrations.get(&uses.value) else {
        let hint = did_you_mean(&uses.value, catalog.integrations.keys().map(String::as_str))
            .unwrap_or_else(|| {
                if KINDS.contains(&uses.value.as_str()) {
                    format!(
                        "`{}` is a built-in kind: write `type: {}`",
                        uses.value, uses.value
                    )
                } else if catalog.integrations.is_empty() {
                    "no integration templates are loaded; check WARDEN_TEMPLATES or --templates"
                        .to_owned()
                } else {
                    format!(
                        "templates are named vendor/name, e.g. {}",
                        catalog
                            .integrations
                            .keys()
                            .take(3)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            });
        d.push(
            Diagnostic::new(
                Code::UnknownTemplate,
                uses.span,
                format!("unknown integration template `{}`", uses.value),
            )
            .with_hint(hint),
        );
        return None;
    };
    let with: Entries<Dynamic> = match with {
        Some(node) => from_node(node, d)?,
        None => Entries::default(),
    };
    let inputs = &template.spec.inputs;
    for (name, _) in with.iter() {
        if inputs.get(&name.value).is_none() {
            let names = inputs.iter().map(|(k, _)| k.value.as_str());
            let hint = did_you_mean(&name.value, names.clone()).unwrap_or_else(|| {
                format!(
                    "`{}` takes: {}",
                    uses.value,
                    names.collect::<Vec<_>>().join(", ")
                )
            });
            d.push(
                Diagnostic::new(
                    Code::UnknownKey,
                    name.span,
                    format!("`{}` has no input `{}`", uses.value, name.value),
                )
                .with_hint(hint),
            );
        }
    }
    for (name, spec) in inputs.iter() {
        if spec.is_required() && with.get(&name.value).is_none() {
            d.push(
                Diagnostic::new(
                    Code::MissingKey,
                    uses.span,
                    format!("`{}` needs input `{}`", uses.value, name.value),
                )
                .with_hint(format!(
                    "add `with: {{ {}: … }}` ({})",
                    name.value, spec.description
                )),
            );
        }
    }
    Some(ActionConfig::Integration(IntegrationCall {
        template: template.clone(),
        with,
    }))
}

/// The link graph, built from every action's `from`.
struct Graph {
    /// Per action: where its events come from, with the position of each `from` entry.
    sources: Vec<Vec<(Link, Span)>>,
    /// Per action: where its events go.
    receivers: Vec<Vec<Link>>,
    /// Per action: some `from` entry was rejected, so "unreachable" would only repeat that error.
    broken: Vec<bool>,
}

impl Graph {
    fn build(parsed: &[Parsed], d: &mut Vec<Diagnostic>) -> Graph {
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
    fn check_cycles_and_reachability(&self, parsed: &[Parsed], d: &mut Vec<Diagnostic>) {
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
        for (i, action) in parsed.iter().enumerate() {
            if reached[i] || in_cycle[i] || self.broken[i] || action.header.is_none() {
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

    /// Every action whose output can be in `action`'s event context.
    fn ancestors<'p>(&self, action: usize, parsed: &'p [Parsed]) -> BTreeSet<&'p str> {
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

/// The credential and resource names a story may use.
struct Known {
    /// Declared by the story itself: the only ones a webhook may check, so a vendor API key can
    /// never become a URL secret.
    declared_credentials: BTreeSet<String>,
    credentials: BTreeSet<String>,
    resources: BTreeSet<String>,
}

/// What a template may read.
struct Scope<'a> {
    /// Ids of actions whose output is in the context.
    actions: &'a BTreeSet<&'a str>,
    /// Every action id of the story, to say "not upstream" rather than "unknown".
    all_actions: &'a [Parsed<'a>],
    /// `Some` where credentials may be rendered (outbound requests only).
    credentials: Option<&'a BTreeSet<String>>,
    resources: &'a BTreeSet<String>,
    /// `Some` inside an integration template.
    inputs: Option<BTreeSet<&'a str>>,
    /// `item` is bound (a looping message transform).
    item: bool,
    /// Names the place in messages, e.g. "action `vt_lookup`".
    owner: String,
}

fn check_action_templates(
    action: &Parsed,
    config: &ActionConfig,
    upstream: &BTreeSet<&str>,
    parsed: &[Parsed],
    known: &Known,
    d: &mut Vec<Diagnostic>,
) {
    let own: BTreeSet<&str> = [action.id()].into();
    let looping = matches!(config, ActionConfig::Transform(TransformOptions::Message(m)) if m.loop_over.is_some());
    config.each_template(&mut |field, template| {
        let scope = Scope {
            // A webhook's dedupe key reads the webhook's own event.
            actions: if field == "dedupe_key" {
                &own
            } else {
                upstream
            },
            all_actions: parsed,
            credentials: config
                .allows_credentials(field)
                .then_some(&known.credentials),
            resources: &known.resources,
            inputs: None,
            item: looping && field == "payload",
            owner: format!("action `{}`", action.id()),
        };
        check_template(template, &scope, d);
    });
}

fn check_template(template: &Template, scope: &Scope, d: &mut Vec<Diagnostic>) {
    let compiled = match template.compiled() {
        Ok(compiled) => compiled,
        Err(error) => {
            let message = error.to_string();
            let message = message.strip_prefix("syntax error: ").unwrap_or(&message);
            d.push(
                Diagnostic::new(Code::TemplateSyntax, template.span, format!("template syntax error: {message}"))
                    .with_hint("templates are minijinja (Jinja2): {{ expression }}, {% if … %}…{% endif %}, filters with |"),
            );
            return;
        }
    };
    for variable in compiled.variables() {
        let mut parts = variable.split('.');
        let root = parts.next().unwrap_or_default();
        let attribute = parts.next();
        if let Some(diagnostic) = check_variable(root, attribute, &variable, scope) {
            d.push(diagnostic.with_span(template.span));
        }
    }
}

/// A diagnostic waiting for the template's position.
struct Pending {
    code: Code,
    message: String,
    hint: Option<String>,
}

impl Pending {
    fn with_span(self, span: Span) -> Diagnostic {
        Diagnostic::new(self.code, span, self.message).with_hint_opt(self.hint)
    }
}

fn pending(code: Code, message: String, hint: Option<String>) -> Option<Pending> {
    Some(Pending {
        code,
        message,
        hint,
    })
}

fn check_named(
    attribute: Option<&str>,
    names: &BTreeSet<String>,
    code: Code,
    scope_name: &str,
    declare_hint: &str,
) -> Option<Pending> {
    let Some(name) = attribute else {
        return pending(
            code,
            format!("`{scope_name}` must be followed by a name, e.g. `{scope_name}.<name>`"),
            Some(format!(
                "the known names are: {}",
                names.iter().cloned().collect::<Vec<_>>().join(", ")
            )),
        );
    };
    if names.contains(name) {
        return None;
    }
    let hint = did_you_mean(name, names.iter().map(String::as_str))
        .unwrap_or_else(|| declare_hint.to_owned());
    pending(
        code,
        format!("unknown {} `{name}`", scope_name.trim_end_matches('s')),
        Some(hint),
    )
}

fn check_variable(
    root: &str,
    attribute: Option<&str>,
    variable: &str,
    scope: &Scope,
) -> Option<Pending> {
    match root {
        "credentials" => match scope.credentials {
            None => pending(
                Code::CredentialOutsideRequest,
                format!("`{variable}` is used outside a request's headers, body or auth in {}", scope.owner),
                Some("credentials render only into an http_request's (or a prompt `request`'s) headers, body, basic_auth or bearer_token, never a URL or a stored event".to_owned()),
            ),
            Some(names) => check_named(
                attribute,
                names,
                Code::UnknownCredential,
                "credentials",
                "declare it under the story's top-level `credentials:` (name: what it holds)",
            ),
        },
        "resources" => check_named(
            attribute,
            scope.resources,
            Code::UnknownResource,
            "resources",
            "declare it under the story's top-level `resources:` (name: what it holds)",
        ),
        "run" | "step" => {
            let fields = if root == "run" { RUN_FIELDS } else { STEP_FIELDS };
            match attribute {
                Some(a) if !fields.contains(&a) => pending(
                    Code::UnknownVariable,
                    format!("`{root}` has no attribute `{a}`"),
                    Some(did_you_mean(a, fields.iter().copied()).unwrap_or_else(|| format!("`{root}` has: {}", fields.join(", ")))),
                ),
                _ => None,
            }
        }
        "inputs" => match &scope.inputs {
            None => pending(
                Code::UnknownVariable,
                format!("`inputs` is only defined inside integration templates, not in {}", scope.owner),
                Some("refer to an upstream action's output by its id instead".to_owned()),
            ),
            Some(inputs) => match attribute {
                Some(a) if !inputs.contains(a) => pending(
                    Code::UnknownVariable,
                    format!("unknown input `{a}`"),
                    Some(did_you_mean(a, inputs.iter().copied()).unwrap_or_else(|| "declare it under `inputs:`".to_owned())),
                ),
                _ => None,
            },
        },
        "item" if scope.item => None,
        _ if scope.actions.contains(root) => None,
        _ => {
            if scope.all_actions.iter().any(|a| a.id() == root) {
                return pending(
                    Code::UnknownVariable,
                    format!("`{root}` is not upstream of {}, so its output is not in the event", scope.owner),
                    Some(format!("only actions on a path leading here can be read; link `{root}` into this branch with `from`")),
                );
            }
            let mut candidates: Vec<&str> = scope.actions.iter().copied().collect();
            candidates.extend(["run", "step", "resources"]);
            if scope.credentials.is_some() {
                candidates.push("credentials");
            }
            if scope.inputs.is_some() {
                candidates.push("inputs");
            }
            let hint = did_you_mean(root, candidates.iter().copied()).unwrap_or_else(|| {
                if root == "item" {
                    "`item` is bound only in a message transform's `payload` with `loop:`".to_owned()
                } else if scope.actions.is_empty() {
                    "nothing is upstream here; templates can read `run`, `step` and `resources`".to_owned()
                } else {
                    format!("upstream actions here: {}", scope.actions.iter().copied().collect::<Vec<_>>().join(", "))
                }
            });
            pending(Code::UnknownVariable, format!("unknown variable `{root}` in {}", scope.owner), Some(hint))
        }
    }
}

fn check_integration_spec(spec: &IntegrationSpec, root: Span, d: &mut Vec<Diagnostic>) {
    let credentials: BTreeSet<String> = spec
        .credentials
        .iter()
        .map(|(k, _)| k.value.clone())
        .collect();
    let resources: BTreeSet<String> = spec
        .resources
        .iter()
        .map(|(k, _)| k.value.clone())
        .collect();
    let inputs: BTreeSet<&str> = spec.inputs.iter().map(|(k, _)| k.value.as_str()).collect();
    // Inside a template, the names in scope are the earlier steps' (what `actions` are in a story).
    fn scope<'a>(
        steps: &'a BTreeSet<&'a str>,
        credentials: Option<&'a BTreeSet<String>>,
        resources: &'a BTreeSet<String>,
        inputs: &BTreeSet<&'a str>,
        owner: String,
    ) -> Scope<'a> {
        Scope {
            actions: steps,
            all_actions: &[],
            credentials,
            resources,
            inputs: Some(inputs.clone()),
            item: false,
            owner,
        }
    }
    let in_request = |field: &str| CREDENTIAL_FIELDS.contains(&field).then_some(&credentials);
    match (&spec.request, spec.steps.is_empty()) {
        (Some(_), false) => d.push(
            Diagnostic::new(
                Code::KindConflict,
                spec.steps.iter().next().map_or(root, |(k, _)| k.span),
                "a template has either `request` or `steps`, not both",
            )
            .with_hint("move the single request into a step"),
        ),
        (None, true) => d.push(
            Diagnostic::new(Code::MissingKey, root, "the template sends nothing")
                .with_hint("add `request:` (one HTTP request) or `steps:` (several, in order)"),
        ),
        _ => {}
    }
    let mut earlier: BTreeSet<&str> = BTreeSet::new();
    for request in spec.requests() {
        let owner = match request.name {
            Some(name) => format!("step `{name}` of this template"),
            None => "this template".to_owned(),
        };
        if let Some(when) = request.when {
            let scope = scope(&earlier, None, &resources, &inputs, owner.clone());
            check_template(when, &scope, d);
        }
        request.options.each_template(&mut |field, t| {
            let scope = scope(
                &earlier,
                in_request(field),
                &resources,
                &inputs,
                owner.clone(),
            );
            check_template(t, &scope, d);
        });
        check_http_request(request.options, d);
        earlier.extend(request.name);
    }
    for (name, _) in spec.steps.iter() {
        if !is_snake_case_id(&name.value) || RESERVED_IDS.contains(&name.value.as_str()) {
            d.push(
                Diagnostic::new(
                    Code::InvalidId,
                    name.span,
                    format!("`{}` cannot name a step", name.value),
                )
                .with_hint("a step's name is read as a variable: use snake_case, not a scope's name (inputs, run, step, …)"),
            );
        }
    }
    if let Some(output) = &spec.output {
        let owner = "this template's `output`".to_owned();
        let scope = scope(&earlier, None, &resources, &inputs, owner);
        output.each_template(&mut |t| check_template(t, &scope, d));
    }
    if let Some(limit) = &spec.rate_limit {
        if !credentials.contains(&limit.credential.value) {
            d.push(
                Diagnostic::new(
                    Code::UnknownCredential,
                    limit.credential.span,
                    format!("unknown credential `{}`", limit.credential.value),
                )
                .with_hint("a rate limit is bound to one of the template's `credentials:`"),
            );
        }
        if limit.requests.value == 0 || limit.per.value.is_zero() {
            d.push(Diagnostic::new(
                Code::InvalidOption,
                limit.requests.span,
                "a rate limit needs at least one request per non-zero period",
            ));
        }
    }
}

fn out_of_range<T: std::fmt::Display>(value: &Spanned<T>, what: &str, range: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidOption,
        value.span,
        format!("{what} is {}, outside {range}", value.value),
    )
}

fn check_options(
    id: &str,
    at: Span,
    config: &ActionConfig,
    catalog: &Catalog,
    known: &Known,
    d: &mut Vec<Diagnostic>,
) {
    match config {
        ActionConfig::Webhook(o) => check_webhook(o, known, d),
        ActionConfig::HttpRequest(o) => check_http_request(o, d),
        ActionConfig::Trigger(o) => check_trigger(o, d),
        ActionConfig::Transform(o) => check_transform(o, at, d),
        ActionConfig::Prompt(o) => check_prompt(id, o, d),
        ActionConfig::SendToStory(o) => check_send_to_story(o, catalog, d),
        ActionConfig::Integration(_) => {}
    }
}

fn check_credential_name(name: &Spanned<String>, known: &Known, d: &mut Vec<Diagnostic>) {
    if !known.declared_credentials.contains(&name.value) {
        let hint = did_you_mean(&name.value, known.declared_credentials.iter().map(String::as_str)).unwrap_or_else(|| {
            "declare it under the story's top-level `credentials:` (name: what it holds); a webhook cannot reuse a vendor's credential".to_owned()
        });
        d.push(
            Diagnostic::new(
                Code::UnknownCredential,
                name.span,
                format!("unknown credential `{}`", name.value),
            )
            .with_hint(hint),
        );
    }
}

fn check_webhook(o: &WebhookOptions, known: &Known, d: &mut Vec<Diagnostic>) {
    let path_ok = o
        .path
        .value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && o.path
            .value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !path_ok {
        d.push(
            Diagnostic::new(
                Code::InvalidOption,
                o.path.span,
                format!("webhook path `{}` is not a URL-safe slug", o.path.value),
            )
            .with_hint("use lowercase letters, digits, `-` and `_`, e.g. `panther-okta-admin`"),
        );
    }
    check_credential_name(&o.secret_credential, known, d);
    if let Some(h) = &o.secret_header {
        check_credential_name(&h.credential, known, d);
    }
    if let Some(s) = &o.signature {
        check_credential_name(&s.credential, known, d);
    }
    if let Some(max) = &o.max_body_bytes {
        if max.value == 0 || max.value > MAX_BODY_BYTES {
            d.push(out_of_range(
                max,
                "max_body_bytes",
                &format!("1..={MAX_BODY_BYTES}"),
            ));
        }
    }
}

/// A duration option must be positive and at most `max`.
fn check_duration(
    duration: Option<&Duration>,
    max: std::time::Duration,
    message: &str,
    d: &mut Vec<Diagnostic>,
) {
    if let Some(duration) = duration {
        if duration.value.is_zero() || duration.value > max {
            d.push(Diagnostic::new(Code::InvalidOption, duration.span, message));
        }
    }
}

fn check_http_request(o: &HttpRequestOptions, d: &mut Vec<Diagnostic>) {
    use super::kinds::http_request::{ContentType, HttpMethod};
    check_duration(
        o.timeout.as_ref(),
        MAX_HTTP_TIMEOUT,
        "timeout must be between 1ms and 10m",
        d,
    );
    if let Some(attempts) = &o.max_attempts {
        if !(1..=25).contains(&attempts.value) {
            d.push(out_of_range(attempts, "max_attempts", "1..=25"));
        }
    }
    if let Some(body) = &o.body {
        let span = first_span(body).unwrap_or(o.url.span);
        if matches!(o.method, HttpMethod::Get | HttpMethod::Head) {
            d.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    span,
                    "a GET or HEAD request cannot have a body",
                )
                .with_hint("send parameters with `query:`, or use POST"),
            );
        }
        match (o.content_type, body) {
            (ContentType::Form, Dynamic::Object(_))
            | (ContentType::Text, Dynamic::Template(_))
            | (ContentType::Json, _) => {}
            (ContentType::Form, _) => d.push(Diagnostic::new(
                Code::InvalidOption,
                span,
                "a form body must be a mapping",
            )),
            (ContentType::Text, _) => d.push(Diagnostic::new(
                Code::InvalidOption,
                span,
                "a text body must be a string",
            )),
        }
    }
    if o.basic_auth.is_some() && o.bearer_token.is_some() {
        d.push(Diagnostic::new(
            Code::InvalidOption,
            o.url.span,
            "give `basic_auth` or `bearer_token`, not both",
        ));
    }
}

fn first_span(value: &Dynamic) -> Option<Span> {
    let mut span = None;
    value.each_template(&mut |t| {
        span.get_or_insert(t.span);
    });
    span
}

fn check_trigger(o: &TriggerOptions, d: &mut Vec<Diagnostic>) {
    if o.rules.is_empty() {
        d.push(Diagnostic::new(
            Code::InvalidOption,
            o.rules.span,
            "a trigger needs at least one rule",
        ));
    }
    if let Some(n) = &o.must_match {
        if n.value == 0 || n.value as usize > o.rules.len() {
            d.push(out_of_range(
                n,
                "must_match",
                &format!("1..={} (the number of rules)", o.rules.len()),
            ));
        }
    }
    for rule in o.rules.iter() {
        let literals: Vec<&Template> = match &rule.value {
            Dynamic::Template(t) => vec![t],
            Dynamic::Array(items) => items
                .iter()
                .filter_map(|i| {
                    if let Dynamic::Template(t) = i {
                        Some(t)
                    } else {
                        None
                    }
                })
                .collect(),
            _ => vec![],
        };
        let literals = literals
            .into_iter()
            .filter(|t| t.compiled().is_ok_and(|c| c.is_literal()));
        use super::kinds::trigger::RuleKind::*;
        for t in literals {
            match rule.kind.value {
                Regex | NotRegex => {
                    if let Err(error) = compile_regex(&t.source, true) {
                        d.push(
                            Diagnostic::new(Code::BadRegex, t.span, format!("invalid regular expression: {}", regex_error_summary(&error)))
                                .with_hint("regexes use Rust `regex` syntax (no look-around or back-references)"),
                        );
                    }
                }
                Less | LessOrEqual | Greater | GreaterOrEqual
                    if t.source.trim().parse::<f64>().is_err() =>
                {
                    d.push(
                        Diagnostic::new(
                            Code::InvalidOption,
                            t.span,
                            format!(
                                "`{}` compares numbers, but `{}` is not a number",
                                rule.kind.value.as_str(),
                                t.source
                            ),
                        )
                        .with_hint("write the value as a number, e.g. `value: 0`"),
                    );
                }
                _ => {}
            }
        }
    }
}

fn check_transform(o: &TransformOptions, at: Span, d: &mut Vec<Diagnostic>) {
    match o {
        TransformOptions::Extract(e) if e.matchers.is_empty() => {
            d.push(Diagnostic::new(
                Code::InvalidOption,
                e.matchers.span,
                "extract needs at least one matcher",
            ));
        }
        TransformOptions::Explode(e) => {
            if let Some(limit) = &e.limit {
                if !(1..=20_000).contains(&limit.value) {
                    d.push(out_of_range(limit, "limit", "1..=20000"));
                }
            }
        }
        TransformOptions::Deduplicate(e) => match (&e.lookback, &e.period) {
            (Some(_), Some(period)) => d.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    period.span,
                    "give `lookback` or `period`, not both",
                )
                .with_hint("`lookback` counts past events; `period` is a time window"),
            ),
            (None, None) => d.push(Diagnostic::new(
                Code::InvalidOption,
                e.path.span,
                "deduplicate needs `lookback` (past events) or `period` (a time window)",
            )),
            (Some(lookback), None) if !(1..=1000).contains(&lookback.value) => {
                d.push(out_of_range(lookback, "lookback", "1..=1000"))
            }
            _ => {}
        },
        TransformOptions::Delay(e) => match (&e.duration, &e.until) {
            (Some(duration), Some(_)) => d.push(Diagnostic::new(
                Code::InvalidOption,
                duration.span,
                "give `duration` or `until`, not both",
            )),
            (None, None) => d.push(Diagnostic::new(
                Code::MissingKey,
                at,
                "delay needs `duration` or `until`",
            )),
            _ => {}
        },
        TransformOptions::Throttle(e) => {
            if !(1..=10_000).contains(&e.runs_per_interval.value) {
                d.push(out_of_range(
                    &e.runs_per_interval,
                    "runs_per_interval",
                    "1..=10000",
                ));
            }
            if let Some(n) = &e.events_per_run {
                if n.value != 1 {
                    d.push(
                        Diagnostic::new(
                            Code::InvalidOption,
                            n.span,
                            "`events_per_run` above 1 (several events released as one list) is not supported yet",
                        )
                        .with_hint("leave it out (one event per release), or gather released events with an implode"),
                    );
                }
            }
        }
        _ => {}
    }
}

fn check_prompt(id: &str, o: &PromptOptions, d: &mut Vec<Diagnostic>) {
    if o.slack.is_none() && o.request.is_none() {
        d.push(
            Diagnostic::new(Code::InvalidOption, o.choices.span, format!("prompt `{id}` has no way to reach anyone"))
                .with_hint("add `slack:` (buttons) or `request:` (any HTTP API, with prompt_url(\"<choice>\") links)"),
        );
    }
    if let Some(slack) = &o.slack {
        if slack.channel.is_some() == slack.user_email.is_some() {
            d.push(Diagnostic::new(
                Code::InvalidOption,
                slack.text.span,
                "a Slack prompt needs exactly one of `channel` and `user_email`",
            ));
        }
    }
    if o.choices.is_empty() {
        d.push(Diagnostic::new(
            Code::InvalidOption,
            o.choices.span,
            "a prompt needs at least one choice",
        ));
    }
    let mut seen = BTreeSet::new();
    for choice in o.choices.iter() {
        let value = &choice.value;
        if !is_snake_case_id(value) || value.value == "timeout" {
            d.push(
                Diagnostic::new(Code::InvalidOption, value.span, format!("choice value `{}` is not allowed", value.value))
                    .with_hint("use lowercase letters, digits and `_`; `timeout` is reserved for the timeout path"),
            );
        } else if !seen.insert(value.value.as_str()) {
            d.push(Diagnostic::new(
                Code::InvalidOption,
                value.span,
                format!("choice value `{}` is repeated", value.value),
            ));
        }
    }
    check_duration(
        o.timeout.as_ref(),
        MAX_PROMPT_TIMEOUT,
        "a prompt timeout must be between 1s and 30d",
        d,
    );
    if let Some(request) = &o.request {
        check_http_request(request, d);
    }
}

fn check_send_to_story(o: &SendToStoryOptions, catalog: &Catalog, d: &mut Vec<Diagnostic>) {
    if !catalog.story_ids.contains(&o.story.value) {
        let hint = did_you_mean(&o.story.value, catalog.story_ids.iter().map(String::as_str))
            .unwrap_or_else(|| {
                "name a story by its file name without `.yml`, validated together with this one"
                    .to_owned()
            });
        d.push(
            Diagnostic::new(
                Code::UnknownStory,
                o.story.span,
                format!("unknown story `{}`", o.story.value),
            )
            .with_hint(hint),
        );
    }
}
