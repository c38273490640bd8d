//! The pure half of the runner: given what an action's execution produced, decide how its step
//! ends — which events go along which links, whether to retry and when, whether the run fails.
//! No I/O and no clock: time and jitter come in as arguments, so every branch is unit-tested.

use crate::actions::{Error, Output};
use crate::backoff::Backoff;
use crate::run::{millis, Emitted, Millis, StepEnd, StepState, Wait};
use crate::story::kinds::LinkKind;
use crate::story::Story;
use serde_json::{Map, Value};
use std::time::Duration;

/// The first retry waits about this long; each further one doubles it.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// No computed backoff exceeds this (a `Retry-After` may).
const BACKOFF_CAP: Duration = Duration::from_secs(300);
/// Jitter takes off up to half of each wait.
const STEP_BACKOFF: Backoff = Backoff {
    first: BACKOFF_BASE,
    cap: BACKOFF_CAP,
    spread: 0.5,
};

/// Exponential backoff with jitter: attempt 1 waits 0.5–1 s, attempt 2 1–2 s, … capped at 5 min.
/// `jitter` is a random number in `[0, 1)`, spreading retries of many steps apart.
pub fn backoff(attempt: i64, jitter: f64) -> Duration {
    let retry = u32::try_from(attempt.saturating_sub(1).max(0)).unwrap_or(u32::MAX);
    STEP_BACKOFF.wait(retry, jitter)
}

/// Where a step is in its attempts.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// Executions so far, this one included.
    pub number: i64,
    /// Executions allowed.
    pub max: u32,
    /// What the step was waiting for, when this run of it is a wake-up.
    pub waiting: Option<&'a Wait>,
}

/// How a step ends, given its execution's result.
///
/// A retriable failure is retried while `attempt < max_attempts`, after the vendor's
/// `Retry-After` when given, else after [`backoff`]. Any other failure — or the last attempt's —
/// goes along the action's `.failure` links with the error; with no such link the run will end
/// `failed`.
pub fn settle(
    story: &Story,
    action: usize,
    attempt: &Attempt<'_>,
    result: Result<Output, Error>,
    now: Millis,
    jitter: f64,
) -> StepEnd {
    match result {
        Ok(Output::Emit(events)) => {
            let receivers = story.receiver_ids(action, LinkKind::Default);
            StepEnd::Done {
                state: StepState::Succeeded,
                error: None,
                emitted: events
                    .into_iter()
                    .map(|payload| Emitted {
                        link: "default",
                        payload,
                        receivers: receivers.clone(),
                    })
                    .collect(),
                unhandled_failure: false,
            }
        }
        Ok(Output::NoMatch(payload)) => StepEnd::Done {
            state: StepState::Succeeded,
            error: None,
            emitted: vec![Emitted {
                link: "no_match",
                payload,
                receivers: story.receiver_ids(action, LinkKind::NoMatch),
            }],
            unhandled_failure: false,
        },
        Ok(Output::Skip) => StepEnd::Done {
            state: StepState::Skipped,
            error: None,
            emitted: Vec::new(),
            unhandled_failure: false,
        },
        Ok(Output::Wait { until, wait }) => StepEnd::Wait {
            due_at: until,
            wait,
        },
        Err(error) => {
            if let Error::Retriable { retry_after, .. } = &error {
                let due_at = now.saturating_add(millis(
                    retry_after.unwrap_or_else(|| backoff(attempt.number, jitter)),
                ));
                // A woken step keeps waiting for what it waits for: starting over would, say,
                // start a second child run or reset a timeout.
                if let Some(wait) = attempt.waiting {
                    return StepEnd::Wait {
                        due_at,
                        wait: wait.clone(),
                    };
                }
                if attempt.number < i64::from(attempt.max) {
                    return StepEnd::Retry {
                        due_at,
                        error: error.to_json(),
                    };
                }
            }
            fail(story, action, &error)
        }
    }
}

/// The step fails for good: its error goes along `.failure` links, or fails the run.
pub fn fail(story: &Story, action: usize, error: &Error) -> StepEnd {
    fail_with(story, action, error.to_json(), failure_event(error))
}

/// The error class of a step that was lost with its worker too many times.
pub const POISONED: &str = "poisoned";

