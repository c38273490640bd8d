//! Warden: a security automation engine. Stories (graphs of actions) are YAML in git; a durable
//! step runner executes them; an embedded detection stage turns logs into alerts.
//!
//! See `ARCHITECTURE.md` for how the modules fit together.
#![forbid(unsafe_code)]

pub mod actions;
pub mod api;
pub mod app;
pub mod backoff;
pub mod cli;
pub mod clock;
pub mod console;
pub mod detect;
pub mod diagnostic;
pub mod docs;
pub mod engine;
pub mod escape;
pub mod hex;
pub mod http_client;
pub mod import;
pub mod metrics;
pub mod pattern;
pub mod preflight;
pub mod procfs;
pub mod ratelimit;
pub mod retention;
pub mod run;
pub mod search;
pub mod secrets;
pub mod shutdown;
pub mod store;
pub mod story;
pub mod storytest;
pub mod template;
pub mod yaml;

#[cfg(test)]
mod architecture;
