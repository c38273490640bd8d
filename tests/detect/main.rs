//! The detection stage end to end, in process, on SQLite and Postgres: logs in over HTTP, the
//! shipped rules, alerts stored and delivered (in-process to the seed story's webhook, and to a
//! URL in Panther's webhook format). Time is a manual clock. Beside it, the Okta System Log
//! poller against a mock of Okta's polling API (`okta_poll`), and the detection rules through
//! the library and the `warden` binary (`rules`: the Panther conformance corpus, failing and
//! invalid rule files with golden output, scheduled queries, property tests).

#[path = "../support/mutate.rs"]
mod mutate;
#[path = "../support/outage.rs"]
mod outage_proxy;
#[path = "../support/mod.rs"]
mod support;

mod harness;

mod alerts;
mod ingest;
mod okta_poll;
mod python;
mod rules;
mod scheduled;
