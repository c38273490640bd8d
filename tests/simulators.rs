//! The vendor simulators of `warden demo`, through plain HTTP: each vendor's happy path and
//! error paths, checked against `specs/external-apis.md` and the shared fixtures (copied into
//! `sim/data/vendors/`, the ones only these tests read into `tests/fixtures/vendors/`).

// The simulators play vendors on the real clock; so do these checks of them.
#![allow(clippy::disallowed_methods)]

mod simulators {
    pub mod common;
    mod okta;
    mod slack;
    mod thehive;
    mod threat_intel;
}
