//! `POST /slack/interactions`: Slack's signed button clicks answer prompts.
//!
//! The request is verified before anything is read from it (v0 HMAC-SHA256 over the raw body,
//! a 5-minute replay window, constant-time comparison). The answer is recorded once, with the
//! waiting step made due in the same transaction; Slack gets its 200 at once, and the message is
//! replaced with the outcome through the click's `response_url` in the background (Slack allows
//! 3 seconds for the answer).

use super::{ApiError, AppState};
use crate::actions::slack::{respond, SIGNING_SECRET_CREDENTIAL};
use crate::engine::operate::{self, Answer};
use crate::escape::Escaped;
use crate::run::AnsweredVia;
use crate::store::PromptRecord;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Slack's replay window.
const MAX_AGE_SECS: i64 = 300;

/// The largest interaction body read: Slack's block_actions payloads are tens of KB. A larger
/// one is refused from its `Content-Length`, or once this much was read, before the signature
/// is checked (an unauthenticated sender must not make Warden buffer megabytes).
pub const MAX_BODY: usize = 64 * 1024;

pub(super) async fn interactions(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("a Slack interaction is at most {MAX_BODY} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY) {
        return Err(too_large());
    }
    let body: Bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| too_large())?;
    let headers = parts.headers;
    let engine = &state.engine;
    let secret = engine
        .secrets
        .credential(SIGNING_SECRET_CREDENTIAL)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "misconfigured",
                "the `slack_signing_secret` credential is not set on the server",
            )
        })?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let now = engine.clock.now();
    verify_signature(
        secret.expose().as_bytes(),
        header("x-slack-request-timestamp"),
        &body,
        header("x-slack-signature"),
        now.div_euclid(1000),
    )
    .map_err(|why| {
        engine.metrics.webhook_rejected();
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why)
    })?;
    let payload = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str::<Value>(&v).ok())
        .ok_or_else(|| bad_request("the body has no `payload` field holding JSON"))?;
    if payload["type"] != "block_actions" {
        return Err(bad_request("only block_actions interactions are handled"));
    }
    let action = &payload["actions"][0];
    let (prompt_id, answer) = action["value"]
        .as_str()
        .and_then(|v| v.split_once(':'))
        .ok_or_else(|| bad_request("the clicked button is not a Warden prompt's"))?;
    let user = payload["user"]["id"].as_str().unwrap_or_default();
    let actor = format!("slack:{user}");
    let answer = Answer {
        prompt_id,
        choice: answer,
        responder: user,
        via: AnsweredVia::Slack,
        actor: &actor,
    };
    let recorded = operate::answer_prompt(engine, answer)
        .await
        .map_err(|error| match error {
            // Slack sent a button Warden did not offer: a malformed request, not a person's
            // mistake to explain.
            operate::Error::InvalidChoice { .. } => bad_request(error.to_string()),
            other => ApiError::from(other),
        })?;
    if let Some(url) = payload["response_url"].as_str() {
        let (engine, url) = (engine.clone(), url.to_owned());
        let text = format!("*{}*: answered by <@{user}>.", recorded.label);
        tokio::spawn(async move {
            if let Err(error) = respond(&engine.http, &url, &text).await {
                tracing::warn!(error = %Escaped(&error), "Could not replace the answered prompt on Slack.");
            }
        });
    }
    Ok(StatusCode::OK.into_response())
}

/// Checks Slack's v0 signature of `body` at `timestamp` against `now` (seconds).
pub fn verify_signature(
    secret: &[u8],
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now: i64,
) -> Result<(), &'static str> {
    let sent: i64 = timestamp
        .parse()
        .map_err(|_| "missing or malformed X-Slack-Request-Timestamp")?;
    // `abs_diff` cannot overflow, whatever timestamp a caller sends.
    if now.abs_diff(sent) > MAX_AGE_SECS.unsigned_abs() {
        return Err("the request timestamp is more than 5 minutes from now (a replay?)");
    }
    let given = signature
        .strip_prefix("v0=")
        .and_then(super::webhook::decode_hex)
        .ok_or("missing or malformed X-Slack-Signature")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| "bad signing secret")?;
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given)
        .map_err(|_| "the Slack signature does not match")
}

/// The 409 of a prompt that takes no more answers.
pub(super) fn closed(prompt: &PromptRecord) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "prompt_closed",
        operate::closed_message(prompt),
    )
}

pub(super) fn unknown_prompt() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such prompt")
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

#[cfg(test)]
mod tests {
    use super::verify_signature;

    /// Slack's published test vector (specs/external-apis.md §3.4).
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_test_vector_verifies() {
        let now = 1_531_420_618 + 60;
        assert_eq!(
            verify_signature(
                SECRET.as_bytes(),
                TIMESTAMP,
                BODY.as_bytes(),
                SIGNATURE,
                now
            ),
            Ok(())
        );
    }

    #[test]
    fn tampering_staleness_and_garbage_are_refused() {
        let now = 1_531_420_618;
        let verify = |secret: &str, ts: &str, body: &str, sig: &str, now: i64| {
            verify_signature(secret.as_bytes(), ts, body.as_bytes(), sig, now)
        };
        assert!(verify(
            SECRET,
            TIMESTAMP,
            &BODY.replace("foobar", "foobaz"),
            SIGNATURE,
            now
        )
        .is_err());
        assert!(verify("other-secret", TIMESTAMP, BODY, SIGNATURE, now).is_err());
        assert!(verify(SECRET, TIMESTAMP, BODY, SIGNATURE, now + 301).is_err());
        assert!(verify(SECRET, TIMESTAMP, BODY, SIGNATURE, now - 301).is_err());
        assert!(verify(SECRET, "soon", BODY, SIGNATURE, now).is_err());
        assert!(verify(SECRET, TIMESTAMP, BODY, "a2114d57", now).is_err());
        assert!(verify(SECRET, TIMESTAMP, BODY, "v0=zz", now).is_err());
    }

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        for ts in [i64::MIN.to_string(), i64::MAX.to_string()] {
            let verified = verify_signature(
                SECRET.as_bytes(),
                &ts,
                BODY.as_bytes(),
                SIGNATURE,
                1_531_420_618,
            );
            assert!(verified.is_err(), "{ts}");
        }
    }
}
