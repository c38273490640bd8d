//! The durable runner's domain types: where steps and runs are in their lives, how a step ends,
//! and what a waiting step waits for. A leaf: it imports nothing of the application, so the store,
//! the state machine, the actions and the API all speak these words without importing each other.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// Milliseconds since the Unix epoch: every time the store keeps.
pub type Millis = i64;

/// A duration in whole milliseconds, saturating.
pub fn millis(duration: Duration) -> Millis {
    Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX)
}

/// A new run id: a UUIDv7, so ids sort by creation time.
pub fn new_run_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Defines a record state: a closed set of names stored as text.
macro_rules! stored_state {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and displayed name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// Reads a stored name.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

stored_state! {
    /// Where a step is in its life. Pending, running and waiting steps are *open*: the run is not
    /// finished while it has any.
    StepState {
        /// Ready to run at its due time.
        Pending => "pending",
        /// Leased by a worker until its due time; after that anyone may re-claim it.
        Running => "running",
        /// Parked until its due time or until something wakes it (a prompt answer, a child run).
        Waiting => "waiting",
        /// Done; its events were emitted.
        Succeeded => "succeeded",
        /// Done without its events; the failure was recorded (and sent along `.failure` links).
        Failed => "failed",
        /// Done with nothing to do (a duplicate, an implode already flushed).
        Skipped => "skipped",
        /// Ended by cancelling its run: it was pending or waiting, or it was executing and its
        /// result was fenced out.
        Cancelled => "cancelled",
    }
}

stored_state! {
    /// A run's status as the API reports it.
    RunStatus {
        /// Some step is pending or running.
        Running => "running",
        /// Every open step is waiting (a prompt, a delay, a child run).
        Waiting => "waiting",
        /// No open steps and no unhandled failure.
        Succeeded => "succeeded",
        /// No open steps, and some step failed with no `.failure` link to take it.
        Failed => "failed",
        /// Cancelled by someone: its open steps were cancelled, and nothing it was doing starts
        /// new steps.
        Cancelled => "cancelled",
    }
}

impl RunStatus {
    /// Whether the run is over.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

/// What a waiting step waits for, kept with the step and handed back when it wakes. Stored as
/// JSON tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Wait {
    /// A `delay` transform: released when due.
    Delay,
    /// A `throttle` transform: released at its slot.
    Throttle,
    /// The first item of an implode group: flushes the group when due (or when the group fills).
    Implode {
        /// The group.
        guid: String,
    },
    /// A `send_to_story` with `wait`: the child run, and when to stop waiting for it.
    Story {
        /// The child run.
        run_id: String,
        /// When waiting for it fails the step.
        until: Millis,
    },
    /// A prompt: woken by its answer (written here by the store) or by its timeout.
    Prompt {
        /// The prompt.
        prompt_id: String,
        /// The answer, once recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answer: Option<String>,
        /// Who answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        responder: Option<String>,
    },
    /// An integration whose credential's rate budget is spent: it runs again when the budget
    /// allows, without spending an attempt.
    #[serde(rename = "throttled")]
    RateLimited {
        /// The credential whose budget it waits for.
        credential: String,
    },
}

impl Wait {
    /// What the step waits for, in words, for people reading a run.
    pub fn describe(&self) -> String {
        match self {
            Wait::Delay => "the end of its delay".to_owned(),
            Wait::Throttle => "its turn in the throttle".to_owned(),
            Wait::Implode { guid } => format!("the rest of implode group `{guid}`"),
            Wait::Story { run_id, .. } => format!("child run `{run_id}` to finish"),
            Wait::Prompt { prompt_id, .. } => format!("an answer to prompt `{prompt_id}`"),
            Wait::RateLimited { credential } => {
                format!("the rate limit of credential `{credential}`")
            }
        }
    }

    /// Whether waking ends the wait (so the step finishes what it waited for), rather than
    /// executing the action afresh: only a rate-limited step runs again from the start.
    pub fn ends_on_wake(&self) -> bool {
        !matches!(self, Wait::RateLimited { .. })
    }
}

/// An event a completing step emits, with the actions that receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    /// `default`, `no_match` or `failure`.
    pub link: &'static str,
    /// The event.
    pub payload: Value,
    /// One new pending step per receiver.
    pub receivers: Vec<String>,
}

