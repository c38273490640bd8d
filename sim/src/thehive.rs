//! TheHive 5 simulator: `POST /api/v1/case` and `POST /api/v1/case/{caseId}/observable` behind
//! a Bearer API key, answering `OutputCase` / a list of `OutputObservable` with 201, errors in
//! TheHive's `{"type","message"}` envelope. `POST /api/v1/query` answers the case search
//! thehive4py's `case.find` sends (`listCase`, then `filter` with `_field`/`_value` equality,
//! `_and`/`_or`/`_not` of those, and `page`); the spec does not document the query API, so this
//! follows thehive4py (`endpoints/case.py`, `query/filters.py`).

use super::fixtures;
use super::scenario::Scenario;
use super::server::{authorization, json, lock};
use super::THEHIVE_API_KEY;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use jiff::Timestamp;
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};

/// The first `_id` handed out; ids look like TheHive's (`~` and a number).
const FIRST_ID: u64 = 40_976_512;

/// A case as created, with its observables.
#[derive(Debug, Clone, PartialEq)]
pub struct TheHiveCase {
    /// `_id`, e.g. `~40976512`.
    pub id: String,
    /// `number`, counting from the scenario's first.
    pub number: u64,
    /// `title`.
    pub title: String,
    /// `severity` (1 low … 4 critical).
    pub severity: u64,
    /// `tags`.
    pub tags: Vec<String>,
    /// The whole `OutputCase` answered.
    pub case: Value,
    /// Every `OutputObservable` added, in order.
    pub observables: Vec<Value>,
}

pub(super) struct TheHive {
    state: Mutex<Cases>,
}

struct Cases {
    next_id: u64,
    next_number: u64,
    cases: Vec<TheHiveCase>,
    /// Creations still to answer with a 500 after the case was stored (a lost response).
    lost_responses: u32,
}

impl TheHive {
    pub(super) fn new(scenario: &Scenario) -> TheHive {
        TheHive {
            state: Mutex::new(Cases {
                next_id: FIRST_ID,
                next_number: scenario.thehive_first_case_number,
                cases: Vec::new(),
                lost_responses: scenario.thehive_lost_create_responses,
            }),
        }
    }

    pub(super) fn cases(&self) -> Vec<TheHiveCase> {
        lock(&self.state).cases.clone()
    }
}

impl Cases {
    fn take_id(&mut self) -> String {
        self.next_id += 1;
        format!("~{}", self.next_id - 1)
    }
}

pub(super) fn router(thehive: Arc<TheHive>) -> Router {
    Router::new()
        .route("/api/v1/case", post(create_case))
        .route("/api/v1/case/{case_id}/observable", post(create_observable))
        .route("/api/v1/query", post(query))
        .with_state(thehive)
}

async fn create_case(
    State(thehive): State<Arc<TheHive>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let input = match input(&headers, &body) {
        Ok(input) => input,
        Err(refusal) => return refusal.into_response(),
    };
    let now = Timestamp::now().as_millisecond();
    let fields = (|| {
        let title = input
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if title.is_empty() || title.chars().count() > 512 {
            return Err("title must be 1 to 512 characters".to_string());
        }
        let description = input
            .get("description")
            .and_then(Value::as_str)
            .ok_or("description is required")?;
        let severity = bounded(&input, "severity", 1, 4)?;
        let tlp = bounded(&input, "tlp", 0, 4)?;
        let pap = bounded(&input, "pap", 0, 3)?;
        let tags = strings(&input, "tags")?;
        Ok((
            title.to_string(),
            description.to_string(),
            severity,
            tlp,
            pap,
            tags,
        ))
    })();
    let (title, description, severity, tlp, pap, tags) = match fields {
        Ok(fields) => fields,
        Err(message) => return error(StatusCode::BAD_REQUEST, "BadRequest", &message),
    };
    let start = input
        .get("startDate")
        .and_then(Value::as_i64)
        .unwrap_or(now);
    let status = input.get("status").and_then(Value::as_str).unwrap_or("New");
    let mut state = lock(&thehive.state);
    let id = state.take_id();
    let number = state.next_number;
    state.next_number += 1;
    // The fixture gives the field set and order; every value is this request's.
    let mut case = fixtures::json(fixtures::HIVE_CASE);
    case["_id"] = json!(id);
    case["_createdAt"] = json!(now);
    case["number"] = json!(number);
    case["title"] = json!(title);
    case["description"] = json!(description);
    case["severity"] = json!(severity);
    case["severityLabel"] = json!(severity_label(severity));
    case["startDate"] = json!(start);
    case["tags"] = json!(tags);
    case["flag"] = json!(input.get("flag").and_then(Value::as_bool).unwrap_or(false));
    case["tlp"] = json!(tlp);
    case["tlpLabel"] = json!(tlp_label(tlp));
    case["pap"] = json!(pap);
    case["papLabel"] = json!(pap_label(pap));
    case["status"] = json!(status);
    case["stage"] = json!(match status {
        "New" | "InProgress" => status,
        _ => "Closed",
    });
    case["newDate"] = json!(now);
    case["timeToDetect"] = json!((now - start).max(0));
    for optional in ["summary", "assignee"] {
        if let Some(value) = input.get(optional).filter(|v| v.is_string()) {
            case[optional] = value.clone();
        }
    }
    state.cases.push(TheHiveCase {
        id,
        number,
        title,
        severity,
        tags,
        case: case.clone(),
        observables: Vec::new(),
    });
    if state.lost_responses > 0 {
        state.lost_responses -= 1;
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "GenericError",
            "simulated: the case was stored but the response was lost",
        );
    }
    json(StatusCode::CREATED, case)
}

