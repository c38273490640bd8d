//! Okta (`external-apis.md` §5): users, the lifecycle state machine, sessions, `SSWS` auth and
//! `X-Rate-Limit-*` headers.

use super::common::{calm_seed, client, fixture, keys, send, start, Reply};
use serde_json::json;
use warden_sim::{OktaStatus, Person, Scenario, Simulators, Vendor, OKTA_API_TOKEN};

const THOMAS_ID: &str = "00u6eup97mAJZWYmP357";
const THOMAS_LOGIN: &str = "thomaskinsella@tines.io";
const USER: &str = include_str!("../../data/vendors/okta/user-active.json");
const NOT_ACTIVE: &str = include_str!("../../data/vendors/okta/suspend-400-not-active.json");

async fn okta(sims: &Simulators, method: reqwest::Method, path: &str) -> Reply {
    let url = format!("{}{path}", sims.base_url(Vendor::Okta));
    let request = client()
        .request(method, url)
        .header("authorization", format!("SSWS {OKTA_API_TOKEN}"))
        .header("accept", "application/json");
    send(request).await
}

fn rate_limit_headers(reply: &Reply) -> (u64, u64, i64) {
    let number = |name: &str| {
        reply
            .header(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_string()
    };
    (
        number("x-rate-limit-limit").parse().unwrap(),
        number("x-rate-limit-remaining").parse().unwrap(),
        number("x-rate-limit-reset").parse().unwrap(),
    )
}

/// `body` without the per-error `errorId`, which Okta makes unique.
fn without_error_id(mut body: serde_json::Value) -> serde_json::Value {
    body.as_object_mut().unwrap().remove("errorId");
    body
}

#[tokio::test]
async fn users_are_found_by_id_and_by_url_encoded_login() {
    let sims = start(calm_seed()).await;
    let by_id = okta(
        &sims,
        reqwest::Method::GET,
        &format!("/api/v1/users/{THOMAS_ID}"),
    )
    .await;
    assert_eq!(by_id.status, 200);
    let user = by_id.json();
    assert_eq!(keys(&user), keys(&fixture(USER)));
    assert_eq!(
        (&user["id"], &user["status"]),
        (&json!(THOMAS_ID), &json!("ACTIVE"))
    );
    assert_eq!(user["profile"]["login"], THOMAS_LOGIN);
    assert_eq!(user["profile"]["displayName"], "Thomas Kinsella");
    let (limit, remaining, reset) = rate_limit_headers(&by_id);
    assert_eq!((limit, remaining), (600, 599));
    assert!(reset > jiff::Timestamp::now().as_second());

    let by_login = okta(
        &sims,
        reqwest::Method::GET,
        "/api/v1/users/thomaskinsella%40tines.io",
    )
    .await;
    assert_eq!(by_login.json()["id"], THOMAS_ID);
    let missing = okta(
        &sims,
        reqwest::Method::GET,
        "/api/v1/users/nobody%40example.com",
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["errorCode"], "E0000007");
    rate_limit_headers(&missing);
    sims.shutdown().await;
}

#[tokio::test]
async fn suspending_twice_is_refused_with_e0000001_and_unsuspend_restores() {
    let sims = start(calm_seed()).await;
    let suspend = format!("/api/v1/users/{THOMAS_ID}/lifecycle/suspend");
    let first = okta(&sims, reqwest::Method::POST, &suspend).await;
    assert_eq!((first.status, first.body.as_str()), (200, ""));
    assert!(rate_limit_headers(&first).0 > 0);
    assert_eq!(
        sims.okta_user(THOMAS_ID).unwrap().status,
        OktaStatus::Suspended
    );

    let second = okta(&sims, reqwest::Method::POST, &suspend).await;
    assert_eq!(second.status, 400);
    assert_eq!(
        without_error_id(second.json()),
        without_error_id(fixture(NOT_ACTIVE))
    );
    assert!(rate_limit_headers(&second).0 > 0);

    let by_login = format!("/api/v1/users/{THOMAS_LOGIN}/lifecycle/unsuspend");
    let unsuspend = okta(&sims, reqwest::Method::POST, &by_login).await;
    assert_eq!((unsuspend.status, unsuspend.body.as_str()), (200, ""));
    assert_eq!(
        sims.okta_user(THOMAS_LOGIN).unwrap().status,
        OktaStatus::Active
    );
    let again = okta(&sims, reqwest::Method::POST, &by_login).await;
    assert_eq!(
        (again.status, again.json()["errorCode"].clone()),
        (400, json!("E0000001"))
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn sessions_are_cleared_by_id_only() {
    let sims = start(calm_seed()).await;
    let by_id = format!("/api/v1/users/{THOMAS_ID}/sessions?oauthTokens=true");
    let cleared = okta(&sims, reqwest::Method::DELETE, &by_id).await;
    assert_eq!((cleared.status, cleared.body.as_str()), (204, ""));
    let by_login = format!("/api/v1/users/{THOMAS_LOGIN}/sessions?oauthTokens=true");
    let refused = okta(&sims, reqwest::Method::DELETE, &by_login).await;
    assert_eq!(
        (refused.status, refused.json()["errorCode"].clone()),
        (404, json!("E0000007"))
    );
    okta(
        &sims,
        reqwest::Method::DELETE,
        &format!("/api/v1/users/{THOMAS_ID}/sessions"),
    )
    .await;
    let thomas = sims.okta_user(THOMAS_ID).unwrap();
    assert_eq!(
        (thomas.sessions_cleared, thomas.oauth_tokens_revoked),
        (2, 1)
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn expiring_a_password_answers_the_user() {
    let sims = start(calm_seed()).await;
    let path = format!("/api/v1/users/{THOMAS_ID}/lifecycle/expire_password");
    let reply = okta(&sims, reqwest::Method::POST, &path).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "PASSWORD_EXPIRED");
    assert_eq!(
        sims.okta_user(THOMAS_ID).unwrap().status,
        OktaStatus::PasswordExpired
    );
    // Suspend is for ACTIVE users only.
    let suspend = format!("/api/v1/users/{THOMAS_ID}/lifecycle/suspend");
    assert_eq!(
        okta(&sims, reqwest::Method::POST, &suspend).await.status,
        400
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_or_scheme_is_refused_with_e0000011_and_rate_headers() {
    let sims = start(calm_seed()).await;
    let url = format!("{}/api/v1/users/{THOMAS_ID}", sims.base_url(Vendor::Okta));
    for authorization in ["SSWS wrong", &format!("Bearer {OKTA_API_TOKEN}")] {
        let reply = send(client().get(&url).header("authorization", authorization)).await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json()["errorCode"], "E0000011");
        assert_eq!(reply.json()["errorSummary"], "Invalid token provided");
        rate_limit_headers(&reply);
    }
    let anonymous = send(client().get(&url)).await;
    assert_eq!(anonymous.status, 401);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_spent_budget_answers_429_e0000047() {
    let scenario = Scenario {
        okta_rate_limit: 2,
        people: vec![Person::new("Sam", "Lee", "sam@example.com").in_okta("00usam")],
        ..calm_seed()
    };
    let sims = start(scenario).await;
    // Five requests: even if a minute turns over among them, one window sees a third.
    let mut limited = None;
    for _ in 0..5 {
        let reply = okta(&sims, reqwest::Method::GET, "/api/v1/users/sam").await;
        if reply.status == 429 {
            limited = Some(reply);
            break;
        }
    }
    let limited = limited.expect("a 429 within five requests");
    assert_eq!(limited.json()["errorCode"], "E0000047");
    let (limit, remaining, _) = rate_limit_headers(&limited);
    assert_eq!((limit, remaining), (2, 0));
    sims.shutdown().await;
}
