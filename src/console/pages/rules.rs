//! Rules: each loaded rule's log types, severity, dedup period and threshold, and a button that
//! runs the rule's `Tests` (as `warden rules test` does) and shows each verdict.

use crate::console::view::{PageError, Session};
use crate::console::Console;
use crate::detect::python::Pool;
use crate::detect::rule::Rule;
use crate::detect::testing;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;

fn row(rule: &Rule) -> minijinja::Value {
    let sources: Vec<String> = if rule.log_types.is_empty() {
        rule.scheduled_queries
            .iter()
            .map(|q| format!("query {}", q.value))
            .collect()
    } else {
        rule.log_types.clone()
    };
    minijinja::context! {
        id => &rule.id,
        name => rule.display_name.as_deref(),
        sources => sources,
        severity => rule.severity.as_str().to_lowercase(),
        enabled => rule.enabled,
        dedup_minutes => rule.dedup_period_minutes,
        threshold => rule.threshold,
        alerts => rule.create_alert,
        tests => rule.tests.len(),
    }
}

/// One rule's test verdicts, for the page. Python rules' tests wait on their workers, so this
/// runs off the async threads.
fn tested(rule: &Rule, pool: Option<&Pool>) -> minijinja::Value {
    let results = testing::run(rule, pool);
    let passed = results.iter().filter(|r| r.passed()).count();
    let tests: Vec<_> = results
        .iter()
        .map(|r| {
            minijinja::context! {
                name => &r.test.name,
                expected => r.test.expected,
                matched => r.matched,
                passed => r.passed(),
                failure => r.failure.as_ref().map(ToString::to_string)
                    .or_else(|| r.error.as_ref().map(ToString::to_string)),
                title => r.alert.as_ref().map(|a| a.title.clone()),
            }
        })
        .collect();
    minijinja::context! {
        rule => &rule.id, passed => passed, total => results.len(), tests => tests,
    }
}

/// The rules page, with one rule's test `results` when given.
fn page(
    console: &Console,
    session: &Session,
    results: Option<minijinja::Value>,
) -> Result<Response, PageError> {
    let mut rules: Vec<&Rule> = console.app().detector.rules().collect();
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    console.render(
        "rules.html",
        "Rules",
        "rules",
        session,
        minijinja::context! {
            rules => rules.iter().map(|r| row(r)).collect::<Vec<_>>(),
            results => results,
        },
    )
}

/// `GET /rules`.
pub(in crate::console) async fn list(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    page(&console, &session, None)
}

/// `POST /rules/{id}/test`: runs the rule's tests (pure evaluation; nothing is stored).
pub(in crate::console) async fn test(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let detector = console.app().detector.clone();
    if !detector.rules().any(|r| r.id == id) {
        return Err(PageError::not_found(format_args!("rule `{id}`")));
    }
    let results = tokio::task::spawn_blocking(move || {
        let rule = detector.rules().find(|r| r.id == id)?;
        Some(tested(rule, detector.python_pool()))
    })
    .await
    .map_err(|error| {
        tracing::error!(%error, "Running a rule's tests failed.");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The rule's tests could not run; the error is in Warden's log.",
        )
    })?;
    page(&console, &session, results)
}