/// Whether a step claimed with `lost_leases` lost leases (its worker died or stalled while
/// running it that many times, this claim being a takeover) must not run again: `Some` when the
/// count reached `limit` (at least 1). It then fails like any other failure — along `.failure`
/// links with `error: {class: poisoned, message}`, or failing the run — so a step that kills
/// every worker that takes it stops instead of taking the fleet down in turn. Lost leases are
/// not attempts: below the limit the step runs again with its retry budget untouched.
pub fn poisoned(story: &Story, action: usize, lost_leases: i64, limit: u32) -> Option<StepEnd> {
    if lost_leases < i64::from(limit.max(1)) {
        return None;
    }
    let mut error = Map::new();
    error.insert("class".into(), POISONED.into());
    error.insert(
        "message".into(),
        format!("the step was lost with its worker {lost_leases} times; it is not run again")
            .into(),
    );
    let error = Value::Object(error);
    let mut event = Map::new();
    event.insert("error".into(), error.clone());
    Some(fail_with(story, action, error, Value::Object(event)))
}

/// A failure with its stored `error` and the `event` its `.failure` links carry.
fn fail_with(story: &Story, action: usize, error: Value, event: Value) -> StepEnd {
    let receivers = story.receiver_ids(action, LinkKind::Failure);
    let handled = !receivers.is_empty();
    StepEnd::Done {
        state: StepState::Failed,
        error: Some(error),
        emitted: if handled {
            vec![Emitted {
                link: "failure",
                payload: event,
                receivers,
            }]
        } else {
            Vec::new()
        },
        unhandled_failure: !handled,
    }
}