/// How a leased step ends this lease.
#[derive(Debug, Clone, PartialEq)]
pub enum StepEnd {
    /// Finished for good (succeeded, failed or skipped), emitting these events.
    Done {
        /// `Succeeded`, `Failed` or `Skipped`.
        state: StepState,
        /// The failure, when it failed.
        error: Option<Value>,
        /// Events to record and deliver.
        emitted: Vec<Emitted>,
        /// A failure no `.failure` link takes: the run will end `failed`.
        unhandled_failure: bool,
    },
    /// Back to pending, to be executed again at `due_at`.
    Retry {
        /// When.
        due_at: Millis,
        /// The failure that is being retried.
        error: Value,
    },
    /// Parked until `due_at` (or an earlier wake-up), remembering `wait`.
    Wait {
        /// When to wake at the latest.
        due_at: Millis,
        /// What the step waits for; handed back on wake-up.
        wait: Wait,
    },
}

impl StepEnd {
    /// The state the step is in once this end is recorded.
    pub fn state(&self) -> StepState {
        match self {
            StepEnd::Done { state, .. } => *state,
            StepEnd::Retry { .. } => StepState::Pending,
            StepEnd::Wait { .. } => StepState::Waiting,
        }
    }
}

stored_state! {
    /// Where a prompt is: open until answered or expired, then closed for good.
    PromptState {
        /// Waiting for an answer.
        Open => "open",
        /// The first answer was recorded.
        Answered => "answered",
        /// The wait ran out first.
        Expired => "expired",
        /// Its run was cancelled first.
        Cancelled => "cancelled",
    }
}

stored_state! {
    /// How a prompt's answer came in.
    AnsweredVia {
        /// A button on its Slack message.
        Slack => "slack",
        /// A single-use answer URL (`/prompt/{token}`).
        Link => "link",
        /// `POST /api/prompts/{id}/answer` (a script, `warden test`).
        Api => "api",
        /// The web console.
        Console => "console",
    }
}

stored_state! {
    /// Where an alert's delivery to one destination is.
    DeliveryState {
        /// Due for its next attempt.
        Pending => "pending",
        /// Accepted (a 2xx, or a run created).
        Delivered => "delivered",
        /// Given up.
        Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn waits_read_what_earlier_versions_stored() {
        let stored = [
            (json!({"kind": "delay"}), Wait::Delay),
            (json!({"kind": "throttle"}), Wait::Throttle),
            (
                json!({"kind": "implode", "guid": "g"}),
                Wait::Implode { guid: "g".into() },
            ),
            (
                json!({"kind": "story", "run_id": "r", "until": 5}),
                Wait::Story {
                    run_id: "r".into(),
                    until: 5,
                },
            ),
            (
                json!({"kind": "prompt", "prompt_id": "p", "answer": "yes", "responder": "U1"}),
                Wait::Prompt {
                    prompt_id: "p".into(),
                    answer: Some("yes".into()),
                    responder: Some("U1".into()),
                },
            ),
            (
                json!({"kind": "throttled", "credential": "virustotal"}),
                Wait::RateLimited {
                    credential: "virustotal".into(),
                },
            ),
        ];
        for (json, wait) in stored {
            assert_eq!(serde_json::from_value::<Wait>(json.clone()).unwrap(), wait);
            assert_eq!(serde_json::to_value(&wait).unwrap(), json);
        }
    }

    #[test]
    fn an_unanswered_prompt_is_stored_without_an_answer() {
        let wait = Wait::Prompt {
            prompt_id: "p".into(),
            answer: None,
            responder: None,
        };
        assert_eq!(
            serde_json::to_value(&wait).unwrap(),
            json!({"kind": "prompt", "prompt_id": "p"})
        );
    }

    #[test]
    fn only_a_rate_limited_step_starts_over_on_wake() {
        assert!(Wait::Delay.ends_on_wake());
        assert!(!Wait::RateLimited {
            credential: "x".into()
        }
        .ends_on_wake());
    }

    #[test]
    fn record_states_round_trip_through_their_names() {
        for state in [
            PromptState::Open,
            PromptState::Answered,
            PromptState::Expired,
        ] {
            assert_eq!(PromptState::parse(state.as_str()), Some(state));
        }
        assert_eq!(
            DeliveryState::parse("delivered"),
            Some(DeliveryState::Delivered)
        );
        assert_eq!(DeliveryState::parse("lost"), None);
    }
}
