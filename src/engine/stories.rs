//! Which story a step runs: the version its run pinned. Current versions are loaded at start and
//! saved to the store; an older version a waiting run still needs is read back from the store
//! and validated again (with the integration templates it was saved with).

use crate::store::{self, Versions};
use crate::story::kinds::ActionConfig;
use crate::story::validate::{check_integration, check_story, Catalog};
use crate::story::Story;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Why a pinned version cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// The store could not be read; try again later.
    #[error("{0}")]
    Store(crate::store::Error),
    /// The version is not stored, or no longer validates: the step can never run.
    #[error("{0}")]
    Gone(String),
}

impl crate::actions::CurrentStories for StoryBook {
    fn current(&self, id: &str) -> Option<Arc<Story>> {
        StoryBook::current(self, id)
    }
}

/// Stories by id (current) and by `(id, version)` (pinned).
#[derive(Debug, Default)]
pub struct StoryBook {
    current: HashMap<String, Arc<Story>>,
    pinned: Mutex<HashMap<(String, String), Arc<Story>>>,
}

impl StoryBook {
    /// The current stories.
    pub fn new(stories: Vec<Story>) -> StoryBook {
        StoryBook {
            current: stories
                .into_iter()
                .map(|s| (s.id.clone(), Arc::new(s)))
                .collect(),
            pinned: Mutex::default(),
        }
    }

    /// Saves every current version so runs can pin them.
    pub async fn save_versions(
        &self,
        store: &impl Versions,
        now: crate::run::Millis,
    ) -> store::Result<()> {
        for story in self.current.values() {
            let templates: Map<String, Value> = story
                .integrations()
                .into_iter()
                .map(|(id, integration)| {
                    let source = std::fs::read_to_string(&integration.path).unwrap_or_default();
                    (id.to_owned(), Value::String(source))
                })
                .collect();
            store
                .save_version(
                    &story.id,
                    &story.version,
                    &story.source,
                    &Value::Object(templates),
                    now,
                )
                .await?;
        }
        Ok(())
    }

    /// A current story.
    pub fn current(&self, id: &str) -> Option<Arc<Story>> {
        self.current.get(id).cloned()
    }

    /// Every current story, sorted by id.
    pub fn all(&self) -> Vec<Arc<Story>> {
        let mut all: Vec<_> = self.current.values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// The story and webhook action listening on `path`.
    pub fn webhook(&self, path: &str) -> Option<(Arc<Story>, usize)> {
        self.current.values().find_map(|story| {
            story
                .actions
                .iter()
                .position(|a| matches!(&a.config, ActionConfig::Webhook(o) if o.path.value == path))
                .map(|index| (story.clone(), index))
        })
    }

    /// The version a run pinned: current if it matches, else read back from the store.
    pub async fn pinned(
        &self,
        store: &impl Versions,
        id: &str,
        version: &str,
    ) -> Result<Arc<Story>, Unavailable> {
        if let Some(story) = self.current.get(id).filter(|s| s.version == version) {
            return Ok(story.clone());
        }
        let key = (id.to_owned(), version.to_owned());
        if let Some(story) = self.cached(&key) {
            return Ok(story);
        }
        let (source, templates) = store
            .load_version(id, version)
            .await
            .map_err(Unavailable::Store)?
            .ok_or_else(|| {
                Unavailable::Gone(format!(
                    "story `{id}` version {version} is not in the store"
                ))
            })?;
        let mut catalog = Catalog {
            story_ids: self.current.keys().cloned().collect(),
            ..Catalog::default()
        };
        catalog.story_ids.insert(id.to_owned());
        for (template_id, source) in templates.as_object().into_iter().flatten() {
            let source = source.as_str().unwrap_or_default();
            let integration = check_integration(template_id, Path::new(template_id), source)
                .map_err(|_| {
                    Unavailable::Gone(format!(
                        "template `{template_id}` saved with story `{id}` no longer validates"
                    ))
                })?;
            catalog
                .integrations
                .insert(template_id.clone(), Arc::new(integration));
        }
        let story = Arc::new(check_story(id, &source, &catalog).map_err(|_| {
            Unavailable::Gone(format!(
                "story `{id}` version {version} no longer validates"
            ))
        })?);
        if let Ok(mut pinned) = self.pinned.lock() {
            pinned.insert(key, story.clone());
        }
        Ok(story)
    }

    fn cached(&self, key: &(String, String)) -> Option<Arc<Story>> {
        self.pinned.lock().ok()?.get(key).cloned()
    }
}
