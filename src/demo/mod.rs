//! The pieces `warden demo` runs the seed scenario with, on one machine and with no network.
//!
//! [`sim`] holds **local simulators** of the five vendors the seed story calls (VirusTotal,
//! GreyNoise, Slack, TheHive 5 and Okta). They are stand-ins that speak the vendors' documented
//! wire formats (`specs/external-apis.md`) with canned, scenario-driven data; they are not the
//! vendors and prove nothing about a real tenant.

pub mod sim;
