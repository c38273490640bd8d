//! VirusTotal API v3 simulator: IP address, domain and file reports behind `x-apikey`, errors in
//! VirusTotal's `{"error":{"code","message"}}` envelope, and an optional run of 429
//! `QuotaExceededError`s (with or without `Retry-After`). VirusTotal documents no rate-limit
//! headers, so none are sent.

use super::fixtures;
use super::scenario::VirusTotalScenario;
use super::server::{header, json, lock};
use super::VIRUSTOTAL_API_KEY;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The attributes every VirusTotal object with an analysis shares; the only ones kept when the
/// IP fixture is reshaped into a domain or file report (no domain or file fixture exists).
const ANALYSIS_ATTRIBUTES: [&str; 7] = [
    "last_analysis_date",
    "last_analysis_results",
    "last_analysis_stats",
    "last_modification_date",
    "reputation",
    "tags",
    "total_votes",
];

pub(super) struct VirusTotal {
    scenario: VirusTotalScenario,
    base_url: String,
    quota_errors_left: Mutex<u32>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Ip,
    Domain,
    File,
}

impl Kind {
    fn object_type(self) -> &'static str {
        match self {
            Kind::Ip => "ip_address",
            Kind::Domain => "domain",
            Kind::File => "file",
        }
    }

    fn collection(self) -> &'static str {
        match self {
            Kind::Ip => "ip_addresses",
            Kind::Domain => "domains",
            Kind::File => "files",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Ip => "IP address",
            Kind::Domain => "Domain",
            Kind::File => "File",
        }
    }
}

impl VirusTotal {
    pub(super) fn new(scenario: &VirusTotalScenario, base_url: &str) -> VirusTotal {
        VirusTotal {
            scenario: scenario.clone(),
            base_url: base_url.to_string(),
            quota_errors_left: Mutex::new(scenario.quota_exceeded_first),
        }
    }

    fn answer(&self, headers: &HeaderMap, kind: Kind, id: &str) -> Response {
        match header(headers, "x-apikey") {
            None => {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "AuthenticationRequiredError",
                    "X-Apikey header is missing",
                )
            }
            Some(key) if key != VIRUSTOTAL_API_KEY => {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "WrongCredentialsError",
                    "Wrong API key",
                )
            }
            Some(_) => {}
        }
        if self.take_quota_error() {
            let mut response = json(
                StatusCode::TOO_MANY_REQUESTS,
                fixtures::json(fixtures::VT_QUOTA_EXCEEDED),
            );
            if let Some(after) = self.scenario.retry_after {
                let seconds = HeaderValue::from(after.as_secs());
                response.headers_mut().insert("retry-after", seconds);
            }
            return response;
        }
        if !is_valid(kind, id) {
            let message = format!("Invalid {} \"{id}\"", kind.label().to_lowercase());
            return error(StatusCode::BAD_REQUEST, "InvalidArgumentError", &message);
        }
        let malicious = self.scenario.malicious.iter().any(|m| same(kind, m, id));
        let not_found = self.scenario.not_found.iter().any(|m| same(kind, m, id));
        // Every IP and domain has a report; a file only when someone has submitted it.
        if not_found || (kind == Kind::File && !malicious) {
            let mut body = fixtures::json(fixtures::VT_NOT_FOUND);
            body["error"]["message"] = json!(format!("{} \"{id}\" not found", kind.label()));
            return json(StatusCode::NOT_FOUND, body);
        }
        json(StatusCode::OK, self.report(kind, id, malicious))
    }

    fn take_quota_error(&self) -> bool {
        let mut left = lock(&self.quota_errors_left);
        let take = *left > 0;
        if take {
            *left -= 1;
        }
        take
    }

    /// The malicious or clean fixture, about `id`.
    fn report(&self, kind: Kind, id: &str, malicious: bool) -> Value {
        let mut report = fixtures::json(if malicious {
            fixtures::VT_IP_MALICIOUS
        } else {
            fixtures::VT_IP_CLEAN
        });
        let data = &mut report["data"];
        data["id"] = json!(id);
        data["type"] = json!(kind.object_type());
        // The simulator's own URL: a self link must not send anyone to the real service.
        data["links"]["self"] = json!(format!("{}/{}/{id}", self.base_url, kind.collection()));
        if kind != Kind::Ip {
            if let Some(attributes) = data["attributes"].as_object_mut() {
                attributes.retain(|name, _| ANALYSIS_ATTRIBUTES.contains(&name.as_str()));
            }
        }
        report
    }
}

pub(super) fn router(state: Arc<VirusTotal>) -> Router {
    Router::new()
        .route("/api/v3/ip_addresses/{ip}", get(ip_report))
        .route("/api/v3/domains/{domain}", get(domain_report))
        .route("/api/v3/files/{hash}", get(file_report))
        .with_state(state)
}

async fn ip_report(
    State(vt): State<Arc<VirusTotal>>,
    headers: HeaderMap,
    Path(ip): Path<String>,
) -> Response {
    vt.answer(&headers, Kind::Ip, &ip)
}

async fn domain_report(
    State(vt): State<Arc<VirusTotal>>,
    headers: HeaderMap,
    Path(domain): Path<String>,
) -> Response {
    vt.answer(&headers, Kind::Domain, &domain)
}

async fn file_report(
    State(vt): State<Arc<VirusTotal>>,
    headers: HeaderMap,
    Path(hash): Path<String>,
) -> Response {
    vt.answer(&headers, Kind::File, &hash)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(status, json!({"error": {"code": code, "message": message}}))
}

fn is_valid(kind: Kind, id: &str) -> bool {
    match kind {
        Kind::Ip => id.parse::<IpAddr>().is_ok(),
        Kind::Domain => {
            id.contains('.')
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        }
        Kind::File => matches!(id.len(), 32 | 40 | 64) && id.chars().all(|c| c.is_ascii_hexdigit()),
    }
}

/// Whether a scenario entry names `id` (IPs compared as addresses, the rest case-insensitively).
fn same(kind: Kind, entry: &str, id: &str) -> bool {
    match (kind, entry.parse::<IpAddr>(), id.parse::<IpAddr>()) {
        (Kind::Ip, Ok(a), Ok(b)) => a == b,
        _ => entry.eq_ignore_ascii_case(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_entries_match_however_they_are_written() {
        assert!(same(Kind::Ip, "2001:db8::1", "2001:0db8:0:0:0:0:0:1"));
        assert!(!same(Kind::Ip, "2001:db8::1", "2001:db8::2"));
    }

    #[test]
    fn only_hex_hashes_of_md5_sha1_or_sha256_length_are_files() {
        assert!(is_valid(Kind::File, &"a".repeat(64)));
        assert!(!is_valid(Kind::File, &"g".repeat(64)));
        assert!(!is_valid(Kind::File, "abc"));
    }

    #[test]
    fn domain_reports_keep_only_analysis_attributes() {
        let vt = VirusTotal::new(&VirusTotalScenario::default(), "http://sim/api/v3");
        let report = vt.report(Kind::Domain, "example.com", false);
        let attributes = report["data"]["attributes"].as_object().unwrap();
        assert!(attributes.contains_key("last_analysis_stats"));
        assert!(!attributes.contains_key("asn"));
        assert_eq!(report["data"]["type"], "domain");
        assert_eq!(
            report["data"]["links"]["self"],
            "http://sim/api/v3/domains/example.com"
        );
    }
}
