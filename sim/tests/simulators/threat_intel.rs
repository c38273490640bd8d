//! VirusTotal and GreyNoise (`external-apis.md` §1–2), and what every simulator shares.

use super::common::{calm_seed, client, fixture, get, keys, send, start};
use serde_json::json;
use std::time::Duration;
use warden_sim::{Vendor, GREYNOISE_API_KEY, SEED_CLIENT_IP, SIMULATOR_HEADER, VIRUSTOTAL_API_KEY};

const VT_MALICIOUS: &str = include_str!("../../data/vendors/virustotal/ip-malicious.json");
const VT_CLEAN: &str = include_str!("../../data/vendors/virustotal/ip-clean.json");
const VT_QUOTA: &str = include_str!("../../data/vendors/virustotal/error-429-quota.json");
const GN_NOT_OBSERVED: &str =
    include_str!("../../data/vendors/greynoise/community-404-not-observed.json");
const GN_QUOTA: &str = include_str!("../../data/vendors/greynoise/community-429.json");

const VT_KEY: (&str, &str) = ("x-apikey", VIRUSTOTAL_API_KEY);
const GN_KEY: (&str, &str) = ("key", GREYNOISE_API_KEY);

#[tokio::test]
async fn every_response_names_the_simulator_and_is_recorded() {
    let sims = start(calm_seed()).await;
    for vendor in Vendor::ALL {
        let reply = get(&sims, vendor, "/no/such-endpoint", ("accept", "*/*")).await;
        assert_eq!(reply.status, 404, "{vendor}");
        assert_eq!(reply.header(SIMULATOR_HEADER), Some(vendor.name()));
    }
    let recorded = sims.requests();
    assert_eq!(recorded.len(), 5);
    assert!(recorded
        .iter()
        .all(|r| r.status == 404 && r.method == "GET"));
    assert_eq!(recorded[0].vendor, Vendor::VirusTotal);
    assert_eq!(recorded[0].path, "/api/v3/no/such-endpoint");
    sims.shutdown().await;
}

#[tokio::test]
async fn resources_and_credentials_use_the_template_names() {
    let sims = start(calm_seed()).await;
    let resources = sims.resources();
    let names: Vec<_> = resources.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "virustotal_url",
            "greynoise_url",
            "slack_url",
            "thehive_url",
            "okta_url"
        ]
    );
    assert!(resources[0].1.starts_with("http://127.0.0.1:") && resources[0].1.ends_with("/api/v3"));
    assert!(resources[2].1.ends_with("/api"));
    let credentials = sims.credentials();
    let names: Vec<_> = credentials.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "virustotal",
            "greynoise",
            "slack",
            "thehive",
            "okta",
            "slack_signing_secret"
        ]
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_every_simulator() {
    let sims = start(calm_seed()).await;
    let urls: Vec<_> = Vendor::ALL.iter().map(|v| sims.base_url(*v)).collect();
    sims.shutdown().await;
    for url in urls {
        assert!(
            client().get(&url).send().await.is_err(),
            "{url} still answers"
        );
    }
}

#[tokio::test]
async fn virustotal_reports_a_malicious_ip_with_the_fixtures_report() {
    let sims = start(calm_seed()).await;
    let mut progress = sims.subscribe();
    let path = format!("/ip_addresses/{SEED_CLIENT_IP}");
    let reply = get(&sims, Vendor::VirusTotal, &path, VT_KEY).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    let expected = fixture(VT_MALICIOUS);
    assert_eq!(body["data"]["id"], SEED_CLIENT_IP);
    assert_eq!(body["data"]["type"], "ip_address");
    assert_eq!(
        body["data"]["links"]["self"],
        format!("{}{path}", sims.base_url(Vendor::VirusTotal))
    );
    assert_eq!(body["data"]["attributes"], expected["data"]["attributes"]);
    assert_eq!(
        body["data"]["attributes"]["last_analysis_stats"]["malicious"],
        5
    );
    assert!(progress.has_changed().unwrap());
    progress.mark_unchanged();
    let reply = get(&sims, Vendor::VirusTotal, "/ip_addresses/8.8.8.8", VT_KEY).await;
    assert_eq!(
        reply.json()["data"]["attributes"],
        fixture(VT_CLEAN)["data"]["attributes"]
    );
    assert!(progress.has_changed().unwrap());
    sims.shutdown().await;
}