/// `POST /api/v1/query`: a `listCase` query, optionally filtered and paged, answered with the
/// matching `OutputCase`s in creation order.
async fn query(State(thehive): State<Arc<TheHive>>, headers: HeaderMap, body: Bytes) -> Response {
    let input = match input(&headers, &body) {
        Ok(input) => input,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(Value::Array(operations)) = input.get("query") else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "query must be a list",
        );
    };
    let name = |op: &Value| op["_name"].as_str().unwrap_or_default().to_string();
    if operations.first().map(name).as_deref() != Some("listCase") {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the simulator answers only queries starting with listCase",
        );
    }
    let state = lock(&thehive.state);
    let mut found: Vec<&Value> = state.cases.iter().map(|c| &c.case).collect();
    for op in &operations[1..] {
        match name(op).as_str() {
            "filter" => match filter_matches(op) {
                Ok(test) => found.retain(|case| test(case)),
                Err(message) => return error(StatusCode::BAD_REQUEST, "BadRequest", &message),
            },
            "page" => {
                let bound = |key: &str| op[key].as_u64().unwrap_or(0) as usize;
                let (from, to) = (bound("from"), bound("to"));
                found = found
                    .into_iter()
                    .skip(from)
                    .take(to.saturating_sub(from))
                    .collect();
            }
            other => {
                let message = format!("the simulator does not answer query operation `{other}`");
                return error(StatusCode::BAD_REQUEST, "BadRequest", &message);
            }
        }
    }
    json(
        StatusCode::OK,
        Value::Array(found.into_iter().cloned().collect()),
    )
}

type CaseTest = Box<dyn Fn(&Value) -> bool>;

/// A filter expression as a test on a case: `{_field, _value}` (equality; a list field matches
/// when one of its items is equal), and `_and`, `_or`, `_not` of expressions.
fn filter_matches(expr: &Value) -> Result<CaseTest, String> {
    if let Some(field) = expr.get("_field").and_then(Value::as_str) {
        let (field, value) = (field.to_string(), expr["_value"].clone());
        return Ok(Box::new(move |case| match &case[&field] {
            Value::Array(items) => items.contains(&value),
            other => *other == value,
        }));
    }
    let all = |key: &str| -> Result<Vec<CaseTest>, String> {
        let items = expr[key]
            .as_array()
            .ok_or(format!("{key} must be a list"))?;
        items.iter().map(filter_matches).collect()
    };
    if expr.get("_and").is_some() {
        let tests = all("_and")?;
        return Ok(Box::new(move |case| tests.iter().all(|t| t(case))));
    }
    if expr.get("_or").is_some() {
        let tests = all("_or")?;
        return Ok(Box::new(move |case| tests.iter().any(|t| t(case))));
    }
    if let Some(inner) = expr.get("_not") {
        let test = filter_matches(inner)?;
        return Ok(Box::new(move |case| !test(case)));
    }
    Err("the simulator answers only _field/_value, _and, _or and _not filters".to_string())
}

