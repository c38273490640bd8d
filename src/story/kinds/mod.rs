//! The action kinds a story can use, each with typed, documented options (one file per kind)
//! and the checks that only concern that kind. The runner's `actions` module executes them;
//! this module describes them and checks their options.

pub mod check;
pub mod http_request;
pub mod integration_call;
pub mod prompt;
pub mod send_to_story;
pub mod transform;
pub mod trigger;
pub mod webhook;

use super::value::Template;
use crate::diagnostic::Diagnostic;
use crate::yaml::{from_node, Node};

pub use check::CheckContext;
pub use http_request::HttpRequestOptions;
pub use integration_call::IntegrationCall;
pub use prompt::PromptOptions;
pub use send_to_story::SendToStoryOptions;
pub use transform::TransformOptions;
pub use trigger::TriggerOptions;
pub use webhook::WebhookOptions;

/// The built-in kinds, by their `type:` name.
pub const KINDS: &[&str] = &[
    "webhook",
    "http_request",
    "trigger",
    "transform",
    "prompt",
    "send_to_story",
];

/// Which way an event leaves an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LinkKind {
    /// Every emitted event (`from: a`).
    Default,
    /// A trigger's event when its rules do not match (`from: a.no_match`).
    NoMatch,
    /// The input event of a failed step, with the error (`from: a.failure`).
    Failure,
}

impl LinkKind {
    /// The suffix written after the action id in `from`.
    pub fn suffix(self) -> &'static str {
        match self {
            LinkKind::Default => "",
            LinkKind::NoMatch => ".no_match",
            LinkKind::Failure => ".failure",
        }
    }
}

/// A validated action's configuration: a closed set of kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionConfig {
    /// `type: webhook`.
    Webhook(WebhookOptions),
    /// `type: http_request`.
    HttpRequest(HttpRequestOptions),
    /// `type: trigger`.
    Trigger(TriggerOptions),
    /// `type: transform`.
    Transform(TransformOptions),
    /// `type: prompt`.
    Prompt(PromptOptions),
    /// `type: send_to_story`.
    SendToStory(SendToStoryOptions),
    /// `uses: vendor/name`: an integration template with its inputs.
    Integration(IntegrationCall),
}

impl ActionConfig {
    /// Reads a built-in kind's `options:`. `None` when they had errors (reported), or when
    /// `kind` is not one of [`KINDS`]: the caller checks the name first, with hints only it can
    /// give.
    pub fn read(kind: &str, options: &Node, d: &mut Vec<Diagnostic>) -> Option<ActionConfig> {
        Some(match kind {
            "webhook" => ActionConfig::Webhook(from_node(options, d)?),
            "http_request" => ActionConfig::HttpRequest(from_node(options, d)?),
            "trigger" => ActionConfig::Trigger(from_node(options, d)?),
            "transform" => ActionConfig::Transform(TransformOptions::read(options, d)?),
            "prompt" => ActionConfig::Prompt(from_node(options, d)?),
            "send_to_story" => ActionConfig::SendToStory(from_node(options, d)?),
            _ => return None,
        })
    }

    /// Checks what the option types cannot express, each kind in its own file. A request needs
    /// no context; an integration call's inputs were checked as they were read.
    pub fn check(&self, cx: &CheckContext, d: &mut Vec<Diagnostic>) {
        match self {
            ActionConfig::Webhook(o) => o.check(cx, d),
            ActionConfig::HttpRequest(o) => o.check(d),
            ActionConfig::Trigger(o) => o.check(cx, d),
            ActionConfig::Transform(o) => o.check(cx, d),
            ActionConfig::Prompt(o) => o.check(cx, d),
            ActionConfig::SendToStory(o) => o.check(cx, d),
            ActionConfig::Integration(_) => {}
        }
    }

    /// The kind's name as written in `type:`, or `uses` for integrations.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ActionConfig::Webhook(_) => "webhook",
            ActionConfig::HttpRequest(_) => "http_request",
            ActionConfig::Trigger(_) => "trigger",
            ActionConfig::Transform(_) => "transform",
            ActionConfig::Prompt(_) => "prompt",
            ActionConfig::SendToStory(_) => "send_to_story",
            ActionConfig::Integration(_) => "uses",
        }
    }

    /// Whether events can leave along `link`.
    pub fn can_emit(&self, link: LinkKind) -> bool {
        match link {
            LinkKind::Default => true,
            LinkKind::NoMatch => matches!(self, ActionConfig::Trigger(_)),
            // A webhook's step is the request itself, validated before the run exists.
            LinkKind::Failure => !matches!(self, ActionConfig::Webhook(_)),
        }
    }

    /// Calls `f` on every template in the options, with the field it belongs to.
    pub fn each_template<'a>(&'a self, f: &mut dyn FnMut(&'static str, &'a Template)) {
        match self {
            ActionConfig::Webhook(o) => {
                if let Some(t) = &o.dedupe_key {
                    f("dedupe_key", t);
                }
            }
            ActionConfig::HttpRequest(o) => o.each_template(f),
            ActionConfig::Trigger(o) => {
                for rule in o.rules.iter() {
                    f("path", &rule.path);
                    rule.value.each_template(&mut |t| f("value", t));
                }
            }
            ActionConfig::Transform(o) => o.each_template(f),
            ActionConfig::Prompt(o) => o.each_template(f),
            ActionConfig::SendToStory(o) => {
                if let Some(p) = &o.payload {
                    p.each_template(&mut |t| f("payload", t));
                }
            }
            ActionConfig::Integration(call) => {
                for (_, value) in call.with.iter() {
                    value.each_template(&mut |t| f("with", t));
                }
            }
        }
    }

    /// Whether templates in `field` may render credentials: only an outbound request's headers,
    /// body and auth, so secrets never reach stored events, URLs or logs.
    pub fn allows_credentials(&self, field: &str) -> bool {
        match self {
            ActionConfig::HttpRequest(_) => http_request::CREDENTIAL_FIELDS.contains(&field),
            ActionConfig::Prompt(_) => field
                .strip_prefix("request.")
                .is_some_and(|f| http_request::CREDENTIAL_FIELDS.contains(&f)),
            _ => false,
        }
    }
}
