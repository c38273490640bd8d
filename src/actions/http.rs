//! `http_request` (and every integration template's request): render, send, read, classify.
//! The status → retriable/permanent/misconfigured mapping lives here and nowhere else.

use super::{render_dynamic, render_text, Error};
use crate::clock::Clock;
use crate::http_client::HttpClients;
use crate::run::Millis;
use crate::story::kinds::http_request::{ContentType, HttpMethod, ResponseFormat};
use crate::story::kinds::HttpRequestOptions;
use crate::story::value::StatusList;
use crate::template::Context;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use std::time::Duration;

/// Default time for the whole exchange.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default attempts in all.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Largest response body kept; larger bodies fail the step rather than fill the store.
const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;
/// The longest `Retry-After` honoured; a longer one is a vendor asking for a day off.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);
/// The header that lets a receiver tell a retry from a new call.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Attempts allowed for a request, the first included.
pub fn max_attempts(options: &HttpRequestOptions) -> u32 {
    options
        .max_attempts
        .as_ref()
        .map_or(DEFAULT_MAX_ATTEMPTS, |a| a.value.max(1))
}

/// Sends the request `options` describes, rendered in `ctx`, and returns the event
/// `{status, headers, body}`. `idempotency_key` is sent as `Idempotency-Key` unless the request
/// sets its own; it is the same on every attempt of a step.
pub async fn send(
    clients: &HttpClients,
    clock: &dyn Clock,
    options: &HttpRequestOptions,
    ctx: &Context,
    idempotency_key: &str,
) -> Result<Value, Error> {
    let request = build(clients, options, ctx, idempotency_key)?;
    let retry_on = options.retry_on_status.as_ref();
    let response = match clients.send(request).await {
        Ok(response) => response,
        // The destination is not allowed: no retry reaches it, and the operator decides.
        Err(crate::http_client::Error::Refused(refused)) => {
            return Err(Error::Misconfigured {
                message: format!("request refused: {refused}"),
            })
        }
        Err(crate::http_client::Error::Request(error)) => {
            let message = format!("request failed: {}", error.without_url());
            return Err(if retries(retry_on, 0) {
                Error::Retriable {
                    message,
                    retry_after: None,
                    details: None,
                }
            } else {
                Error::permanent(message)
            });
        }
    };
    let status = response.status().as_u16();
    let headers = headers_json(response.headers());
    let retry_after = retry_after(response.headers(), clock.now());
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let bytes = read_limited(response).await?;
    let body = parse_body(&bytes, options.response, is_json)?;
    classify(
        options,
        status,
        retry_after,
        response_event(status, headers, body),
    )
}

/// The event of a response: `{status, headers, body}` (`headers` as from [`headers_json`]).
pub fn response_event(status: u16, headers: Value, body: Value) -> Value {
    let mut event = Map::new();
    event.insert("status".into(), status.into());
    event.insert("headers".into(), headers);
    event.insert("body".into(), body);
    Value::Object(event)
}

/// Decides what a response means: the event, or the failure class.
pub fn classify(
    options: &HttpRequestOptions,
    status: u16,
    retry_after: Option<Duration>,
    event: Value,
) -> Result<Value, Error> {
    let success = match &options.success_status {
        Some(list) => list.contains(status),
        None => (200..300).contains(&status),
    };
    if success {
        return Ok(event);
    }
    let message = format!("HTTP {status}");
    if retries(options.retry_on_status.as_ref(), status) {
        return Err(Error::Retriable {
            message,
            retry_after,
            details: Some(event),
        });
    }
    if matches!(status, 401 | 403) {
        return Err(Error::Misconfigured {
            message: format!("{message}: the credential was refused; check it and its scopes"),
        });
    }
    Err(Error::Permanent {
        message,
        details: Some(event),
    })
}

/// Whether `status` (0 = no response) is retried: `[0, 429, 500-599]` unless the action says.
fn retries(list: Option<&StatusList>, status: u16) -> bool {
    match list {
        Some(list) => list.contains(status),
        None => status == 0 || status == 429 || (500..600).contains(&status),
    }
}