async fn create_observable(
    State(thehive): State<Arc<TheHive>>,
    headers: HeaderMap,
    Path(case_id): Path<String>,
    body: Bytes,
) -> Response {
    let input = match input(&headers, &body) {
        Ok(input) => input,
        Err(refusal) => return refusal.into_response(),
    };
    let mut state = lock(&thehive.state);
    // caseId is the _id or the number.
    let Some(index) = state
        .cases
        .iter()
        .position(|c| c.id == case_id || c.number.to_string() == case_id)
    else {
        let message = format!("Case {case_id} not found");
        return error(StatusCode::NOT_FOUND, "NotFoundError", &message);
    };
    let fields = (|| {
        let data_type = input
            .get("dataType")
            .and_then(Value::as_str)
            .ok_or("dataType is required")?;
        // `data` may be one string or a list (bulk creation).
        let data = match input.get("data") {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(_)) => strings(&input, "data")?,
            _ => return Err("data must be a string or a list of strings".to_string()),
        };
        Ok((
            data_type.to_string(),
            data,
            bounded(&input, "tlp", 0, 4)?,
            bounded(&input, "pap", 0, 3)?,
            strings(&input, "tags")?,
        ))
    })();
    let (data_type, data, tlp, pap, tags) = match fields {
        Ok(fields) => fields,
        Err(message) => return error(StatusCode::BAD_REQUEST, "BadRequest", &message),
    };
    let now = Timestamp::now().as_millisecond();
    let flag = |name: &str| input.get(name).and_then(Value::as_bool).unwrap_or(false);
    let template = fixtures::json(fixtures::HIVE_OBSERVABLES)[0].clone();
    let mut created = Vec::new();
    for value in data {
        let mut observable = template.clone();
        observable["_id"] = json!(state.take_id());
        observable["_createdAt"] = json!(now);
        observable["dataType"] = json!(data_type);
        observable["data"] = json!(value);
        observable["startDate"] = json!(now);
        observable["tlp"] = json!(tlp);
        observable["tlpLabel"] = json!(tlp_label(tlp));
        observable["pap"] = json!(pap);
        observable["papLabel"] = json!(pap_label(pap));
        observable["tags"] = json!(tags);
        observable["ioc"] = json!(flag("ioc"));
        observable["sighted"] = json!(flag("sighted"));
        observable["ignoreSimilarity"] = json!(flag("ignoreSimilarity"));
        if let Some(message) = input.get("message").and_then(Value::as_str) {
            if !message.is_empty() {
                observable["message"] = json!(message);
            }
        }
        created.push(observable);
    }
    state.cases[index]
        .observables
        .extend(created.iter().cloned());
    json(StatusCode::CREATED, Value::Array(created))
}

/// Why a request is refused before its fields are read.
enum Refusal {
    Unauthenticated,
    NotAnObject,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthenticated => json(
                StatusCode::UNAUTHORIZED,
                fixtures::json(fixtures::HIVE_UNAUTHORIZED),
            ),
            Refusal::NotAnObject => error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "The body must be a JSON object",
            ),
        }
    }
}

/// The request's JSON object, once the API key checks out.
fn input(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    if authorization(headers, "Bearer") != Some(THEHIVE_API_KEY) {
        return Err(Refusal::Unauthenticated);
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(input)) => Ok(input),
        _ => Err(Refusal::NotAnObject),
    }
}

/// An optional integer field in `low..=high`, TheHive's default (2) when absent.
fn bounded(input: &Map<String, Value>, name: &str, low: u64, high: u64) -> Result<u64, String> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(2),
        Some(value) => value
            .as_u64()
            .filter(|n| (low..=high).contains(n))
            .ok_or_else(|| format!("{name} must be an integer from {low} to {high}")),
    }
}

/// An optional list of strings.
fn strings(input: &Map<String, Value>, name: &str) -> Result<Vec<String>, String> {
    let items = match input.get(name) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(format!("{name} must be a list of strings")),
    };
    items
        .iter()
        .map(|item| item.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("{name} must be a list of strings"))
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    json(status, json!({"type": kind, "message": message}))
}

// Verified labels: severity 3 HIGH, tlp 2 AMBER, pap 1 GREEN, pap 2 AMBER (docs.strangebee.com);
// the rest follow TLP 2.0 / PAP naming.
fn severity_label(severity: u64) -> &'static str {
    ["LOW", "MEDIUM", "HIGH", "CRITICAL"][(severity.clamp(1, 4) - 1) as usize]
}

fn tlp_label(tlp: u64) -> &'static str {
    ["WHITE", "GREEN", "AMBER", "AMBER+STRICT", "RED"][tlp.min(4) as usize]
}

fn pap_label(pap: u64) -> &'static str {
    ["WHITE", "GREEN", "AMBER", "RED"][pap.min(3) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_the_documented_ones() {
        assert_eq!(severity_label(3), "HIGH");
        assert_eq!(tlp_label(2), "AMBER");
        assert_eq!(pap_label(1), "GREEN");
        assert_eq!(pap_label(2), "AMBER");
    }

    #[test]
    fn absent_levels_default_to_two_and_out_of_range_ones_are_refused() {
        let input = json!({"severity": 5}).as_object().unwrap().clone();
        assert_eq!(bounded(&input, "tlp", 0, 4), Ok(2));
        assert!(bounded(&input, "severity", 1, 4).is_err());
    }
}
