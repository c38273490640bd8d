//! Okta Management API simulator: users by id, login or login shortname; the lifecycle state
//! machine of `external-apis.md` §5.2 (suspend only from `ACTIVE`, else 400 `E0000001`);
//! clearing sessions (by id only); `SSWS` auth; `X-Rate-Limit-*` headers on every response from
//! a per-minute budget, 429 `E0000047` once it is spent.

use super::fixtures;
use super::scenario::{OktaStatus, Scenario};
use super::server::{authorization, json, lock};
use super::OKTA_API_TOKEN;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use jiff::Timestamp;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// An Okta user as the simulator holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OktaUser {
    /// `00u…`.
    pub id: String,
    /// The login (the email).
    pub login: String,
    /// Current status.
    pub status: OktaStatus,
    /// How many times its sessions were cleared.
    pub sessions_cleared: u32,
    /// How many of those also revoked OAuth tokens (`oauthTokens=true`).
    pub oauth_tokens_revoked: u32,
}

pub(super) struct Okta {
    origin: String,
    rate_limit: u32,
    state: Mutex<Directory>,
}

struct Directory {
    users: Vec<Account>,
    /// The minute (epoch seconds / 60) the budget is counted in, and requests counted in it.
    window: i64,
    used: u32,
}

struct Account {
    user: OktaUser,
    first_name: String,
    last_name: String,
    email: String,
    status_changed: Timestamp,
}

impl Okta {
    pub(super) fn new(scenario: &Scenario, origin: &str) -> Okta {
        let users = scenario
            .people
            .iter()
            .filter_map(|person| {
                Some(Account {
                    user: OktaUser {
                        id: person.okta_id.clone()?,
                        login: person.email.clone(),
                        status: person.okta_status,
                        sessions_cleared: 0,
                        oauth_tokens_revoked: 0,
                    },
                    first_name: person.first_name.clone(),
                    last_name: person.last_name.clone(),
                    email: person.email.clone(),
                    status_changed: Timestamp::now(),
                })
            })
            .collect();
        Okta {
            origin: origin.to_string(),
            rate_limit: scenario.okta_rate_limit,
            state: Mutex::new(Directory {
                users,
                window: 0,
                used: 0,
            }),
        }
    }

    pub(super) fn users(&self) -> Vec<OktaUser> {
        lock(&self.state)
            .users
            .iter()
            .map(|a| a.user.clone())
            .collect()
    }

    pub(super) fn user(&self, id_or_login: &str) -> Option<OktaUser> {
        let state = lock(&self.state);
        find(&state.users, id_or_login).map(|i| state.users[i].user.clone())
    }

