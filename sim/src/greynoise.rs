//! GreyNoise Community API simulator: `GET /v3/community/{ip}` with the optional `key` header.
//! Malicious scanners and benign RIOT services answer 200; every other routable IPv4 address
//! is 404 "not observed", which GreyNoise means as a normal negative result.

use super::fixtures;
use super::scenario::GreyNoiseScenario;
use super::server::{header, json, lock};
use super::GREYNOISE_API_KEY;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

pub(super) struct GreyNoise {
    scenario: GreyNoiseScenario,
    lookups: Mutex<u32>,
}

impl GreyNoise {
    pub(super) fn new(scenario: &GreyNoiseScenario) -> GreyNoise {
        GreyNoise {
            scenario: scenario.clone(),
            lookups: Mutex::new(0),
        }
    }

    fn answer(&self, headers: &HeaderMap, ip: &str) -> Response {
        // The key is optional (unauthenticated calls get a smaller quota); a wrong one is refused.
        if header(headers, "key").is_some_and(|key| key != GREYNOISE_API_KEY) {
            return json(StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}));
        }
        let Some(address) = routable_ipv4(ip) else {
            return json(
                StatusCode::BAD_REQUEST,
                json!({"message": "Request is not a valid routable IPv4 address"}),
            );
        };
        if !self.count_lookup() {
            return json(
                StatusCode::TOO_MANY_REQUESTS,
                fixtures::json(fixtures::GN_QUOTA),
            );
        }
        let listed = |list: &[String]| list.iter().any(|e| e.parse() == Ok(address));
        let ip = address.to_string();
        if listed(&self.scenario.malicious) {
            let mut body = fixtures::json(fixtures::GN_MALICIOUS);
            about(&mut body, &ip, "ip");
            json(StatusCode::OK, body)
        } else if listed(&self.scenario.benign) {
            let mut body = fixtures::json(fixtures::GN_BENIGN_RIOT);
            about(&mut body, &ip, "riot");
            json(StatusCode::OK, body)
        } else {
            let mut body = fixtures::json(fixtures::GN_NOT_OBSERVED);
            body["ip"] = json!(ip);
            json(StatusCode::NOT_FOUND, body)
        }
    }

    /// Counts a lookup against the daily quota; false once it is used up.
    fn count_lookup(&self) -> bool {
        let mut lookups = lock(&self.lookups);
        if self
            .scenario
            .daily_quota
            .is_some_and(|quota| *lookups >= quota)
        {
            return false;
        }
        *lookups += 1;
        true
    }
}

pub(super) fn router(state: Arc<GreyNoise>) -> Router {
    Router::new()
        .route("/v3/community/{ip}", get(community))
        .with_state(state)
}

async fn community(
    State(greynoise): State<Arc<GreyNoise>>,
    headers: HeaderMap,
    Path(ip): Path<String>,
) -> Response {
    greynoise.answer(&headers, &ip)
}

/// Points a fixture at `ip`: its `ip` and its visualizer link (`/ip/<ip>` for noise,
/// `/riot/<ip>` for RIOT).
fn about(body: &mut Value, ip: &str, link_kind: &str) {
    body["ip"] = json!(ip);
    body["link"] = json!(format!("https://viz.greynoise.io/{link_kind}/{ip}"));
}

/// The address, if it is IPv4 and publicly routable (GreyNoise answers 400 for RFC 1918,
/// loopback and the like).
fn routable_ipv4(ip: &str) -> Option<Ipv4Addr> {
    let address: Ipv4Addr = ip.parse().ok()?;
    let unroutable = address.is_private()
        || address.is_loopback()
        || address.is_link_local()
        || address.is_unspecified()
        || address.is_broadcast()
        || address.is_multicast();
    (!unroutable).then_some(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_ipv6_addresses_are_not_routable() {
        assert_eq!(routable_ipv4("10.1.2.3"), None);
        assert_eq!(routable_ipv4("127.0.0.1"), None);
        assert_eq!(routable_ipv4("2001:db8::1"), None);
        assert_eq!(routable_ipv4("not-an-ip"), None);
        assert!(routable_ipv4("194.88.246.242").is_some());
    }

    #[test]
    fn the_daily_quota_runs_out() {
        let greynoise = GreyNoise::new(&GreyNoiseScenario {
            daily_quota: Some(1),
            ..GreyNoiseScenario::default()
        });
        assert!(greynoise.count_lookup());
        assert!(!greynoise.count_lookup());
    }
}
