//! The Tines export format (see `tines-semantics.md` §6): a story with `agents`, `links` by index
//! into `agents`, and nested `send_to_stories`. Read leniently from JSON: the keys Warden maps are
//! typed, everything else is kept as JSON so nothing is lost without being reported.

use serde_json::{Map, Value};

/// One exported story (the top level, or one of its `send_to_stories`).
#[derive(Debug, Clone)]
pub struct Export {
    /// `schema_version` (3 in 2020–21 exports, 23 in 2025); 0 when absent.
    pub schema_version: u64,
    /// The story's name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Its slug, when the export has one.
    pub slug: Option<String>,
    /// Its guid.
    pub guid: Option<String>,
    /// The actions, in export order (links refer to them by index).
    pub agents: Vec<Agent>,
    /// The links.
    pub links: Vec<Link>,
    /// Diagram notes' text.
    pub notes: Vec<String>,
    /// Stories this one sends to, exported with it.
    pub send_to_stories: Vec<Export>,
    /// The entry action of a story other stories send to.
    pub entry_agent_guid: Option<String>,
    /// Its exit actions.
    pub exit_agent_guids: Vec<String>,
    /// Pages and forms: `pages[]` and the older `form` with fields.
    pub pages: usize,
    /// Whether the older story-level `form` has fields.
    pub form_fields: usize,
    /// `keep_events_for`, in seconds.
    pub keep_events_for: Option<u64>,
    /// `synchronous_webhooks_enabled`: webhooks answer with the run's result.
    pub synchronous_webhooks: bool,
}

/// One action.
#[derive(Debug, Clone)]
pub struct Agent {
    /// `Agents::WebhookAgent`, …
    pub kind: String,
    /// Display name; its snake_case is the event key.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// `disabled`.
    pub disabled: bool,
    /// guid.
    pub guid: Option<String>,
    /// Options, as exported.
    pub options: Map<String, Value>,
    /// `schedule` when set (`[{cron, timezone}]`, or a legacy string such as `every_1h`).
    pub schedule: Option<Value>,
}

/// Which way a link leaves its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LinkType {
    /// Every emitted event.
    Default,
    /// A trigger's no-match event (`link_type: secondary`, `NO_MATCH`).
    NoMatch,
    /// A failed run (`FAILURE`).
    Failure,
}

/// `{"source": i, "receiver": j}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Index of the source agent.
    pub source: usize,
    /// Index of the receiving agent.
    pub receiver: usize,
    /// The link's type.
    pub kind: LinkType,
}

/// Why an export could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not a Tines export.
    #[error("not a Tines story export: {0}")]
    Shape(String),
}

/// Reads an export.
pub fn parse(source: &str) -> Result<Export, Error> {
    let value: Value = serde_json::from_str(source)?;
    read_story(&value)
}

