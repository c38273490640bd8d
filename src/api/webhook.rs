//! `POST /webhook/{path}/{secret}`: authenticate, parse, and commit a new run before answering
//! 202. A malformed or unauthenticated request gets a 4xx and creates nothing.

use super::{ApiError, AppState};
use crate::escape::Escaped;
use crate::secrets::Secret;
use crate::store::{RunCreated, Runs};
use crate::story::kinds::webhook::{
    HmacAlgorithm, SignatureCheck, SignatureEncoding, WebhookMethod,
};
use crate::story::kinds::WebhookOptions;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};

/// The largest body any webhook may accept (`max_body_bytes` is validated against it).
pub const MAX_BODY_CEILING: usize = 32 * 1024 * 1024;
const DEFAULT_MAX_BODY: u64 = 1024 * 1024;
/// Request headers never stored in the run's event.
const DROPPED_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

pub(super) async fn receive(
    State(state): State<AppState>,
    Path((path, secret)): Path<(String, String)>,
    request: Request,
) -> Response {
    match accept(&state, &path, &secret, request).await {
        Ok(response) => response,
        Err(error) => {
            if error.status.is_client_error() {
                state.engine.metrics.webhook_rejected();
                tracing::info!(
                    webhook = %Escaped(&path),
                    code = error.code,
                    "Webhook request refused."
                );
            }
            error.into_response()
        }
    }
}

async fn accept(
    state: &AppState,
    path: &str,
    secret: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let engine = &state.engine;
    let (story, index) = engine.stories.webhook(path).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no webhook at `{path}`"),
        )
    })?;
    if let Some(missing) = engine.not_ready(&story.id) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            missing.to_owned(),
        ));
    }
    let action = &story.actions[index];
    let crate::story::kinds::ActionConfig::Webhook(options) = &action.config else {
        return Err(ApiError::internal(
            "webhook lookup returned a non-webhook action",
        ));
    };
    let expected = credential(state, &options.secret_credential.value)?;
    if !expected.matches(secret.as_bytes()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the secret in the webhook URL is wrong",
        ));
    }
    let method = request.method().clone();
    check_method(options, &method)?;
    let limit = options
        .max_body_bytes
        .as_ref()
        .map_or(DEFAULT_MAX_BODY, |m| m.value)
        .min(MAX_BODY_CEILING as u64) as usize;
    let (parts, body) = request.into_parts();
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than this webhook's limit of {limit} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    check_secret_header(state, options, &parts.headers)?;
    if let Some(signature) = &options.signature {
        check_signature(state, signature, &parts.headers, &bytes)?;
    }
    let payload = event(
        &method,
        parts.uri.query(),
        &parts.headers,
        &bytes,
        options,
        secret,
    )?;
    let now = engine.clock.now();
    let run = crate::engine::entry::webhook_run(
        &story,
        index,
        payload,
        crate::engine::entry::Source::Http,
        &engine.secrets,
        now,
    );
    let created = engine
        .store
        .create_runs(std::slice::from_ref(&run), now)
        .await
        .map_err(ApiError::store)?
        .pop()
        .ok_or_else(|| ApiError::internal("the store created no run"))?;
    let duplicate = matches!(created, RunCreated::Duplicate(_));
    engine.metrics.run_created(duplicate);
    if !duplicate {
        engine.wake.notify_one();
        tracing::info!(run_id = created.run_id(), story = %story.id, "Run created.");
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"run_id": created.run_id(), "duplicate": duplicate})),
    )
        .into_response())
}

fn credential<'a>(state: &'a AppState, name: &str) -> Result<&'a Secret, ApiError> {
    state.engine.secrets.credential(name).ok_or_else(|| {
        tracing::error!(
            credential = name,
            "A webhook's secret credential is not configured; refusing its requests."
        );
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "misconfigured",
            "this webhook's secret is not configured on the server",
        )
    })
}

fn check_method(options: &WebhookOptions, method: &Method) -> Result<(), ApiError> {
    let allowed = options.methods.as_deref().unwrap_or(&[WebhookMethod::Post]);
    let ok = allowed.iter().any(|m| match m {
        WebhookMethod::Post => method == Method::POST,
        WebhookMethod::Put => method == Method::PUT,
        WebhookMethod::Get => method == Method::GET,
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this webhook does not accept {method}"),
        ))
    }
}

