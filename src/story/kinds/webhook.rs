//! `webhook`: the entry point of a story. `POST /webhook/{path}/{secret}` starts a run.

use super::check::{out_of_range, CheckContext};
use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::story::value::{Duration, Template};
use crate::yaml::Spanned;
use schemars::JsonSchema;
use serde::Deserialize;

/// The largest `max_body_bytes` a webhook may ask for: a body is held in memory and stored.
pub const MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

/// Options of a `webhook` action.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct WebhookOptions {
    /// The URL path segment: requests go to `/webhook/{path}/{secret}`. Lowercase letters,
    /// digits, `-` and `_`; unique across all stories.
    pub path: Spanned<String>,
    /// Name of the credential whose value is the secret last URL segment.
    pub secret_credential: Spanned<String>,
    /// Also require a shared secret in a request header (for senders that can add headers).
    pub secret_header: Option<SecretHeader>,
    /// Also require an HMAC signature of the raw body in a header.
    pub signature: Option<SignatureCheck>,
    /// HTTP methods accepted. Default: `[POST]`.
    pub methods: Option<Vec<WebhookMethod>>,
    /// Largest body accepted, in bytes; larger requests get 413. Default 1 MiB, at most 32 MiB.
    pub max_body_bytes: Option<Spanned<u64>>,
    /// Template over this webhook's own event (`{{ <this action's id>.body.alertId }}`) whose
    /// value identifies a delivery; a redelivery with the same key creates no second run.
    pub dedupe_key: Option<Template>,
    /// How long a dedupe key is remembered. Default `7d`.
    pub dedupe_window: Option<Duration>,
}

/// A shared secret carried in a request header.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct SecretHeader {
    /// Header name, e.g. `X-Webhook-Token`.
    pub header: Spanned<String>,
    /// Credential holding the expected header value.
    pub credential: Spanned<String>,
}

/// An HMAC signature over the raw request body.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct SignatureCheck {
    /// Header carrying the signature, e.g. `X-Hub-Signature-256`.
    pub header: Spanned<String>,
    /// Credential holding the HMAC key.
    pub credential: Spanned<String>,
    /// Hash function. Default `sha256`.
    #[serde(default)]
    pub algorithm: HmacAlgorithm,
    /// Text before the signature in the header, e.g. `sha256=`.
    pub prefix: Option<String>,
    /// How the signature is written. Default `hex`.
    #[serde(default)]
    pub encoding: SignatureEncoding,
}

/// Hash function of an HMAC signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    /// HMAC-SHA256.
    #[default]
    Sha256,
    /// HMAC-SHA1, for senders that offer nothing better.
    Sha1,
}

/// How a signature is encoded in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignatureEncoding {
    /// Lowercase or uppercase hexadecimal.
    #[default]
    Hex,
    /// Standard base64.
    Base64,
}

/// An HTTP method a webhook accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum WebhookMethod {
    /// POST (the default).
    Post,
    /// PUT.
    Put,
    /// GET (query parameters become the body).
    Get,
}

impl WebhookOptions {
    /// Checks what the types cannot: a URL-safe path, secrets the story itself declares, and the
    /// body limit's range.
    pub fn check(&self, cx: &CheckContext, d: &mut Vec<Diagnostic>) {
        let path_ok = self
            .path
            .value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && self
                .path
                .value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !path_ok {
            d.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    self.path.span,
                    format!("webhook path `{}` is not a URL-safe slug", self.path.value),
                )
                .with_hint("use lowercase letters, digits, `-` and `_`, e.g. `panther-okta-admin`"),
            );
        }
        check_secret_credential(&self.secret_credential, cx, d);
        if let Some(h) = &self.secret_header {
            check_secret_credential(&h.credential, cx, d);
        }
        if let Some(s) = &self.signature {
            check_secret_credential(&s.credential, cx, d);
        }
        if let Some(max) = &self.max_body_bytes {
            if max.value == 0 || max.value > MAX_BODY_BYTES {
                d.push(out_of_range(
                    max,
                    "max_body_bytes",
                    &format!("1..={MAX_BODY_BYTES}"),
                ));
            }
        }
    }
}

/// A webhook's secret must be a credential the story declares (see
/// [`CheckContext::declared_credentials`]).
fn check_secret_credential(name: &Spanned<String>, cx: &CheckContext, d: &mut Vec<Diagnostic>) {
    if !cx.declared_credentials.contains(&name.value) {
        let hint = did_you_mean(&name.value, cx.declared_credentials.iter().map(String::as_str)).unwrap_or_else(|| {
            "declare it under the story's top-level `credentials:` (name: what it holds); a webhook cannot reuse a vendor's credential".to_owned()
        });
        d.push(
            Diagnostic::new(
                Code::UnknownCredential,
                name.span,
                format!("unknown credential `{}`", name.value),
            )
            .with_hint(hint),
        );
    }
}