#[tokio::test]
async fn virustotal_refuses_a_missing_or_wrong_key_with_401() {
    let sims = start(calm_seed()).await;
    let reply = get(
        &sims,
        Vendor::VirusTotal,
        "/ip_addresses/8.8.8.8",
        ("accept", "*/*"),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.json(),
        json!({"error": {"code": "AuthenticationRequiredError", "message": "X-Apikey header is missing"}})
    );
    let wrong = ("X-Apikey", "not-the-key");
    let reply = get(&sims, Vendor::VirusTotal, "/ip_addresses/8.8.8.8", wrong).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["code"], "WrongCredentialsError");
    sims.shutdown().await;
}

#[tokio::test]
async fn virustotal_answers_quota_exceeded_once_then_the_report() {
    // The seed scenario stages one 429 with Retry-After: 1.
    let sims = start(warden_sim::Scenario::seed()).await;
    let path = format!("/ip_addresses/{SEED_CLIENT_IP}");
    let first = get(&sims, Vendor::VirusTotal, &path, VT_KEY).await;
    assert_eq!(first.status, 429);
    assert_eq!(first.json(), fixture(VT_QUOTA));
    assert_eq!(first.header("retry-after"), Some("1"));
    let second = get(&sims, Vendor::VirusTotal, &path, VT_KEY).await;
    assert_eq!(second.status, 200);
    sims.shutdown().await;

    // The other variant the spec asks for: no Retry-After.
    let mut scenario = calm_seed();
    scenario.virustotal.quota_exceeded_first = 2;
    scenario.virustotal.retry_after = None;
    let sims = start(scenario).await;
    for _ in 0..2 {
        let reply = get(&sims, Vendor::VirusTotal, &path, VT_KEY).await;
        assert_eq!((reply.status, reply.header("retry-after")), (429, None));
    }
    assert_eq!(
        get(&sims, Vendor::VirusTotal, &path, VT_KEY).await.status,
        200
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn virustotal_reports_domains_and_known_files_and_refuses_the_rest() {
    let mut scenario = calm_seed();
    let hash = "44d88612fea8a8f36de82e1278abb02f";
    scenario.virustotal.malicious.push(hash.into());
    scenario.virustotal.not_found.push("203.0.113.7".into());
    let sims = start(scenario).await;
    let domain = get(&sims, Vendor::VirusTotal, "/domains/example.com", VT_KEY).await;
    assert_eq!(domain.status, 200);
    assert_eq!(domain.json()["data"]["type"], "domain");
    assert_eq!(
        domain.json()["data"]["attributes"]["last_analysis_stats"]["malicious"],
        0
    );
    let file = get(&sims, Vendor::VirusTotal, &format!("/files/{hash}"), VT_KEY).await;
    assert_eq!(file.json()["data"]["type"], "file");
    assert_eq!(
        file.json()["data"]["attributes"]["last_analysis_stats"]["malicious"],
        5
    );
    let unknown = get(
        &sims,
        Vendor::VirusTotal,
        &format!("/files/{}", "0".repeat(64)),
        VT_KEY,
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "NotFoundError");
    let listed = get(
        &sims,
        Vendor::VirusTotal,
        "/ip_addresses/203.0.113.7",
        VT_KEY,
    )
    .await;
    assert_eq!(
        listed.json(),
        fixture(include_str!("../../data/vendors/virustotal/error-404.json"))
    );
    let invalid = get(&sims, Vendor::VirusTotal, "/ip_addresses/999.1.1.1", VT_KEY).await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.json()["error"]["code"], "InvalidArgumentError");
    sims.shutdown().await;
}

#[tokio::test]
async fn greynoise_classifies_malicious_and_benign_ips() {
    let sims = start(calm_seed()).await;
    let path = format!("/v3/community/{SEED_CLIENT_IP}");
    let malicious = get(&sims, Vendor::GreyNoise, &path, GN_KEY).await;
    assert_eq!(malicious.status, 200);
    let body = malicious.json();
    assert_eq!(
        keys(&body),
        [
            "ip",
            "noise",
            "riot",
            "classification",
            "name",
            "link",
            "last_seen",
            "message"
        ]
    );
    assert_eq!(body["ip"], SEED_CLIENT_IP);
    assert_eq!(body["classification"], "malicious");
    assert_eq!(
        body["link"],
        format!("https://viz.greynoise.io/ip/{SEED_CLIENT_IP}")
    );
    // The key is optional: unauthenticated lookups work too.
    let benign = get(
        &sims,
        Vendor::GreyNoise,
        "/v3/community/1.1.1.1",
        ("accept", "*/*"),
    )
    .await;
    let body = benign.json();
    assert_eq!(
        (body["riot"].clone(), body["classification"].clone()),
        (json!(true), json!("benign"))
    );
    assert_eq!(body["link"], "https://viz.greynoise.io/riot/1.1.1.1");
    sims.shutdown().await;
}

#[tokio::test]
async fn greynoise_answers_404_for_ips_it_has_not_observed() {
    let sims = start(calm_seed()).await;
    let reply = get(&sims, Vendor::GreyNoise, "/v3/community/1.2.3.5", GN_KEY).await;
    assert_eq!(reply.status, 404);
    let mut expected = fixture(GN_NOT_OBSERVED);
    expected["ip"] = json!("1.2.3.5");
    assert_eq!(reply.json(), expected);
    sims.shutdown().await;
}

#[tokio::test]
async fn greynoise_refuses_bad_keys_unroutable_ips_and_spent_quotas() {
    let mut scenario = calm_seed();
    scenario.greynoise.daily_quota = Some(1);
    let sims = start(scenario).await;
    let wrong = get(
        &sims,
        Vendor::GreyNoise,
        "/v3/community/1.1.1.1",
        ("key", "nope"),
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.json()),
        (401, json!({"message": "Unauthorized"}))
    );
    let private = get(&sims, Vendor::GreyNoise, "/v3/community/10.0.0.1", GN_KEY).await;
    assert_eq!(private.status, 400);
    assert_eq!(
        private.json()["message"],
        "Request is not a valid routable IPv4 address"
    );
    assert_eq!(
        get(&sims, Vendor::GreyNoise, "/v3/community/1.1.1.1", GN_KEY)
            .await
            .status,
        200
    );
    let spent = get(&sims, Vendor::GreyNoise, "/v3/community/1.1.1.1", GN_KEY).await;
    assert_eq!((spent.status, spent.json()), (429, fixture(GN_QUOTA)));
    assert_eq!(spent.header("retry-after"), None);
    sims.shutdown().await;
}

#[tokio::test]
async fn requests_record_method_path_and_status_but_no_credentials() {
    let sims = start(calm_seed()).await;
    let url = format!(
        "{}/ip_addresses/8.8.8.8?x=1",
        sims.base_url(Vendor::VirusTotal)
    );
    send(client().get(url).header("x-apikey", VIRUSTOTAL_API_KEY)).await;
    let recorded = &sims.requests()[0];
    assert_eq!(recorded.path, "/api/v3/ip_addresses/8.8.8.8?x=1");
    assert_eq!(recorded.status, 200);
    assert!(!format!("{recorded:?}").contains(VIRUSTOTAL_API_KEY));
    let age = jiff::Timestamp::now().duration_since(recorded.at);
    assert!(age.unsigned_abs() < Duration::from_secs(60));
    sims.shutdown().await;
}
