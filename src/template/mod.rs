//! Story field templates.
//!
//! Every string field of a story is a minijinja template such as
//! `"{{ vt_lookup.body.data.attributes.last_analysis_stats.malicious }}"` or
//! `"https://x/{{ inputs.ip | path_segment }}"`. Fields are compiled once when a
//! story is loaded ([`compile`]) and rendered many times by the runner
//! ([`Compiled::render`]) against a [`Context`] of upstream action outputs
//! and scopes.
//!
//! A field renders to typed JSON when it is exactly one `{{ expr }}`, so
//! `"{{ alert.count }}"` yields a number and `"{{ alert.tags }}"` a list;
//! anything else renders to a string.
//!
//! All templates share one environment: strict undefined handling (a typo is
//! an error, not an empty string), a fuel budget ([`FUEL`]) so that no
//! template can hang or exhaust the runner, and no auto-escaping (fields are
//! URLs, JSON and chat messages, not HTML), except in a prompt's Slack text
//! ([`Compiled::render_slack_mrkdwn`]), where every `{{ }}` output is escaped
//! for Slack unless it is marked safe.
//!
//! The parts: `environment` (the one minijinja environment and how it prints
//! values), `filters` (what templates can call, by family), `compile`
//! ([`Compiled`] and what static analysis tells about a field), `render`
//! (typed rendering and its error messages), `context` ([`Context`]),
//! `redaction` (credential values scrubbed from errors), `value` (minijinja
//! values to JSON) and `error` ([`Error`]).

mod compile;
mod context;
mod environment;
mod error;
mod filters;
pub mod names;
mod redaction;
mod render;
mod value;

pub use compile::{compile, Compiled};
pub use context::Context;
pub use error::Error;
pub use render::render_value;

/// Work budget of one render, in minijinja fuel.
///
/// One fuel is roughly one instruction or 64 bytes of data produced or
/// processed, so this bounds a render to about a million instructions and
/// 64 MB of allocations: an endless `{% for %}` stops within tens of
/// milliseconds, while a template that passes a multi-megabyte HTTP body
/// through `| json` or `| jsonpath(...)` still fits.
pub const FUEL: u64 = 1_000_000;

/// Root scopes the runner places in every [`Context`] besides upstream
/// action ids.
pub const SCOPES: &[&str] = &["credentials", "resources", "run", "step", "inputs", "item"];

/// Global functions callable from templates (`{{ range(3) }}`).
///
/// A validator uses this to tell a function call from a reference to an
/// upstream action: these names never appear in [`Compiled::variables`].
/// minijinja's `debug()` global is removed because it would dump the whole
/// context, credentials included, into a field.
pub const FUNCTIONS: &[&str] = &["dict", "namespace", "prompt_url", "range"];

/// Hidden root variable the runner sets for prompt actions: an object mapping
/// each answer status to the URL that records it. Read by `prompt_url()`.
pub const PROMPT_URLS: &str = "__prompt_urls";

#[cfg(test)]
mod tests;
