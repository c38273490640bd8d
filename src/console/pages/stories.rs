//! The stories: each with its webhook paths (the secret segment never shown), entry points, runs
//! of the last 24 h by status and its last run; a story's page draws its action graph with
//! per-action step counts and shows its YAML with line numbers.

use crate::console::graph::{self, Overlay};
use crate::console::view::{when, PageError, Session};
use crate::console::Console;
use crate::run::RunStatus;
use crate::store::Overview;
use crate::story::kinds::ActionConfig;
use crate::story::Story;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use std::collections::HashMap;

const DAY: i64 = 24 * 60 * 60 * 1000;

/// `(action id, /webhook/{path}/…)` for each entry point.
fn entry_points(story: &Story) -> Vec<(String, String)> {
    story
        .entry_points()
        .filter_map(|(_, action)| match &action.config {
            // The last segment is a credential's value: it is never shown, only named.
            ActionConfig::Webhook(options) => Some((
                action.id.clone(),
                format!("/webhook/{}/…", options.path.value),
            )),
            _ => None,
        })
        .collect()
}

/// `GET /stories`.
pub(in crate::console) async fn list(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    let store = &console.app().engine.store;
    let now = console.now();
    let counts = store
        .run_counts(now - DAY)
        .await
        .map_err(PageError::store)?;
    let mut stories = console.app().engine.stories.all();
    stories.sort_by(|a, b| a.id.cmp(&b.id));
    let ids: Vec<String> = stories.iter().map(|s| s.id.clone()).collect();
    let last = store.last_runs(&ids).await.map_err(PageError::store)?;
    let rows: Vec<_> = stories
        .iter()
        .map(|story| {
            let by_status: Vec<_> = RunStatus::ALL
                .iter()
                .filter(|s| **s != RunStatus::Waiting)
                .map(|status| {
                    let count: i64 = counts
                        .iter()
                        .filter(|c| c.key == story.id && c.state == status.as_str())
                        .map(|c| c.count)
                        .sum();
                    minijinja::context! { status => status.as_str(), count => count }
                })
                .collect();
            let last_run = last.iter().find(|(id, ..)| *id == story.id).map(
                |(_, run, status, created)| {
                    minijinja::context! { id => run, status => status, created => when(*created) }
                },
            );
            minijinja::context! {
                id => &story.id,
                name => &story.name,
                description => story.description.as_deref(),
                entry_points => entry_points(story),
                counts => by_status,
                last_run => last_run,
                not_ready => console.app().engine.not_ready(&story.id),
            }
        })
        .collect();
    console.render(
        "stories.html",
        "Stories",
        "stories",
        &session,
        minijinja::context! { stories => rows },
    )
}

/// `GET /stories/{id}`.
pub(in crate::console) async fn show(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let story = console
        .app()
        .engine
        .stories
        .current(&id)
        .ok_or_else(|| PageError::not_found(format_args!("story `{id}`")))?;
    let now = console.now();
    let counts = console
        .app()
        .engine
        .store
        .step_counts(&id, now - DAY)
        .await
        .map_err(PageError::store)?;
    let mut per_action: HashMap<String, [i64; 3]> = HashMap::new();
    for count in counts {
        let slot = match count.state.as_str() {
            "succeeded" => 0,
            "failed" => 1,
            "waiting" => 2,
            _ => continue,
        };
        per_action.entry(count.key).or_default()[slot] += count.count;
    }
    let svg = graph::draw(
        &story,
        &Overlay {
            counts: Some(per_action),
            ..Overlay::default()
        },
    );
    let lines: Vec<String> = story.source.lines().map(str::to_owned).collect();
    console.render(
        "story.html",
        &story.name,
        "stories",
        &session,
        minijinja::context! {
            id => &story.id,
            name => &story.name,
            description => story.description.as_deref(),
            version => &story.version,
            entry_points => entry_points(&story),
            graph => minijinja::Value::from_safe_string(svg),
            lines => lines,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::entry_points;
    use crate::story::validate::{check_story, Catalog};

    #[test]
    fn a_webhook_is_shown_by_its_path_without_the_secret_segment() {
        let source = "name: S\ncredentials:\n  hook_secret: The secret.\nactions:\n  hook:\n    type: webhook\n    options: {path: alerts-in, secret_credential: hook_secret}\n";
        let story =
            check_story("s", source, &Catalog::default()).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(
            entry_points(&story),
            [("hook".to_owned(), "/webhook/alerts-in/…".to_owned())]
        );
    }
}