fn build(
    clients: &HttpClients,
    options: &HttpRequestOptions,
    ctx: &Context,
    idempotency_key: &str,
) -> Result<reqwest::RequestBuilder, Error> {
    let url_text = render_text("url", &options.url, ctx)?;
    let mut url = reqwest::Url::parse(&url_text)
        .map_err(|e| Error::permanent(format!("`url` is not a valid URL ({e}): `{url_text}`")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::permanent(format!(
            "`url` must be http or https, not `{}`",
            url.scheme()
        )));
    }
    if let Some(query) = &options.query {
        let mut pairs = url.query_pairs_mut();
        for (key, value) in query.iter() {
            match render_dynamic("query", value, ctx)? {
                Value::Null => {}
                Value::Array(items) => {
                    for item in items {
                        pairs.append_pair(&key.value, &text_of(&item));
                    }
                }
                other => {
                    pairs.append_pair(&key.value, &text_of(&other));
                }
            }
        }
    }
    let method = match options.method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
        HttpMethod::Delete => reqwest::Method::DELETE,
        HttpMethod::Head => reqwest::Method::HEAD,
    };
    let follow = options.follow_redirects.unwrap_or(true);
    let mut headers = HeaderMap::new();
    for (name, value) in options.headers.iter().flat_map(|h| h.iter()) {
        let header = HeaderName::from_bytes(name.value.as_bytes()).map_err(|_| {
            Error::permanent(format!("`{}` is not a valid header name", name.value))
        })?;
        let text = render_text("headers", value, ctx)?;
        // The value may hold a credential: say which header, never what it held.
        let value = HeaderValue::from_str(&text).map_err(|_| {
            Error::permanent(format!(
                "header `{}` renders to an invalid value",
                name.value
            ))
        })?;
        headers.insert(header, value);
    }
    if !headers.contains_key(IDEMPOTENCY_HEADER) {
        if let Ok(value) = HeaderValue::from_str(idempotency_key) {
            headers.insert(IDEMPOTENCY_HEADER, value);
        }
    }
    let mut request = clients
        .for_redirects(follow)
        .request(method, url)
        .timeout(options.timeout.map_or(DEFAULT_TIMEOUT, |t| t.value))
        .headers(headers);
    if let Some(auth) = &options.basic_auth {
        let user = render_text("basic_auth", &auth.username, ctx)?;
        let password = render_text("basic_auth", &auth.password, ctx)?;
        request = request.basic_auth(user, Some(password));
    }
    if let Some(token) = &options.bearer_token {
        request = request.bearer_auth(render_text("bearer_token", token, ctx)?);
    }
    if let Some(body) = &options.body {
        let body = render_dynamic("body", body, ctx)?;
        request = match options.content_type {
            ContentType::Json => request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string()),
            ContentType::Form => {
                let Value::Object(fields) = &body else {
                    return Err(Error::permanent(
                        "`body` must be a mapping with `content_type: form`",
                    ));
                };
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (key, value) in fields {
                    form.append_pair(key, &text_of(value));
                }
                request
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(form.finish())
            }
            ContentType::Text => request
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(text_of(&body)),
        };
    }
    Ok(request)
}

/// A value as request text: strings as they are, everything else as JSON.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Response headers as a JSON object, names lowercase; a repeated header's values joined with
/// `, `.
pub fn headers_json(headers: &HeaderMap) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match out.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                out.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    Value::Object(out)
}

/// `Retry-After` as seconds or an HTTP date, capped.
fn retry_after(headers: &HeaderMap, now: Millis) -> Option<Duration> {
    let text = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let wait = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = jiff::fmt::rfc2822::parse(text).ok()?.timestamp();
            let wait = at.as_millisecond().saturating_sub(now);
            Duration::from_millis(u64::try_from(wait).unwrap_or(0))
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| Error::Retriable {
        message: format!("reading the response failed: {}", e.without_url()),
        retry_after: None,
        details: None,
    })? {
        if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(Error::permanent(format!(
                "the response is larger than {} MiB",
                MAX_RESPONSE_BYTES / (1024 * 1024)
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The response body as the event holds it: JSON when `format` says so (or, for `auto`, when
/// the content type is JSON), else text.
pub fn parse_body(bytes: &[u8], format: ResponseFormat, is_json: bool) -> Result<Value, Error> {
    let text = || String::from_utf8_lossy(bytes).into_owned();
    match format {
        ResponseFormat::Text => Ok(Value::String(text())),
        ResponseFormat::Json => serde_json::from_slice(bytes)
            .map_err(|e| Error::permanent(format!("the response is not JSON: {e}"))),
        ResponseFormat::Auto if is_json && !bytes.is_empty() => {
            Ok(serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(text())))
        }
        ResponseFormat::Auto => Ok(Value::String(text())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn retry_after_reads_seconds_and_caps_long_waits() {
        // 1994-11-06T08:49:37Z, less 10 s.
        let now = 784_111_777_000 - 10_000;
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "999999")]), now),
            Some(MAX_RETRY_AFTER)
        );
        let date = headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        assert_eq!(retry_after(&date, now), Some(Duration::from_secs(10)));
        assert_eq!(retry_after(&date, now + 60_000), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers(&[]), now), None);
    }

    #[test]
    fn default_retry_statuses_are_timeouts_429_and_5xx() {
        assert!(retries(None, 0));
        assert!(retries(None, 429));
        assert!(retries(None, 503));
        assert!(!retries(None, 400));
        assert!(!retries(None, 404));
    }

    #[test]
    fn repeated_response_headers_are_joined() {
        let json = headers_json(&headers(&[("set-cookie", "a=1"), ("set-cookie", "b=2")]));
        assert_eq!(json["set-cookie"], "a=1, b=2");
    }

    #[test]
    fn auto_bodies_fall_back_to_text_when_json_is_broken() {
        assert_eq!(
            parse_body(b"{\"a\":1}", ResponseFormat::Auto, true).unwrap(),
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            parse_body(b"{oops", ResponseFormat::Auto, true).unwrap(),
            Value::String("{oops".into())
        );
        assert!(parse_body(b"{oops", ResponseFormat::Json, true).is_err());
    }
}
