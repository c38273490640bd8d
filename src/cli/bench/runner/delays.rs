//! The timers of `bench runner`: runs of a second story whose `delay` action holds each event
//! until a time the bench sets, released one after another while the backlog drains. How late
//! each event moves on (the step after the delay created, minus the time it was due) says
//! whether due work starts on time under load.

use crate::engine::Engine;
use crate::run::{millis, Millis};
use crate::store::{NewRun, Runs as _};
use crate::story::{check_story, Catalog, Story};
use anyhow::Context as _;
use serde_json::json;
use sqlx::{Connection as _, Row as _};
use std::collections::HashMap;
use std::time::Duration;

/// The delay story's id and webhook path.
pub const DELAY_STORY_ID: &str = "bench-delay";

/// Steps of a delayed run after its webhook: the delay and the step after it.
pub const STEPS_PER_DELAYED_RUN: u64 = 2;

/// A webhook, a delay until the alert's `releaseAt` (unix seconds), and a step after it.
pub const DELAY_STORY: &str = r#"name: Bench timers
description: Benchmark story; holds each event until its releaseAt, then moves on.
credentials:
  hook: Webhook secret.
actions:
  alert:
    type: webhook
    options:
      path: bench-delay
      secret_credential: hook
  hold:
    type: transform
    from: alert
    options:
      mode: delay
      until: "{{ alert.body.releaseAt }}"
  after:
    type: transform
    from: hold
    options:
      mode: message
      payload:
        released: "{{ alert.body.releaseAt }}"
"#;

/// The delay story, validated.
pub fn delay_story() -> anyhow::Result<Story> {
    check_story(DELAY_STORY_ID, DELAY_STORY, &Catalog::default())
        .map_err(|d| anyhow::anyhow!("the bench delay story is invalid: {:?}", d.first()))
}

/// How long after their creation the first and the last of the delayed runs are due.
const FIRST_DUE: Duration = Duration::from_millis(300);
const LAST_DUE: Duration = Duration::from_millis(1_300);

/// Creates `n` delayed runs, due one after another from [`FIRST_DUE`] to [`LAST_DUE`] from now;
/// each run's id and when it is due. The runs are written as created at `created_at`, before
/// the backlog, so each delay is claimed (and starts waiting) ahead of the backlog's steps: what
/// is measured is how late a waiting step moves on, not how long its first step queued.
pub async fn create(
    engine: &Engine,
    n: u64,
    created_at: Millis,
) -> anyhow::Result<HashMap<String, Millis>> {
    let story = engine
        .stories
        .current(DELAY_STORY_ID)
        .context("the bench delay story is not loaded")?;
    let now = engine.clock.now();
    let (first, span) = (
        now + millis(FIRST_DUE),
        millis(LAST_DUE) - millis(FIRST_DUE),
    );
    let mut due = HashMap::new();
    let batch: Vec<NewRun> = (0..n)
        .map(|i| {
            let at = first + span * i as Millis / n.max(1) as Millis;
            let run = super::webhook_run(&story, json!({"releaseAt": at as f64 / 1000.0}), None);
            due.insert(run.id.clone(), at);
            run
        })
        .collect();
    engine.store.create_runs(&batch, created_at).await?;
    Ok(due)
}

/// How late each delayed event moved on, in ms, sorted: the step after the delay was created
/// (when the delay's release committed) minus the time it was due.
pub async fn lateness(url: &str, due: &HashMap<String, Millis>) -> anyhow::Result<Vec<f64>> {
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let rows = sqlx::query(
        "SELECT run_id, created_at FROM steps WHERE action_id = 'after' AND story_id = $1",
    )
    .bind(DELAY_STORY_ID)
    .fetch_all(&mut conn)
    .await?;
    let _ = conn.close().await;
    let mut late = Vec::with_capacity(rows.len());
    for row in &rows {
        let run: String = row.try_get(0)?;
        let created: i64 = row.try_get(1)?;
        if let Some(at) = due.get(&run) {
            late.push((created - at) as f64);
        }
    }
    late.sort_by(f64::total_cmp);
    Ok(late)
}