fn check_secret_header(
    state: &AppState,
    options: &WebhookOptions,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let Some(check) = &options.secret_header else {
        return Ok(());
    };
    let expected = credential(state, &check.credential.value)?;
    let given = headers
        .get(check.header.value.as_str())
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if expected.matches(given) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("the `{}` header is missing or wrong", check.header.value),
        ))
    }
}

fn check_signature(
    state: &AppState,
    check: &SignatureCheck,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), ApiError> {
    let key = credential(state, &check.credential.value)?;
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            format!(
                "the `{}` signature is missing or does not match the body",
                check.header.value
            ),
        )
    };
    let text = headers
        .get(check.header.value.as_str())
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refused)?
        .trim();
    let text = match &check.prefix {
        Some(prefix) => text.strip_prefix(prefix.as_str()).ok_or_else(refused)?,
        None => text,
    };
    let signature = match check.encoding {
        SignatureEncoding::Hex => decode_hex(text),
        SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.decode(text).ok(),
    }
    .ok_or_else(refused)?;
    let key = key.expose().as_bytes();
    let verified = match check.algorithm {
        HmacAlgorithm::Sha256 => Hmac::<sha2::Sha256>::new_from_slice(key)
            .map(|mut mac| {
                mac.update(body);
                mac.verify_slice(&signature).is_ok()
            })
            .unwrap_or(false),
        HmacAlgorithm::Sha1 => Hmac::<sha1::Sha1>::new_from_slice(key)
            .map(|mut mac| {
                mac.update(body);
                mac.verify_slice(&signature).is_ok()
            })
            .unwrap_or(false),
    };
    if verified {
        Ok(())
    } else {
        Err(refused())
    }
}

pub(super) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// JSON when the sender says so or the body looks like it; form fields as a mapping; else text.
/// The event a webhook action emits for an authenticated request: `body` (parsed by its
/// content type; the query for a GET), `headers` (without credentials, cookies, the secret header
/// and any header carrying the URL secret), `query` and `method`. A body that does not parse as
/// its content type says is a 400.
pub fn event(
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    bytes: &Bytes,
    options: &WebhookOptions,
    url_secret: &str,
) -> Result<Value, ApiError> {
    let query = query_json(query);
    let body = if method == Method::GET {
        query.clone()
    } else {
        parse_body(headers, bytes)?
    };
    Ok(json!({
        "body": body,
        "headers": headers_json(headers, options, url_secret),
        "query": query,
        "method": method.as_str(),
    }))
}

fn parse_body(headers: &HeaderMap, bytes: &Bytes) -> Result<Value, ApiError> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    let looks_json = matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    );
    // Senders often mislabel JSON (curl's default is a form type): a body that starts like JSON
    // is read as JSON unless it is declared plain text.
    if content_type.contains("json") || (looks_json && !content_type.starts_with("text/")) {
        return serde_json::from_slice(bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON: {e}"),
            )
            .with_details(json!({"line": e.line(), "column": e.column()}))
        });
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return Ok(query_json(std::str::from_utf8(bytes).ok()));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Value::String(text.to_owned())),
        Err(_) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_body",
            "the body is neither JSON, a form nor UTF-8 text",
        )),
    }
}

/// Form or query fields as a mapping (a repeated field keeps its last value).
fn query_json(query: Option<&str>) -> Value {
    let fields = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(key, value)| (key.into_owned(), Value::String(value.into_owned())))
        .collect::<Map<_, _>>();
    Value::Object(fields)
}

/// Request headers for the run's event, without credentials: auth and cookie headers, the
/// secret header, and any header that repeats the URL secret (proxies add `X-Original-URI`,
/// `Referer`…) are left out.
fn headers_json(headers: &HeaderMap, options: &WebhookOptions, url_secret: &str) -> Value {
    let secret_header = options
        .secret_header
        .as_ref()
        .map(|h| h.header.value.to_ascii_lowercase());
    let mut out = Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        let carries_secret =
            !url_secret.is_empty() && value.to_str().is_ok_and(|v| v.contains(url_secret));
        if DROPPED_HEADERS.contains(&name)
            || secret_header.as_deref() == Some(name)
            || carries_secret
        {
            continue;
        }
        out.insert(
            name.to_owned(),
            Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::decode_hex;

    #[test]
    fn hex_signatures_decode_in_either_case() {
        assert_eq!(decode_hex("0aFF"), Some(vec![10, 255]));
        assert_eq!(decode_hex("0g"), None);
        assert_eq!(decode_hex("abc"), None);
    }
}
