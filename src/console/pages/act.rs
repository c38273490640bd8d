//! The console's forms that change something: retry a failed step, cancel a run, re-run it, and
//! answer a prompt. Each calls the `engine::operate` function the `/api` route calls, in the
//! console user's name, then sends the browser to the page that shows the result with
//! 303 See Other, so a reload does not post again. The session and CSRF checks run before any
//! of these handlers (`console::router`).

use crate::api::{Actor, ApiError};
use crate::console::view::{PageError, Session};
use crate::console::Console;
use crate::engine::operate::{self, Answer, RerunVersion};
use crate::run::AnsweredVia;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Redirect;
use axum::Extension;

/// Who the run's history names for a console action: the API token's holder signed in to the
/// console, or the caller of a `--dev` server.
fn actor(session: &Session) -> &'static str {
    if session.signed_in {
        CONSOLE_USER
    } else {
        Actor::DEV
    }
}

/// The history's name for whoever signed in with the API token.
pub(in crate::console) const CONSOLE_USER: &str = "console";

/// A form field by name (forms here are a few `application/x-www-form-urlencoded` fields).
fn field(body: &Bytes, name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The API's answer to the same refusal (one status table for both doors), as a page; a store
/// error keeps the console's own page for it.
impl From<operate::Error> for PageError {
    fn from(error: operate::Error) -> PageError {
        if let operate::Error::Store(error) = error {
            return PageError::store(error);
        }
        let refused = ApiError::from(error);
        PageError::new(refused.status(), capitalised(refused.message()))
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect::<String>()
    })
}

/// `POST /console/runs/{id}/steps/{step}/retry`: to the run, at the new step.
pub(in crate::console) async fn retry_step(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Path((run_id, step)): Path<(String, String)>,
) -> Result<Redirect, PageError> {
    let step: i64 = step
        .parse()
        .map_err(|_| PageError::not_found(format_args!("step `{step}` in run `{run_id}`")))?;
    let engine = &console.app().engine;
    let retried = operate::retry_step(engine, &run_id, step, actor(&session)).await?;
    Ok(Redirect::to(&format!("/runs/{run_id}#step-{}", retried.id)))
}

/// `POST /console/runs/{id}/cancel`: back to the run.
pub(in crate::console) async fn cancel_run(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Path(run_id): Path<String>,
) -> Result<Redirect, PageError> {
    operate::cancel_run(&console.app().engine, &run_id, actor(&session)).await?;
    Ok(Redirect::to(&format!("/runs/{run_id}")))
}

/// `POST /console/runs/{id}/rerun` with `version` `current` or `pinned`: to the new run.
pub(in crate::console) async fn rerun(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Path(run_id): Path<String>,
    body: Bytes,
) -> Result<Redirect, PageError> {
    let version = match field(&body, "version").as_deref() {
        Some("current") => RerunVersion::Current,
        None | Some("pinned") => RerunVersion::Pinned,
        Some(other) => {
            return Err(PageError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("A re-run is on the `pinned` or the `current` version, not `{other}`."),
            ))
        }
    };
    let run = operate::rerun(&console.app().engine, &run_id, version, actor(&session)).await?;
    Ok(Redirect::to(&format!("/runs/{}", run.id)))
}

/// `POST /console/prompts/{id}/answer` with `choice`: to the prompt's run.
pub(in crate::console) async fn answer_prompt(
    State(console): State<Console>,
    Extension(session): Extension<Session>,
    Path(prompt_id): Path<String>,
    body: Bytes,
) -> Result<Redirect, PageError> {
    let choice = field(&body, "choice").unwrap_or_default();
    let who = actor(&session);
    let answer = Answer {
        prompt_id: &prompt_id,
        choice: &choice,
        responder: who,
        via: AnsweredVia::Console,
        actor: who,
    };
    let recorded = operate::answer_prompt(&console.app().engine, answer).await?;
    Ok(Redirect::to(&format!("/runs/{}", recorded.prompt.run_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_reads_as_a_sentence_with_its_status() {
        let error = PageError::from(operate::Error::RunCancelled("r1".into()));
        let shown = format!("{error:?}");
        assert!(shown.contains("409"), "{shown}");
    }

    #[test]
    fn the_history_names_the_console_user_or_dev() {
        let signed_in = Session {
            csrf: String::new(),
            signed_in: true,
        };
        let dev = Session {
            csrf: String::new(),
            signed_in: false,
        };
        assert_eq!(actor(&signed_in), "console");
        assert_eq!(actor(&dev), "dev");
    }
}
