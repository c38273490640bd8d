//! One run: its steps as a timeline with their input and output events, errors and waits; the
//! story graph with this run's path highlighted; its parent and child runs and the alert that
//! started it; and the actions that apply to it ([`run_actions`]).

use super::runs::row;
use crate::console::graph::{self, Overlay};
use crate::console::view::{duration, pretty, ser, when, PageError, Session};
use crate::console::Console;
use crate::run::{Millis, RunStatus, StepState, Wait};
use crate::store::{EventRecord, Operations, Overview, RunRecord, Runs, StepRecord};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use minijinja::Value;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// A button on the run page: a form posting to `path` with `fields` (and the CSRF token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(in crate::console) struct RunAction {
    /// The button's text.
    pub label: String,
    /// Where the form posts: a `/console/runs/{id}/…` route.
    pub path: String,
    /// Hidden fields sent with it.
    pub fields: Vec<(String, String)>,
    /// It stops work that cannot be resumed (cancel): drawn apart from the others.
    pub danger: bool,
}

/// The actions that apply to a run in its state: retry each failed step of a failed run, cancel
/// a run that is not over, re-run any run from its entry event (on the current story version, and
/// on the pinned one when it differs). The routes they post to are the run-actions seam: they
/// are served by the run actions' handlers, behind the console's session and CSRF checks.
pub(in crate::console) fn run_actions(
    run: &RunRecord,
    steps: &[StepRecord],
    current_version: Option<&str>,
) -> Vec<RunAction> {
    let base = format!("/console/runs/{}", run.id);
    let mut actions = Vec::new();
    if run.status == RunStatus::Failed {
        for step in steps.iter().filter(|s| s.state == StepState::Failed) {
            actions.push(RunAction {
                label: format!("Retry step {} ({})", step.id, step.action_id),
                path: format!("{base}/steps/{}/retry", step.id),
                fields: Vec::new(),
                danger: false,
            });
        }
    }
    if !run.status.is_finished() {
        actions.push(RunAction {
            label: "Cancel run".into(),
            path: format!("{base}/cancel"),
            fields: Vec::new(),
            danger: true,
        });
    }
    actions.push(RunAction {
        label: "Re-run on the current version".into(),
        path: format!("{base}/rerun"),
        fields: vec![("version".into(), "current".into())],
        danger: false,
    });
    if current_version.is_some_and(|v| v != run.story_version) {
        actions.push(RunAction {
            label: format!("Re-run on the pinned version {}", short(&run.story_version)),
            path: format!("{base}/rerun"),
            fields: vec![("version".into(), "pinned".into())],
            danger: false,
        });
    }
    actions
}

fn short(version: &str) -> &str {
    version.get(..12).unwrap_or(version)
}

#[derive(Debug, Serialize)]
struct StepView {
    id: i64,
    action: String,
    kind: &'static str,
    attempt: i64,
    state: &'static str,
    /// When the step was created: queued, or (once executed) started.
    created: String,
    /// How long it has taken; `None` until it first executes (a queued retry took nothing yet).
    took: Option<String>,
    next: Option<String>,
    /// The child run a waiting `send_to_story` step waits for.
    child: Option<String>,
    input: Option<String>,
    outputs: Vec<EventView>,
    error: Option<String>,
    missing_data: Vec<String>,
    lost_leases: i64,
    /// The failed step this one retries.
    retry_of: Option<i64>,
}

#[derive(Debug, Serialize)]
struct EventView {
    id: i64,
    link: String,
    payload: String,
}

/// Whether the step's action has executed at least once (`attempt` counts executions; a new
/// step, a queued retry of a failed one included, has none).
fn has_started(step: &StepRecord) -> bool {
    step.attempt > 0
}

/// What happens next to a step, as `GET /api/runs/{id}` and `warden runs show` say it: a
/// pending step's due or retry time, a waiting step's wait in words and until when. `due_at`
/// means nothing in other states (a running step's is its lease), so it is not shown there.
fn next_for(step: &StepRecord) -> Option<String> {
    match step.state {
        StepState::Pending if has_started(step) => Some(format!("retry at {}", when(step.due_at))),
        StepState::Pending => Some(format!("due at {}", when(step.due_at))),
        StepState::Waiting => Some(match &step.wait {
            Some(wait) => format!(
                "waiting for {} until {}",
                wait.describe(),
                when(step.due_at)
            ),
            None => format!("waiting until {}", when(step.due_at)),
        }),
        _ => None,
    }
}

/// The child run a waiting step waits for, to link to.
fn child_waited_for(step: &StepRecord) -> Option<String> {
    match (&step.state, &step.wait) {
        (StepState::Waiting, Some(Wait::Story { run_id, .. })) => Some(run_id.clone()),
        _ => None,
    }
}

