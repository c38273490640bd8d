//! Health: queue depth by step state, steps finished per second (since the last look at this
//! page), failed steps in the last hour, and when each poller's checkpoint last moved.

use crate::console::view::{duration, when, PageError, Session};
use crate::console::Console;
use crate::run::StepState;
use crate::store::{Overview, Queue};
use axum::extract::State;
use axum::response::Response;
use axum::Extension;

const HOUR: i64 = 60 * 60 * 1000;

/// `GET /health`.
pub(in crate::console) async fn show(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    let engine = &console.app().engine;
    let now = console.now();
    let depth = engine.store.queue_depth().await.map_err(PageError::store)?;
    let failed = engine
        .store
        .failed_steps_since(now - HOUR)
        .await
        .map_err(PageError::store)?;
    let checkpoints = engine.store.checkpoints().await.map_err(PageError::store)?;
    let finished: u64 = StepState::ALL
        .iter()
        .map(|s| engine.metrics.finished(*s))
        .sum();
    // Steps per second over the time since the previous sample (this process's runner only).
    let rate = console.0.rate.lock().ok().and_then(|mut sample| {
        let previous = sample.replace((now, finished));
        previous
            .filter(|(at, _)| now > *at)
            .map(|(at, count)| (finished.saturating_sub(count)) as f64 * 1000.0 / (now - at) as f64)
    });
    let queue: Vec<_> = StepState::ALL
        .iter()
        .filter(|s| {
            !matches!(
                s,
                StepState::Succeeded | StepState::Failed | StepState::Skipped
            )
        })
        .map(|state| {
            let count = depth
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n);
            minijinja::context! { state => state.as_str(), count => count }
        })
        .collect();
    let pollers: Vec<_> = checkpoints
        .iter()
        .map(|(source, at)| {
            minijinja::context! { source => source, at => when(*at), ago => duration(now - at) }
        })
        .collect();
    console.render(
        "health.html",
        "Health",
        "health",
        &session,
        minijinja::context! {
            queue => queue,
            rate => rate.map(|r| format!("{r:.1}")),
            finished => finished,
            failed => failed,
            pollers => pollers,
            not_ready => engine.not_ready.iter().map(|(story, why)| {
                minijinja::context! { story => story, why => why }
            }).collect::<Vec<_>>(),
        },
    )
}
