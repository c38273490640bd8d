//! `send_to_story`: starts a run of another story with an event, optionally waiting for it.

use super::check::CheckContext;
use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::story::value::{Duration, Dynamic};
use crate::yaml::Spanned;
use schemars::JsonSchema;
use serde::Deserialize;

/// Options of a `send_to_story` action.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct SendToStoryOptions {
    /// The story to run, by its id (its file name without `.yml`). Its entry must be a webhook;
    /// the payload arrives there as `body`.
    pub story: Spanned<String>,
    /// The event sent. Default: `{}`.
    pub payload: Option<Dynamic>,
    /// Wait for the other run to finish and emit its last event. Default false.
    #[serde(default)]
    pub wait: bool,
    /// With `wait`, how long to wait before failing. Default `1h`.
    pub timeout: Option<Duration>,
}

impl SendToStoryOptions {
    /// Checks that the story named is one of those validated together with this one.
    pub fn check(&self, cx: &CheckContext, d: &mut Vec<Diagnostic>) {
        if !cx.story_ids.contains(&self.story.value) {
            let hint = did_you_mean(&self.story.value, cx.story_ids.iter().map(String::as_str))
                .unwrap_or_else(|| {
                    "name a story by its file name without `.yml`, validated together with this one"
                        .to_owned()
                });
            d.push(
                Diagnostic::new(
                    Code::UnknownStory,
                    self.story.span,
                    format!("unknown story `{}`", self.story.value),
                )
                .with_hint(hint),
            );
        }
    }
}
