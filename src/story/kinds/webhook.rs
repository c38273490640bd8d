//! `webhook`: the entry point of a story. `POST /webhook/{path}/{secret}` starts a run.

use crate::story::value::{Duration, Template};
use crate::yaml::Spanned;
use schemars::JsonSchema;
use serde::Deserialize;

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
