//! One exported story → one Warden story: ids, links (loops cut, a `start` webhook where a run
//! could not begin, a webhook's rules as a trigger), each agent converted where it stands, and
//! the YAML with its header and comments.

use super::export::{self, Export, LinkType};
use super::graph::{self, Edge};
use super::template::{Place, Refs};
use super::yaml::{self, Y};
use super::{agents, names, Imported, LeftOut, StoryFile};
use std::collections::{BTreeMap, BTreeSet};

/// What a story's links and entry points come to.
struct Links {
    /// Kept links; node `agents.len()` is the added `start` webhook when there is one.
    edges: Vec<Edge>,
    /// Notes per agent index about links not kept.
    notes: BTreeMap<usize, Vec<String>>,
    /// Remarks per agent index (not losses).
    remarks: BTreeMap<usize, Vec<String>>,
    /// Whether a `start` webhook was added.
    start: bool,
}

fn is_entry(kind: &str) -> bool {
    matches!(kind, "Agents::WebhookAgent" | "Agents::IMAPAgent")
}

fn links(story: &Export, ids: &[String]) -> Links {
    let agents = &story.agents;
    let mut notes: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut remarks: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut edges = Vec::new();
    for link in &story.links {
        let source = &agents[link.source];
        let from = &ids[link.source];
        let drop = |why: &str| format!("the link from `{from}` is not kept: {why}");
        let note = if is_entry(&agents[link.receiver].kind) {
            Some(drop(
                "a webhook is where a run starts; it has no upstream action",
            ))
        } else if link.source == link.receiver {
            Some(drop(
                "an action cannot feed itself (Warden stories are acyclic)",
            ))
        } else {
            match (link.kind, source.kind.as_str()) {
                (LinkType::NoMatch, "Agents::TriggerAgent")
                    if !source
                        .options
                        .get("emit_no_match")
                        .is_some_and(export::truthy) =>
                {
                    Some(drop(
                        "the trigger does not set `emit_no_match`, so Tines sends nothing along it",
                    ))
                }
                (LinkType::NoMatch, "Agents::TriggerAgent") => None,
                (LinkType::NoMatch, _) => Some(drop("only a trigger has a no-match path")),
                (LinkType::Failure, kind) if is_entry(kind) => {
                    Some(drop("a webhook has no failure path"))
                }
                _ => None,
            }
        };
        match note {
            Some(note) => notes.entry(link.receiver).or_default().push(note),
            None => edges.push(Edge {
                source: link.source,
                receiver: link.receiver,
                kind: link.kind,
            }),
        }
    }
    let (mut edges, cut) = graph::cut_cycles(agents.len(), &edges);
    for edge in cut {
        notes.entry(edge.receiver).or_default().push(format!(
            "the link from `{}` is not kept: it closes a loop, and Warden stories are acyclic; repeat the work with a new run (send_to_story) instead",
            ids[edge.source]
        ));
    }
    let start_node = agents.len();
    let mut start = false;
    let mut roots = BTreeSet::new();
    for (i, agent) in agents.iter().enumerate() {
        if is_entry(&agent.kind) || edges.iter().any(|e| e.receiver == i) {
            continue;
        }
        roots.insert(i);
        start = true;
        edges.push(Edge {
            source: start_node,
            receiver: i,
            kind: LinkType::Default,
        });
        if agent.schedule.is_none() {
            remarks.entry(i).or_default().push(
                "No link leads here (none in Tines, or none kept): the `start` webhook runs it."
                    .into(),
            );
        }
    }
    if !agents.iter().any(|a| is_entry(&a.kind)) {
        start = true;
    }
    // Any action may be scheduled in Tines (and run on its events too).
    for (i, agent) in agents.iter().enumerate() {
        if let Some(schedule) = &agent.schedule {
            let how = if roots.contains(&i) {
                "; the `start` webhook runs it (call it from cron)"
            } else {
                ""
            };
            notes.entry(i).or_default().push(format!(
                "schedule {}: Warden has no schedules{how}",
                agents::short_value(schedule)
            ));
        }
    }
    Links {
        edges,
        notes,
        remarks,
        start,
    }
}