fn read_story(value: &Value) -> Result<Export, Error> {
    let object = value
        .as_object()
        .ok_or_else(|| Error::Shape("the top level is not an object".into()))?;
    let agents = object
        .get("agents")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Shape("no `agents` list".into()))?;
    let agents = agents
        .iter()
        .enumerate()
        .map(|(i, a)| read_agent(i, a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut links = Vec::new();
    for link in object
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let index = |key: &str| {
            link.get(key)
                .and_then(Value::as_u64)
                .map(|i| i as usize)
                .filter(|&i| i < agents.len())
                .ok_or_else(|| {
                    Error::Shape(format!(
                        "a link's `{key}` is not an index into `agents`: {link}"
                    ))
                })
        };
        let kind = ["link_type", "type"]
            .iter()
            .find_map(|k| link.get(*k).and_then(Value::as_str))
            .map_or(LinkType::Default, |t| {
                match t.to_ascii_lowercase().as_str() {
                    "secondary" | "no_match" => LinkType::NoMatch,
                    "failure" => LinkType::Failure,
                    _ => LinkType::Default,
                }
            });
        links.push(Link {
            source: index("source")?,
            receiver: index("receiver")?,
            kind,
        });
    }
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    let exit_agent_guids = match object.get("exit_agent_guids").and_then(Value::as_array) {
        Some(guids) if !guids.is_empty() => guids
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => text("exit_agent_guid").into_iter().collect(),
    };
    Ok(Export {
        schema_version: object
            .get("schema_version")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        name: text("name").unwrap_or_else(|| "Imported story".to_owned()),
        description: text("description"),
        slug: text("slug"),
        guid: text("guid"),
        agents,
        links,
        notes: object
            .get("diagram_notes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|n| n.get("content").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        send_to_stories: object
            .get("send_to_stories")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(read_story)
            .collect::<Result<_, _>>()?,
        entry_agent_guid: text("entry_agent_guid"),
        exit_agent_guids,
        pages: object
            .get("pages")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
        keep_events_for: object.get("keep_events_for").and_then(Value::as_u64),
        synchronous_webhooks: object
            .get("synchronous_webhooks_enabled")
            .is_some_and(truthy),
        form_fields: object
            .get("form")
            .and_then(|f| f.get("fields"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
    })
}

fn read_agent(index: usize, value: &Value) -> Result<Agent, Error> {
    let object = value
        .as_object()
        .ok_or_else(|| Error::Shape(format!("agents[{index}] is not an object")))?;
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Shape(format!("agents[{index}] has no `type`")))?;
    let options = match object.get("options") {
        Some(Value::Object(map)) => map.clone(),
        // Some exports carry options as a JSON string.
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        },
        _ => Map::new(),
    };
    Ok(Agent {
        kind: kind.to_owned(),
        name: object
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("action")
            .to_owned(),
        description: object
            .get("description")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned),
        disabled: object.get("disabled").is_some_and(truthy),
        guid: object
            .get("guid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        options,
        schedule: object
            .get("schedule")
            .filter(|s| match s {
                Value::Null => false,
                Value::Array(a) => !a.is_empty(),
                Value::String(s) => !s.is_empty() && s != "never",
                _ => true,
            })
            .cloned(),
    })
}

/// Tines writes booleans as strings too (`"include_headers": "false"`).
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        _ => false,
    }
}

/// A number written as a number or a string (`"lookback": "100"`).
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_indices_and_a_secondary_link_is_no_match() {
        let export = parse(
            r#"{"schema_version": 3, "name": "S", "agents": [
                {"type": "Agents::WebhookAgent", "name": "A", "options": {}},
                {"type": "Agents::TriggerAgent", "name": "B", "options": {}}],
               "links": [{"source": 0, "receiver": 1}, {"source": 1, "receiver": 0, "link_type": "secondary"}]}"#,
        )
        .unwrap();
        assert_eq!(export.links[0].kind, LinkType::Default);
        assert_eq!(export.links[1].kind, LinkType::NoMatch);
    }

    #[test]
    fn a_link_outside_the_agents_is_refused() {
        let error =
            parse(r#"{"agents": [], "links": [{"source": 0, "receiver": 1}]}"#).unwrap_err();
        assert!(error.to_string().contains("not an index"), "{error}");
    }

    #[test]
    fn string_booleans_and_numbers_are_read_as_tines_means_them() {
        assert!(!truthy(&Value::String("false".into())));
        assert!(truthy(&Value::String("true".into())));
        assert_eq!(number(&Value::String("100".into())), Some(100.0));
    }

    #[test]
    fn nested_stories_and_the_older_single_exit_are_read() {
        let export = parse(
            r#"{"name": "P", "agents": [], "send_to_stories": [
                 {"name": "C", "agents": [], "entry_agent_guid": "e", "exit_agent_guid": "x"}]}"#,
        )
        .unwrap();
        assert_eq!(export.send_to_stories[0].exit_agent_guids, vec!["x"]);
    }
}