/// The event a `.failure` link carries: the response when there was one (`status`, `headers`,
/// `body`), plus `error: {class, message}`.
pub fn failure_event(error: &Error) -> Value {
    let mut event = match error {
        Error::Retriable {
            details: Some(Value::Object(d)),
            ..
        }
        | Error::Permanent {
            details: Some(Value::Object(d)),
            ..
        } => d.clone(),
        _ => Map::new(),
    };
    let mut summary = Map::new();
    summary.insert("class".into(), error.class().into());
    summary.insert("message".into(), error.to_string().into());
    event.insert("error".into(), Value::Object(summary));
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::story::validate::{check_story, Catalog};
    use serde_json::json;

    fn story() -> Story {
        let source = "name: t\nactions:\n  hook:\n    type: webhook\n    options: {path: t, secret_credential: s}\n  call:\n    type: http_request\n    from: hook\n    options: {url: \"http://x\"}\n  next:\n    type: transform\n    from: call\n    options: {mode: message, payload: {a: 1}}\n  on_fail:\n    type: transform\n    from: call.failure\n    options: {mode: message, payload: {a: 2}}\ncredentials: {s: secret}\n";
        check_story("t", source, &Catalog::default()).expect("valid story")
    }

    fn first() -> Attempt<'static> {
        Attempt {
            number: 1,
            max: 5,
            waiting: None,
        }
    }

    fn last() -> Attempt<'static> {
        Attempt {
            number: 5,
            max: 5,
            waiting: None,
        }
    }

    #[test]
    fn a_woken_step_keeps_waiting_through_a_retriable_error() {
        let story = story();
        let call = story.action_index("call").unwrap();
        let wait = Wait::Story {
            run_id: "child".into(),
            until: 9_000,
        };
        let woken = Attempt {
            number: 5,
            max: 5,
            waiting: Some(&wait),
        };
        let end = settle(&story, call, &woken, Err(retriable(Some(3))), 0, 0.5);
        assert_eq!(
            end,
            StepEnd::Wait {
                due_at: 3_000,
                wait: wait.clone()
            }
        );
    }

    fn retriable(after: Option<u64>) -> Error {
        Error::Retriable {
            message: "HTTP 429".into(),
            retry_after: after.map(Duration::from_secs),
            details: Some(json!({"status": 429, "headers": {}, "body": ""})),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stays_capped() {
        assert_eq!(backoff(1, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(3, 1.0), Duration::from_secs(4));
        assert_eq!(backoff(40, 1.0), BACKOFF_CAP);
    }

    #[test]
    fn retry_after_is_honoured_exactly() {
        let story = story();
        let call = story.action_index("call").unwrap();
        let end = settle(&story, call, &first(), Err(retriable(Some(7))), 1_000, 0.5);
        assert!(
            matches!(end, StepEnd::Retry { due_at: 8_000, .. }),
            "{end:?}"
        );
    }

    #[test]
    fn the_last_attempt_follows_the_failure_link_with_the_response() {
        let story = story();
        let call = story.action_index("call").unwrap();
        let end = settle(&story, call, &last(), Err(retriable(None)), 0, 0.5);
        let StepEnd::Done {
            state,
            emitted,
            unhandled_failure,
            ..
        } = end
        else {
            panic!("expected Done, got {end:?}")
        };
        assert_eq!(state, StepState::Failed);
        assert!(!unhandled_failure);
        assert_eq!(emitted.len(), 1);
        assert_eq!(emitted[0].link, "failure");
        assert_eq!(emitted[0].receivers, vec!["on_fail".to_owned()]);
        assert_eq!(emitted[0].payload["status"], 429);
        assert_eq!(emitted[0].payload["error"]["class"], "retriable");
    }

    #[test]
    fn permanent_failures_are_not_retried() {
        let story = story();
        let call = story.action_index("call").unwrap();
        let end = settle(
            &story,
            call,
            &first(),
            Err(Error::permanent("HTTP 400")),
            0,
            0.5,
        );
        assert!(matches!(
            end,
            StepEnd::Done {
                state: StepState::Failed,
                ..
            }
        ));
    }

    #[test]
    fn a_failure_without_a_failure_link_fails_the_run() {
        let story = story();
        let next = story.action_index("next").unwrap();
        let end = settle(&story, next, &first(), Err(Error::permanent("bad")), 0, 0.5);
        assert!(matches!(
            end,
            StepEnd::Done {
                unhandled_failure: true,
                ..
            }
        ));
    }

    #[test]
    fn a_step_lost_fewer_times_than_the_poison_limit_runs_again() {
        let story = story();
        let call = story.action_index("call").unwrap();
        assert_eq!(poisoned(&story, call, 0, 20), None);
        assert_eq!(poisoned(&story, call, 19, 20), None);
    }

    #[test]
    fn a_step_lost_as_many_times_as_the_poison_limit_fails_along_its_failure_link() {
        let story = story();
        let call = story.action_index("call").unwrap();
        let end = poisoned(&story, call, 20, 20).expect("poisoned");
        let StepEnd::Done {
            state,
            error,
            emitted,
            unhandled_failure,
        } = end
        else {
            panic!("expected Done, got {end:?}")
        };
        assert_eq!(state, StepState::Failed);
        let error = error.unwrap();
        assert_eq!(error["class"], "poisoned");
        assert_eq!(
            error["message"],
            "the step was lost with its worker 20 times; it is not run again"
        );
        assert!(!unhandled_failure);
        assert_eq!(emitted[0].link, "failure");
        assert_eq!(emitted[0].receivers, vec!["on_fail".to_owned()]);
        assert_eq!(emitted[0].payload["error"], error);
    }

    #[test]
    fn a_poisoned_step_without_a_failure_link_fails_the_run() {
        let story = story();
        let next = story.action_index("next").unwrap();
        let end = poisoned(&story, next, 3, 3).expect("poisoned");
        assert!(matches!(
            end,
            StepEnd::Done {
                state: StepState::Failed,
                unhandled_failure: true,
                ..
            }
        ));
    }

    #[test]
    fn a_poison_limit_of_zero_still_lets_a_step_run_once() {
        let story = story();
        let call = story.action_index("call").unwrap();
        assert_eq!(poisoned(&story, call, 0, 0), None);
        assert!(poisoned(&story, call, 1, 0).is_some());
    }

    #[test]
    fn emitted_events_go_to_every_default_receiver() {
        let story = story();
        let call = story.action_index("call").unwrap();
        let end = settle(
            &story,
            call,
            &first(),
            Ok(Output::Emit(vec![json!({"status": 200})])),
            0,
            0.5,
        );
        let StepEnd::Done { emitted, .. } = end else {
            panic!()
        };
        assert_eq!(emitted[0].receivers, vec!["next".to_owned()]);
    }
}
