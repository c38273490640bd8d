//! TheHive 5 (`external-apis.md` §4): cases and observables behind a Bearer API key.

use super::common::{calm_seed, fixture, keys, post_json, start};
use serde_json::{json, Value};
use warden_sim::{Simulators, Vendor};

const BEARER: (&str, &str) = ("authorization", "Bearer warden-demo-thehive-key");
const CASE: &str = include_str!("../../data/vendors/thehive/case-create-201.json");
const OBSERVABLES: &str = include_str!("../../data/vendors/thehive/observable-create-201.json");

/// The body `templates/thehive/create_case.yml` renders.
fn case_request(title: &str) -> Value {
    json!({
        "title": title,
        "description": "- Client IP: 194.88.246.242",
        "severity": 3,
        "tags": ["okta", "privilege-escalation", "warden"],
        "tlp": 2,
        "pap": 2,
    })
}

fn url(sims: &Simulators, path: &str) -> String {
    format!("{}{path}", sims.base_url(Vendor::TheHive))
}

#[tokio::test]
async fn cases_are_created_with_thehives_output_and_increasing_numbers() {
    let sims = start(calm_seed()).await;
    let first = post_json(&url(&sims, "/api/v1/case"), BEARER, &case_request("First")).await;
    assert_eq!(first.status, 201);
    let case = first.json();
    assert_eq!(keys(&case), keys(&fixture(CASE)));
    assert!(case["_id"].as_str().unwrap().starts_with('~'));
    assert_eq!(case["_type"], "Case");
    assert_eq!(case["number"], 1);
    assert_eq!(case["title"], "First");
    assert_eq!(
        (&case["severityLabel"], &case["tlpLabel"], &case["papLabel"]),
        (&json!("HIGH"), &json!("AMBER"), &json!("AMBER"))
    );
    assert_eq!(
        (&case["status"], &case["stage"]),
        (&json!("New"), &json!("New"))
    );
    assert_eq!(
        case["tags"],
        json!(["okta", "privilege-escalation", "warden"])
    );
    let second = post_json(&url(&sims, "/api/v1/case"), BEARER, &case_request("Second")).await;
    assert_eq!(second.json()["number"], 2);
    assert_ne!(second.json()["_id"], case["_id"]);

    let cases = sims.thehive_cases();
    assert_eq!(cases.len(), 2);
    assert_eq!(
        (cases[0].number, cases[0].severity, cases[0].title.as_str()),
        (1, 3, "First")
    );
    assert_eq!(cases[0].case, case);
    sims.shutdown().await;
}

#[tokio::test]
async fn cases_need_the_api_key_a_title_and_a_description() {
    let sims = start(calm_seed()).await;
    let case_url = url(&sims, "/api/v1/case");
    let anonymous = post_json(&case_url, ("accept", "*/*"), &case_request("x")).await;
    assert_eq!(
        (anonymous.status, anonymous.json()),
        (
            401,
            fixture(include_str!("../../data/vendors/thehive/error-401.json"))
        )
    );
    let wrong = post_json(
        &case_url,
        ("authorization", "Bearer nope"),
        &case_request("x"),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let untitled = post_json(&case_url, BEARER, &json!({"description": "d"})).await;
    assert_eq!(untitled.status, 400);
    assert_eq!(untitled.json()["type"], "BadRequest");
    let undescribed = post_json(&case_url, BEARER, &json!({"title": "t"})).await;
    assert_eq!(undescribed.status, 400);
    let too_severe = post_json(
        &case_url,
        BEARER,
        &json!({"title": "t", "description": "d", "severity": 5}),
    )
    .await;
    assert_eq!(too_severe.status, 400);
    assert!(sims.thehive_cases().is_empty());
    sims.shutdown().await;
}

#[tokio::test]
async fn observables_are_added_by_case_id_or_number_and_returned_as_a_list() {
    let sims = start(calm_seed()).await;
    let case = post_json(&url(&sims, "/api/v1/case"), BEARER, &case_request("Case"))
        .await
        .json();
    let id = case["_id"].as_str().unwrap();
    // The body `templates/thehive/add_observable.yml` renders.
    let observable = json!({
        "dataType": "ip", "data": "194.88.246.242", "message": "Client IP of the privilege grant",
        "ioc": true, "tags": [],
    });
    let by_id = post_json(
        &url(&sims, &format!("/api/v1/case/{id}/observable")),
        BEARER,
        &observable,
    )
    .await;
    assert_eq!(by_id.status, 201);
    let created = by_id.json();
    let expected = fixture(OBSERVABLES);
    assert_eq!(created.as_array().unwrap().len(), 1);
    for key in keys(&expected[0]) {
        assert!(created[0].get(&key).is_some(), "missing {key}");
    }
    assert_eq!(created[0]["_type"], "Observable");
    assert_eq!(
        (&created[0]["dataType"], &created[0]["data"]),
        (&json!("ip"), &json!("194.88.246.242"))
    );
    assert_eq!(
        (&created[0]["ioc"], &created[0]["message"]),
        (&json!(true), &json!("Client IP of the privilege grant"))
    );

    let bulk = json!({"dataType": "domain", "data": ["a.example", "b.example"]});
    let by_number = post_json(&url(&sims, "/api/v1/case/1/observable"), BEARER, &bulk).await;
    assert_eq!(by_number.status, 201);
    assert_eq!(by_number.json().as_array().unwrap().len(), 2);
    assert_eq!(sims.thehive_cases()[0].observables.len(), 3);

    let missing = post_json(
        &url(&sims, "/api/v1/case/~1/observable"),
        BEARER,
        &observable,
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json(),
        json!({"type": "NotFoundError", "message": "Case ~1 not found"})
    );
    let untyped = post_json(
        &url(&sims, &format!("/api/v1/case/{id}/observable")),
        BEARER,
        &json!({"data": "x"}),
    )
    .await;
    assert_eq!(untyped.status, 400);
    sims.shutdown().await;
}
