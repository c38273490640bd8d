//! `warden import tines`: a Tines story export (JSON) → Warden stories (YAML) and a report.
//!
//! Pure: the export's text in; each story's YAML, what was left out (and why) and the credentials
//! and resources to set out. The stages, each in its own module: [`export`] reads the JSON,
//! [`graph`] the links (loops cut, ancestors), [`names`] the ids, [`template`] both template
//! dialects, [`agents`] each action's options, `story` puts one story together, [`yaml`] the
//! text, comments kept at each place something was left out.

pub mod agents;
pub mod export;
pub mod graph;
pub mod names;
mod story;
pub mod template;
pub mod yaml;

use crate::diagnostic::Diagnostic;
use crate::story::validate::{check_story, Catalog};
use export::Export;
use std::collections::BTreeMap;

/// The result of an import.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The stories written: the export's, then the stories it sends to.
    pub stories: Vec<StoryFile>,
    /// Everything not translated, in story and action order.
    pub left_out: Vec<LeftOut>,
    /// Credentials the stories read, by Warden name, with what each was in Tines.
    pub credentials: BTreeMap<String, String>,
    /// Resources the stories read, by Warden name.
    pub resources: BTreeMap<String, String>,
}

/// One story file.
#[derive(Debug, Clone)]
pub struct StoryFile {
    /// Its id (the file name without `.yml`).
    pub id: String,
    /// The YAML text.
    pub yaml: String,
}

/// Something that was not translated.
#[derive(Debug, Clone, PartialEq)]
pub struct LeftOut {
    /// The story's id.
    pub story: String,
    /// The action's id, unless it concerns the story as a whole.
    pub action: Option<String>,
    /// What, and why.
    pub what: String,
}

impl std::fmt::Display for LeftOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.action {
            Some(action) => write!(f, "{}: action `{action}`: {}", self.story, self.what),
            None => write!(f, "{}: {}", self.story, self.what),
        }
    }
}

/// The environment variable that holds a credential's value.
pub fn credential_variable(name: &str) -> String {
    format!("WARDEN_CREDENTIAL_{}", name.to_ascii_uppercase())
}

/// The environment variable that holds a resource's value.
pub fn resource_variable(name: &str) -> String {
    format!("WARDEN_RESOURCE_{}", name.to_ascii_uppercase())
}

/// A prompt status as a choice value Warden accepts (snake_case, not `timeout`).
pub fn prompt_status(status: &str) -> String {
    let value = names::snake_case(status);
    let value: String = value
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
        .collect();
    match value.as_str() {
        "" => "answer".into(),
        "timeout" => "timeout_answer".into(),
        v if !v.starts_with(|c: char| c.is_ascii_lowercase()) => format!("answer_{v}"),
        v => v.chars().take(64).collect(),
    }
}

/// Imports an export. `origin` names it in each story's header comment (the file name).
pub fn import(source: &str, origin: &str) -> Result<Imported, export::Error> {
    let top = export::parse(source)?;
    let mut all: Vec<&Export> = Vec::new();
    flatten(&top, &mut all);
    // Story ids from names, unique; nested stories are often exported more than once.
    let mut ids: Vec<String> = Vec::new();
    let mut stories: BTreeMap<String, String> = BTreeMap::new();
    let mut kept: Vec<&Export> = Vec::new();
    for story in all {
        let same = kept.iter().position(|k| {
            k.guid.is_some() && k.guid == story.guid
                || k.name == story.name && k.agents.len() == story.agents.len()
        });
        if same.is_some() {
            continue;
        }
        let base = names::story_slug(&story.name);
        let mut id = base.clone();
        let mut n = 2;
        while ids.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        for key in [
            story.slug.clone(),
            Some(story.name.clone()),
            Some(names::snake_case(&story.name)),
            story.guid.clone(),
        ]
        .into_iter()
        .flatten()
        {
            stories.entry(key).or_insert_with(|| id.clone());
        }
        ids.push(id);
        kept.push(story);
    }
    let mut imported = Imported {
        stories: Vec::new(),
        left_out: Vec::new(),
        credentials: BTreeMap::new(),
        resources: BTreeMap::new(),
    };
    for (story, id) in kept.iter().zip(&ids) {
        story::convert(story, id, &stories, origin, &mut imported);
    }
    Ok(imported)
}

fn flatten<'a>(story: &'a Export, out: &mut Vec<&'a Export>) {
    out.push(story);
    for nested in &story.send_to_stories {
        flatten(nested, out);
    }
}

/// Runs Warden's validator over what was written: an importer that writes an invalid story has
/// a bug. Returns each story's diagnostics (none when all are valid).
pub fn validate(imported: &Imported) -> Vec<(String, Vec<Diagnostic>)> {
    let catalog = Catalog {
        integrations: BTreeMap::new(),
        story_ids: imported.stories.iter().map(|s| s.id.clone()).collect(),
    };
    imported
        .stories
        .iter()
        .filter_map(|s| match check_story(&s.id, &s.yaml, &catalog) {
            Ok(_) => None,
            Err(d) => Some((s.id.clone(), d)),
        })
        .collect()
}

#[cfg(test)]
mod tests;
