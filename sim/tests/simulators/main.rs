//! The vendor simulators of `warden demo`, through plain HTTP: each vendor's happy path and
//! error paths, checked against `specs/external-apis.md` and the shared fixtures (copied into
//! `sim/data/vendors/`, the ones only these tests read into `sim/tests/fixtures/vendors/`).
//! The simulators play vendors on the real clock and these checks are plain HTTP clients of
//! them: `sim/clippy.toml` lifts the product's clock and HTTP-client rules here too.

pub mod common;
mod okta;
mod slack;
mod thehive;
mod threat_intel;