    /// Counts a request against this minute's budget: the rate-limit headers to send, and
    /// whether the request may proceed.
    fn admit(&self) -> ([(&'static str, i64); 3], bool) {
        let now = Timestamp::now().as_second();
        let mut state = lock(&self.state);
        if state.window != now / 60 {
            state.window = now / 60;
            state.used = 0;
        }
        let allowed = state.used < self.rate_limit;
        if allowed {
            state.used += 1;
        }
        let headers = [
            ("x-rate-limit-limit", i64::from(self.rate_limit)),
            (
                "x-rate-limit-remaining",
                i64::from(self.rate_limit - state.used),
            ),
            ("x-rate-limit-reset", (state.window + 1) * 60),
        ];
        (headers, allowed)
    }

    fn user_json(&self, account: &Account) -> Value {
        let mut user = fixtures::json(fixtures::OKTA_USER);
        let id = &account.user.id;
        user["id"] = json!(id);
        user["status"] = json!(account.user.status.as_str());
        user["statusChanged"] = json!(format!("{:.3}", account.status_changed));
        user["lastUpdated"] = json!(format!("{:.3}", account.status_changed));
        // The fixture's profile is someone else's; keep only what the scenario says.
        user["profile"] = json!({
            "login": account.user.login,
            "firstName": account.first_name,
            "lastName": account.last_name,
            "email": account.email,
            "displayName": format!("{} {}", account.first_name, account.last_name),
        });
        user["_links"]["self"]["href"] = json!(format!("{}/api/v1/users/{id}", self.origin));
        user
    }
}

pub(super) fn router(okta: Arc<Okta>) -> Router {
    Router::new()
        .route("/api/v1/users/{id}", get(get_user))
        .route("/api/v1/users/{id}/lifecycle/{operation}", post(lifecycle))
        .route("/api/v1/users/{id}/sessions", delete(clear_sessions))
        .layer(axum::middleware::from_fn_with_state(okta.clone(), guard))
        .with_state(okta)
}

/// Rate limit, then `SSWS` auth; rate-limit headers on whatever is answered.
async fn guard(State(okta): State<Arc<Okta>>, request: Request, next: Next) -> Response {
    let (headers, allowed) = okta.admit();
    let mut response = if !allowed {
        let mut body = fixtures::json(fixtures::OKTA_RATE_LIMITED);
        body["errorId"] = json!(error_id());
        json(StatusCode::TOO_MANY_REQUESTS, body)
    } else if authorization(request.headers(), "SSWS") != Some(OKTA_API_TOKEN) {
        error(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
            &[],
        )
    } else {
        next.run(request).await
    };
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(name, HeaderValue::from(value));
    }
    response
}

async fn get_user(State(okta): State<Arc<Okta>>, Path(id): Path<String>) -> Response {
    let state = lock(&okta.state);
    match find(&state.users, &id) {
        Some(i) => json(StatusCode::OK, okta.user_json(&state.users[i])),
        None => not_found(&id),
    }
}

async fn lifecycle(
    State(okta): State<Arc<Okta>>,
    Path((id, operation)): Path<(String, String)>,
) -> Response {
    use OktaStatus::*;
    let mut state = lock(&okta.state);
    let Some(i) = find(&state.users, &id) else {
        return not_found(&id);
    };
    let account = &mut state.users[i];
    let from = account.user.status;
    let to = match (operation.as_str(), from) {
        ("suspend", Active) => Suspended,
        ("suspend", _) => {
            let mut body = fixtures::json(fixtures::OKTA_NOT_ACTIVE);
            body["errorId"] = json!(error_id());
            return json(StatusCode::BAD_REQUEST, body);
        }
        ("unsuspend", Suspended) => Active,
        ("unlock", LockedOut | Active) => Active,
        ("expire_password", Active | PasswordExpired) => PasswordExpired,
        ("unsuspend" | "unlock" | "expire_password", _) => {
            let cause = format!(
                "Cannot {} a user whose status is {}",
                operation,
                from.as_str()
            );
            let summary = format!("Api validation failed: {operation}");
            return error(StatusCode::BAD_REQUEST, "E0000001", &summary, &[&cause]);
        }
        _ => return not_found(&format!("lifecycle/{operation}")),
    };
    if to != from {
        account.user.status = to;
        account.status_changed = Timestamp::now();
    }
    // Only expire_password answers with the user; the others with 200 and no body.
    if operation == "expire_password" {
        json(StatusCode::OK, okta.user_json(account))
    } else {
        StatusCode::OK.into_response()
    }
}

async fn clear_sessions(
    State(okta): State<Arc<Okta>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut state = lock(&okta.state);
    // Sessions are addressed by id only; a login is not found.
    let Some(account) = state.users.iter_mut().find(|a| a.user.id == id) else {
        return not_found(&id);
    };
    account.user.sessions_cleared += 1;
    if query.get("oauthTokens").is_some_and(|v| v == "true") {
        account.user.oauth_tokens_revoked += 1;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// The user an id, login (case-insensitive) or unambiguous login shortname names.
fn find(users: &[Account], key: &str) -> Option<usize> {
    if let Some(i) = users.iter().position(|a| a.user.id == key) {
        return Some(i);
    }
    if let Some(i) = users
        .iter()
        .position(|a| a.user.login.eq_ignore_ascii_case(key))
    {
        return Some(i);
    }
    let shortname = |a: &Account| {
        a.user
            .login
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let mut matches = (0..users.len()).filter(|&i| shortname(&users[i]).eq_ignore_ascii_case(key));
    match (matches.next(), matches.next()) {
        (Some(i), None) => Some(i),
        _ => None,
    }
}

fn not_found(what: &str) -> Response {
    let summary = format!("Not found: Resource not found: {what} (User)");
    error(StatusCode::NOT_FOUND, "E0000007", &summary, &[])
}

fn error(status: StatusCode, code: &str, summary: &str, causes: &[&str]) -> Response {
    let causes: Vec<Value> = causes.iter().map(|c| json!({"errorSummary": c})).collect();
    json(
        status,
        json!({
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": error_id(),
            "errorCauses": causes,
        }),
    )
}

/// Okta gives every error its own id, for support.
fn error_id() -> String {
    let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(22)
        .collect();
    format!("oae{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Person;

    fn okta(people: Vec<Person>) -> Okta {
        let scenario = Scenario {
            people,
            ..Scenario::seed()
        };
        Okta::new(&scenario, "http://sim")
    }

    #[test]
    fn users_are_found_by_id_login_or_unambiguous_shortname() {
        let okta = okta(vec![
            Person::new("Ann", "A", "ann@a.example").in_okta("00uA"),
            Person::new("Ann", "B", "ann@b.example").in_okta("00uB"),
            Person::new("Bob", "B", "bob@b.example").in_okta("00uC"),
        ]);
        assert_eq!(okta.user("00uB").unwrap().login, "ann@b.example");
        assert_eq!(okta.user("ANN@A.example").unwrap().id, "00uA");
        assert_eq!(okta.user("bob").unwrap().id, "00uC");
        assert_eq!(okta.user("ann"), None);
    }

    #[test]
    fn people_without_an_okta_id_are_not_in_okta() {
        let okta = okta(vec![
            Person::new("Sam", "S", "sam@example.com").in_slack("U1")
        ]);
        assert!(okta.users().is_empty());
    }

    #[test]
    fn the_budget_runs_out_within_a_minute() {
        let okta = Okta::new(
            &Scenario {
                okta_rate_limit: 2,
                ..Scenario::seed()
            },
            "http://sim",
        );
        let (headers, allowed) = okta.admit();
        assert!(allowed);
        assert_eq!(headers[1], ("x-rate-limit-remaining", 1));
        assert!(okta.admit().1);
        // The minute could roll over between calls; then the budget is fresh, as in Okta.
        let (headers, allowed) = okta.admit();
        assert!(!allowed || headers[1].1 == 1);
    }
}