/// A webhook's `rules` become a trigger right after it (node, id and links added): Tines checks
/// them before it starts a run. Returns (webhook index, trigger node, trigger agent).
fn webhook_rule_triggers(
    story: &Export,
    ids: &mut Vec<String>,
    links: &mut Links,
) -> Vec<(usize, usize, export::Agent)> {
    let mut extra = Vec::new();
    for (i, agent) in story.agents.iter().enumerate() {
        if agent.kind != "Agents::WebhookAgent" {
            continue;
        }
        let Some(rules) = ["rules", "match_rules"]
            .iter()
            .find_map(|k| agent.options.get(*k))
            .filter(|r| r.as_array().is_some_and(|a| !a.is_empty()))
        else {
            continue;
        };
        let node = ids.len();
        let base = format!("{}_rules", ids[i]);
        let mut id = base.clone();
        let mut n = 2;
        while ids.contains(&id) {
            id = format!("{base}_{n}");
            n += 1;
        }
        ids.push(id);
        let mut options = serde_json::Map::new();
        options.insert("rules".into(), rules.clone());
        if let Some(must_match) = agent.options.get("must_match") {
            options.insert("must_match".into(), must_match.clone());
        }
        for edge in links.edges.iter_mut().filter(|e| e.source == i) {
            edge.source = node;
        }
        links.edges.push(Edge {
            source: i,
            receiver: node,
            kind: LinkType::Default,
        });
        extra.push((
            i,
            node,
            export::Agent {
                kind: "Agents::TriggerAgent".into(),
                name: format!("{} rules", agent.name),
                description: Some(format!(
                    "Added by the import: the rules of the webhook `{}`. Tines answered \"No Rules matched\" and started no run; here the run starts and ends at this trigger.",
                    ids[i]
                )),
                disabled: false,
                guid: None,
                options,
                schedule: None,
            },
        ));
    }
    extra
}

