//! Vendor payloads embedded in the binary, copied verbatim from the shared fixtures into
//! `sim/data/vendors/` (provenance in the shared fixtures' README). The simulators answer
//! with these shapes, changing only the values a request determines (the IP, the id, the user).

use serde_json::Value;

/// `GET /api/v3/ip_addresses/{ip}` for an IP five engines flag.
pub const VT_IP_MALICIOUS: &str = include_str!("../data/vendors/virustotal/ip-malicious.json");
/// The same report for a clean IP.
pub const VT_IP_CLEAN: &str = include_str!("../data/vendors/virustotal/ip-clean.json");
/// VirusTotal's `NotFoundError`.
pub const VT_NOT_FOUND: &str = include_str!("../data/vendors/virustotal/error-404.json");
/// VirusTotal's `QuotaExceededError`, as vt-py's tests serve it.
pub const VT_QUOTA_EXCEEDED: &str = include_str!("../data/vendors/virustotal/error-429-quota.json");

/// GreyNoise community: a scanner classified malicious.
pub const GN_MALICIOUS: &str = include_str!("../data/vendors/greynoise/community-malicious.json");
/// GreyNoise community: a RIOT (known business service) hit.
pub const GN_BENIGN_RIOT: &str =
    include_str!("../data/vendors/greynoise/community-benign-riot.json");
/// GreyNoise community: 404, not observed.
pub const GN_NOT_OBSERVED: &str =
    include_str!("../data/vendors/greynoise/community-404-not-observed.json");
/// GreyNoise community: 429, daily quota used up.
pub const GN_QUOTA: &str = include_str!("../data/vendors/greynoise/community-429.json");

/// `chat.postMessage` success.
pub const SLACK_POST_OK: &str = include_str!("../data/vendors/slack/chat.postMessage-ok.json");
/// `users.lookupByEmail` success.
pub const SLACK_LOOKUP_OK: &str = include_str!("../data/vendors/slack/users.lookupByEmail-ok.json");
/// A `block_actions` payload: the field set and order a click sends.
pub const SLACK_BLOCK_ACTIONS: &str =
    include_str!("../data/vendors/slack/block_actions-denied.json");

/// TheHive 5 `OutputCase`.
pub const HIVE_CASE: &str = include_str!("../data/vendors/thehive/case-create-201.json");
/// TheHive 5 `OutputObservable` list.
pub const HIVE_OBSERVABLES: &str =
    include_str!("../data/vendors/thehive/observable-create-201.json");
/// TheHive's 401.
pub const HIVE_UNAUTHORIZED: &str = include_str!("../data/vendors/thehive/error-401.json");

/// Okta `User` (the spec's `user-example`).
pub const OKTA_USER: &str = include_str!("../data/vendors/okta/user-active.json");
/// Okta's 400 `E0000001` for suspending a user who is not `ACTIVE`.
pub const OKTA_NOT_ACTIVE: &str = include_str!("../data/vendors/okta/suspend-400-not-active.json");
/// Okta's 429 `E0000047`.
pub const OKTA_RATE_LIMITED: &str = include_str!("../data/vendors/okta/error-429.json");

/// Parses an embedded fixture.
pub fn json(text: &'static str) -> Value {
    serde_json::from_str(text).expect("embedded fixtures are JSON (checked by a unit test)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_fixture_is_json() {
        for text in [
            VT_IP_MALICIOUS,
            VT_IP_CLEAN,
            VT_NOT_FOUND,
            VT_QUOTA_EXCEEDED,
            GN_MALICIOUS,
            GN_BENIGN_RIOT,
            GN_NOT_OBSERVED,
            GN_QUOTA,
            SLACK_POST_OK,
            SLACK_LOOKUP_OK,
            SLACK_BLOCK_ACTIONS,
            HIVE_CASE,
            HIVE_OBSERVABLES,
            HIVE_UNAUTHORIZED,
            OKTA_USER,
            OKTA_NOT_ACTIVE,
            OKTA_RATE_LIMITED,
        ] {
            json(text);
        }
    }
}