fn step_view(
    step: &StepRecord,
    kind: &'static str,
    events: &HashMap<i64, &EventRecord>,
    outputs: Vec<EventView>,
    now: Millis,
) -> StepView {
    StepView {
        id: step.id,
        action: step.action_id.clone(),
        kind,
        attempt: step.attempt,
        state: step.state.as_str(),
        created: when(step.created_at),
        took: has_started(step)
            .then(|| duration(step.finished_at.unwrap_or(now) - step.created_at)),
        next: next_for(step),
        child: child_waited_for(step),
        input: step
            .input_event_id
            .and_then(|id| events.get(&id))
            .map(|e| pretty(&e.payload)),
        outputs,
        error: step.error.as_ref().map(pretty),
        missing_data: step.missing_data.clone(),
        lost_leases: step.lost_leases,
        retry_of: step.retry_of,
    }
}

/// `GET /runs/{id}`.
pub(in crate::console) async fn show(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let engine = &console.app().engine;
    let store = &engine.store;
    let run = store
        .run(&id)
        .await
        .map_err(PageError::store)?
        .ok_or_else(|| PageError::not_found(format_args!("run `{id}`")))?;
    let steps = store.run_steps(&id).await.map_err(PageError::store)?;
    let events = store.run_events(&id).await.map_err(PageError::store)?;
    let parent = store.parent_run(&id).await.map_err(PageError::store)?;
    let children = store.child_runs(&id).await.map_err(PageError::store)?;
    let alert = store.run_alert(&id).await.map_err(PageError::store)?;
    let history = store.run_history(&id).await.map_err(PageError::store)?;
    // The version the run pinned draws the graph; when it cannot be read back, the page still
    // shows the steps.
    let story = engine
        .stories
        .pinned(store, &run.story_id, &run.story_version)
        .await
        .ok();
    let now = console.now();
    let by_id: HashMap<i64, &EventRecord> = events.iter().map(|e| (e.id, e)).collect();
    let mut outputs: HashMap<i64, Vec<EventView>> = HashMap::new();
    for event in &events {
        if let Some(step) = event.step_id {
            outputs.entry(step).or_default().push(EventView {
                id: event.id,
                link: event.link.clone(),
                payload: pretty(&event.payload),
            });
        }
    }
    let kind_of = |action: &str| {
        story
            .as_ref()
            .and_then(|s| s.action(action))
            .map_or("?", |a| a.config.kind_name())
    };
    let timeline: Vec<StepView> = steps
        .iter()
        .map(|s| {
            let out = outputs.remove(&s.id).unwrap_or_default();
            step_view(s, kind_of(&s.action_id), &by_id, out, now)
        })
        .collect();
    let svg = story.as_ref().map(|story| {
        let overlay = Overlay {
            counts: None,
            reached: steps.iter().map(|s| s.action_id.clone()).collect(),
            travelled: travelled(&steps, &by_id),
        };
        graph::draw(story, &overlay)
    });
    let current = engine.stories.current(&run.story_id);
    let actions = run_actions(&run, &steps, current.as_ref().map(|s| s.version.as_str()));
    console.render(
        "run.html",
        &format!("Run {}", run.id),
        "runs",
        &session,
        minijinja::context! {
            run => ser(row(&run, now)),
            version => &run.story_version,
            dedupe_key => run.dedupe_key.as_deref(),
            rerun_of => run.rerun_of.as_deref(),
            finished => run.finished_at.map(when),
            live => !run.status.is_finished(),
            steps => ser(&timeline),
            graph => svg.map(Value::from_safe_string),
            parent => parent,
            children => children.iter().map(|(id, story, status)| {
                minijinja::context! { id => id, story => story, status => status }
            }).collect::<Vec<_>>(),
            alert => alert,
            actions => ser(&actions),
            history => history.iter().map(|h| minijinja::context! {
                at => when(h.at),
                actor => &h.actor,
                action => h.action.replace('_', " "),
                details => history_details(&h.details),
            }).collect::<Vec<_>>(),
        },
    )
}