/// The first fields other actions read of the event key `key` (`key.body`, `.key.prompt`, …),
/// by a scan of every string in the story's options.
fn fields_read(key: &str, story: &Export) -> Vec<String> {
    fn strings<'v>(value: &'v serde_json::Value, out: &mut Vec<&'v str>) {
        match value {
            serde_json::Value::String(s) => out.push(s),
            serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut texts = Vec::new();
    for agent in &story.agents {
        agent.options.values().for_each(|v| strings(v, &mut texts));
    }
    let needle = format!("{key}.");
    let mut fields = BTreeSet::new();
    for text in texts {
        for (at, _) in text.match_indices(&needle) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let field: String = text[at + needle.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !field.is_empty() {
                fields.insert(field);
            }
        }
    }
    fields.into_iter().collect()
}

pub(super) fn convert(
    story: &Export,
    story_id: &str,
    stories: &BTreeMap<String, String>,
    origin: &str,
    imported: &mut Imported,
) {
    let keys: Vec<String> = story
        .agents
        .iter()
        .map(|a| names::snake_case(&a.name))
        .collect();
    let mut ids = names::unique_ids(&keys);
    let mut links = links(story, &ids);
    let start_id = {
        let mut id = "start".to_owned();
        let mut n = 2;
        while ids.contains(&id) {
            id = format!("start_{n}");
            n += 1;
        }
        id
    };
    ids.push(start_id.clone());
    let extra = webhook_rule_triggers(story, &mut ids, &mut links);
    let mut refs = Refs {
        stories: stories.clone(),
        ..Refs::default()
    };
    for (i, key) in keys.iter().enumerate() {
        refs.by_key
            .entry(key.clone())
            .or_default()
            .push(ids[i].clone());
        if agents::body_only(&story.agents[i]) {
            refs.body_only.insert(ids[i].clone());
        }
        if story.agents[i].kind == "Agents::TriggerAgent" {
            refs.triggers.insert(ids[i].clone());
        }
    }
    let guid_index = |guid: &Option<String>| {
        story
            .agents
            .iter()
            .position(|a| a.guid.is_some() && a.guid == *guid)
    };
    refs.entry = guid_index(&story.entry_agent_guid)
        .filter(|&i| story.agents[i].kind == "Agents::WebhookAgent")
        .or_else(|| {
            story
                .agents
                .iter()
                .position(|a| a.kind == "Agents::WebhookAgent")
        })
        .map(|i| ids[i].clone());
    let slug = story_id.to_owned();
    let mut actions = Y::map();
    let mut credentials: BTreeMap<String, String> = BTreeMap::new();
    let mut resources: BTreeSet<String> = BTreeSet::new();
    let mut left_out = Vec::new();
    if links.start {
        let mut action = Y::map();
        action.set("type", Y::str("webhook"));
        action.set(
            "description",
            Y::str(
                "Added by the import: starts the actions that had no upstream webhook in Tines.",
            ),
        );
        let mut options = Y::map();
        options.set("path", Y::str(format!("{slug}-start")));
        let secret = format!("{}_{start_id}_secret", slug.replace('-', "_"));
        options.set("secret_credential", Y::str(secret.clone()));
        credentials.insert(
            secret,
            "Secret last segment of the `start` webhook's URL".into(),
        );
        action.set("options", options);
        actions.set(start_id.clone(), action);
    }
    // Formulas came after schema_version 3 (Liquid only); an export without a version may have both.
    let formulas = story.schema_version == 0 || story.schema_version > 3;
    let mut order: Vec<(usize, &export::Agent)> = Vec::new();
    for (i, agent) in story.agents.iter().enumerate() {
        order.push((i, agent));
        order.extend(
            extra
                .iter()
                .filter(|(after, ..)| *after == i)
                .map(|(_, node, a)| (*node, a)),
        );
    }
    for (i, agent) in order {
        let id = &ids[i];
        let upstream: Vec<String> = graph::ancestors(i, &links.edges)
            .into_iter()
            .map(|n| ids[n].clone())
            .collect();
        let parents: Vec<String> = links
            .edges
            .iter()
            .filter(|e| e.receiver == i)
            .map(|e| ids[e.source].clone())
            .collect();
        let read_downstream = keys
            .get(i)
            .map_or_else(Vec::new, |key| fields_read(key, story));
        let cx = agents::Ctx {
            id,
            story_slug: &slug,
            parents: &parents,
            read_downstream: &read_downstream,
            place: Place {
                refs: &refs,
                upstream: &upstream,
                credentials: false,
                prompt: false,
                item: false,
                formulas,
            },
        };
        let converted = agents::convert(agent, &cx);
        let mut action = Y::map();
        action.set("type", Y::str(converted.kind));
        action.set("name", Y::str(agent.name.clone()));
        if let Some(description) = &agent.description {
            action.set("description", Y::str(description.clone()));
        }
        let mut from: Vec<Y> = links
            .edges
            .iter()
            .filter(|e| e.receiver == i)
            .map(|e| {
                let suffix = match e.kind {
                    LinkType::Default => "",
                    LinkType::NoMatch => ".no_match",
                    LinkType::Failure => ".failure",
                };
                Y::str(format!("{}{suffix}", ids[e.source]))
            })
            .collect();
        if converted.kind != "webhook" {
            match from.len() {
                0 => {}
                1 => {
                    action.set("from", from.remove(0));
                }
                _ => {
                    action.set("from", Y::Seq(from));
                }
            }
        }
        action.set("options", converted.options);
        let mut comments = Vec::new();
        for note in links.notes.get(&i).into_iter().flatten() {
            comments.push(format!("Not translated: {note}"));
            left_out.push(LeftOut {
                story: story_id.to_owned(),
                action: Some(id.clone()),
                what: note.clone(),
            });
        }
        comments.extend(links.remarks.get(&i).into_iter().flatten().cloned());
        comments.extend(converted.comments);
        for what in converted.left_out {
            left_out.push(LeftOut {
                story: story_id.to_owned(),
                action: Some(id.clone()),
                what,
            });
        }
        for name in &converted.found.credentials {
            credentials
                .entry(name.clone())
                .or_insert_with(|| format!("Tines credential `{name}`"));
        }
        for (name, what) in converted.declares {
            credentials.insert(name, what);
        }
        resources.extend(converted.found.resources);
        actions.set(id.clone(), action).comments = comments;
    }
    let mut story_level = Vec::new();
    if story.pages > 0 || story.form_fields > 0 {
        story_level.push(format!(
            "pages and forms ({} page(s), {} form field(s)) have no equivalent; a prompt asks one question with choices",
            story.pages, story.form_fields
        ));
    }
    if story.synchronous_webhooks {
        story_level.push(
            "`synchronous_webhooks_enabled`: a webhook answers 202 with the run id, never with the run's result".into(),
        );
    }
    let mut root = Y::map();
    root.set("name", Y::str(story.name.clone()));
    if let Some(description) = &story.description {
        root.set("description", Y::str(description.clone()));
    }
    if !credentials.is_empty() {
        let mut y = Y::map();
        for (name, what) in &credentials {
            y.set(name.clone(), Y::str(what.clone()));
        }
        root.set("credentials", y);
    }
    if !resources.is_empty() {
        let mut y = Y::map();
        for name in &resources {
            y.set(name.clone(), Y::str(format!("Tines resource `{name}`")));
        }
        root.set("resources", y);
    }
    root.set("actions", actions);
    let mut header = vec![format!(
        "Imported by `warden import tines` from {origin}: Tines story \"{}\"{}, schema_version {}.",
        story.name,
        story
            .guid
            .as_ref()
            .map(|g| format!(" ({g})"))
            .unwrap_or_default(),
        story.schema_version
    )];
    for what in &story_level {
        header.push(format!("Not translated: {what}"));
        left_out.push(LeftOut {
            story: story_id.to_owned(),
            action: None,
            what: what.clone(),
        });
    }
    if let Some(secs) = story.keep_events_for.filter(|s| *s > 0) {
        header.push(format!(
            "Tines kept this story's events {} day(s); Warden keeps finished runs WARDEN_RETENTION_DAYS (default 30).",
            secs.div_ceil(86_400)
        ));
    }
    if !left_out.is_empty() {
        header.push(format!(
            "{} item(s) were not translated: see the comments starting with \"Not translated:\".",
            left_out.len()
        ));
    }
    for note in &story.notes {
        header.push(String::new());
        header.push(format!("Diagram note: {}", note.trim()));
    }
    let text = yaml::write_document(&header, &root);
    imported.stories.push(StoryFile {
        id: story_id.to_owned(),
        yaml: text,
    });
    imported.left_out.extend(left_out);
    imported.credentials.extend(credentials);
    imported.resources.extend(
        resources
            .into_iter()
            .map(|r| (r.clone(), format!("Tines resource `{r}`"))),
    );
}