/// A history line's particulars as `key: value` pairs (`step: 4, new step: 9`); empty lists and
/// nulls are left out (a cancel that closed no prompt says nothing about prompts).
fn history_details(details: &serde_json::Value) -> String {
    use serde_json::Value as Json;
    let Some(fields) = details.as_object() else {
        return String::new();
    };
    let shown = |value: &Json| match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    };
    fields
        .iter()
        .filter(|(_, value)| !value.is_null() && !value.as_array().is_some_and(Vec::is_empty))
        .map(|(key, value)| {
            let value = match value {
                Json::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(" "),
                other => shown(other),
            };
            format!("{}: {value}", key.replace('_', " "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The links this run's events travelled: from the action that emitted a step's input event to
/// the step's action.
fn travelled(
    steps: &[StepRecord],
    events: &HashMap<i64, &EventRecord>,
) -> HashSet<(String, String)> {
    steps
        .iter()
        .filter_map(|s| {
            let input = events.get(&s.input_event_id?)?;
            Some((input.action_id.clone(), s.action_id.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::run_actions;
    use crate::run::{RunStatus, StepState, Wait};
    use crate::store::{RunRecord, StepRecord};

    fn run(status: RunStatus) -> RunRecord {
        RunRecord {
            id: "r1".into(),
            story_id: "s".into(),
            story_version: "v1".into(),
            status,
            dedupe_key: None,
            created_at: 0,
            updated_at: 0,
            finished_at: None,
            rerun_of: None,
        }
    }

    fn step(id: i64, state: StepState) -> StepRecord {
        StepRecord {
            id,
            action_id: format!("a{id}"),
            state,
            attempt: 1,
            lost_leases: 0,
            input_event_id: None,
            error: None,
            due_at: 0,
            wait: None,
            created_at: 0,
            finished_at: None,
            missing_data: Vec::new(),
            retry_of: None,
        }
    }

    #[test]
    fn history_details_leave_out_empty_lists_and_nulls() {
        let details = serde_json::json!({
            "steps_cancelled": 1, "prompts_closed": [], "child_runs": ["c1", "c2"], "of": null
        });
        assert_eq!(
            super::history_details(&details),
            "steps cancelled: 1, child runs: c1 c2"
        );
    }

    #[test]
    fn only_cancel_is_drawn_as_a_danger() {
        let actions = run_actions(&run(RunStatus::Waiting), &[], Some("v1"));
        let danger: Vec<_> = actions
            .iter()
            .filter(|a| a.danger)
            .map(|a| &a.label)
            .collect();
        assert_eq!(danger, ["Cancel run"]);
    }

    #[test]
    fn a_queued_step_has_not_started_and_shows_when_it_is_due() {
        let mut queued = step(5, StepState::Pending);
        queued.attempt = 0;
        queued.retry_of = Some(2);
        queued.due_at = 1_790_000_000_000;
        assert!(!super::has_started(&queued));
        let view = super::step_view(&queued, "http", &Default::default(), Vec::new(), 0);
        assert_eq!(view.took, None);
        assert_eq!(view.next.as_deref(), Some("due at 2026-09-21 14:13:20Z"));
        queued.attempt = 2;
        assert_eq!(
            super::next_for(&queued).as_deref(),
            Some("retry at 2026-09-21 14:13:20Z")
        );
    }

    #[test]
    fn a_waiting_step_says_what_it_waits_for_and_only_an_open_step_shows_its_due_time() {
        let mut waiting = step(3, StepState::Waiting);
        waiting.due_at = 1_790_000_000_000;
        waiting.wait = Some(Wait::RateLimited {
            credential: "virustotal".into(),
        });
        assert_eq!(
            super::next_for(&waiting).as_deref(),
            Some(
                "waiting for the rate limit of credential `virustotal` until 2026-09-21 14:13:20Z"
            )
        );
        waiting.wait = Some(Wait::Story {
            run_id: "child-1".into(),
            until: 0,
        });
        assert_eq!(
            super::child_waited_for(&waiting).as_deref(),
            Some("child-1")
        );
        for state in [StepState::Running, StepState::Succeeded, StepState::Failed] {
            let mut other = step(4, state);
            other.due_at = 1_790_000_030_000;
            assert_eq!(super::next_for(&other), None, "{state:?}");
        }
    }

    fn paths(actions: &[super::RunAction]) -> Vec<&str> {
        actions.iter().map(|a| a.path.as_str()).collect()
    }

    #[test]
    fn a_failed_run_offers_to_retry_its_failed_steps_and_to_rerun() {
        let steps = [step(1, StepState::Succeeded), step(2, StepState::Failed)];
        let actions = run_actions(&run(RunStatus::Failed), &steps, Some("v1"));
        assert_eq!(
            paths(&actions),
            ["/console/runs/r1/steps/2/retry", "/console/runs/r1/rerun"]
        );
    }

    #[test]
    fn a_waiting_run_can_be_cancelled_and_an_old_version_rerun_on_either() {
        let actions = run_actions(&run(RunStatus::Waiting), &[], Some("v2"));
        assert_eq!(
            paths(&actions),
            [
                "/console/runs/r1/cancel",
                "/console/runs/r1/rerun",
                "/console/runs/r1/rerun"
            ]
        );
        assert_eq!(actions[2].fields, [("version".into(), "pinned".into())]);
    }
}
