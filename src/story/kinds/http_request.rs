//! `http_request`: one outbound HTTP call; its response is the action's event.

use super::check::{check_duration, out_of_range};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::story::value::{Duration, Dynamic, StatusList, Template};
use crate::yaml::{Entries, Spanned};
use schemars::JsonSchema;
use serde::Deserialize;

/// The longest `timeout` a request may have: a step holds its lease while it waits.
pub const MAX_HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Options of an `http_request` action (and the `request` of an integration template).
///
/// The emitted event is `{status, headers, body}`; `body` is parsed JSON when the response says
/// it is JSON (or `response: json`), text otherwise. A status outside `success_status`, once
/// retries are spent, fails the step and follows the `.failure` link.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct HttpRequestOptions {
    /// The URL, usually built from a resource: `"{{ resources.thehive_url }}/api/v1/case"`.
    pub url: Template,
    /// HTTP method, in any case (`post`, as Tines exports write it). Default `GET`.
    #[serde(default)]
    pub method: HttpMethod,
    /// Query parameters, added to any already in the URL and URL-encoded.
    pub query: Option<Entries<Dynamic>>,
    /// Request headers.
    pub headers: Option<Entries<Template>>,
    /// Request body, built structurally (never by string concatenation) and encoded by
    /// `content_type`. Tines' `payload` is accepted.
    #[serde(alias = "payload")]
    pub body: Option<Dynamic>,
    /// How `body` is encoded. Default `json`; Tines' `application_json` and MIME types are
    /// accepted.
    #[serde(default)]
    pub content_type: ContentType,
    /// HTTP basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// Sends `Authorization: Bearer <token>`.
    pub bearer_token: Option<Template>,
    /// Time allowed for the whole exchange. Default `30s`, at most `10m`.
    pub timeout: Option<Duration>,
    /// Statuses that are retried with exponential backoff and jitter (`Retry-After` is honoured).
    /// `0` stands for a timeout or connection failure. Default `[0, 429, "500-599"]`.
    pub retry_on_status: Option<StatusList>,
    /// Attempts in all, the first included. Default 5, at most 25.
    pub max_attempts: Option<Spanned<u32>>,
    /// Statuses that count as success. Default `["200-299"]`.
    pub success_status: Option<StatusList>,
    /// How to read the response body. Default `auto` (JSON when the content type says so).
    #[serde(default)]
    pub response: ResponseFormat,
    /// Follow redirects (at most 10) that stay on the same scheme, host and port; a redirect to
    /// another origin is returned as the response, so credentials never follow it. Default true.
    pub follow_redirects: Option<bool>,
}

/// The request fields a credential may be rendered into. Never the URL or query: URLs end up in
/// proxy and access logs and in client error messages.
pub const CREDENTIAL_FIELDS: &[&str] = &["headers", "body", "basic_auth", "bearer_token"];

impl HttpRequestOptions {
    /// Calls `f` on every template in the request, with the field it belongs to.
    pub fn each_template<'a>(&'a self, f: &mut dyn FnMut(&'static str, &'a Template)) {
        f("url", &self.url);
        for (_, value) in self.query.iter().flat_map(Entries::iter) {
            value.each_template(&mut |t| f("query", t));
        }
        for (_, value) in self.headers.iter().flat_map(Entries::iter) {
            f("headers", value);
        }
        if let Some(body) = &self.body {
            body.each_template(&mut |t| f("body", t));
        }
        if let Some(auth) = &self.basic_auth {
            f("basic_auth", &auth.username);
            f("basic_auth", &auth.password);
        }
        if let Some(token) = &self.bearer_token {
            f("bearer_token", token);
        }
    }

    /// Checks what the types cannot: ranges, a body the method and content type allow, one kind
    /// of auth. Needs no context, so an `http_request` action, a prompt's `request` and an
    /// integration template's requests are checked alike.
    pub fn check(&self, d: &mut Vec<Diagnostic>) {
        check_duration(
            self.timeout.as_ref(),
            MAX_HTTP_TIMEOUT,
            "timeout must be between 1ms and 10m",
            d,
        );
        if let Some(attempts) = &self.max_attempts {
            if !(1..=25).contains(&attempts.value) {
                d.push(out_of_range(attempts, "max_attempts", "1..=25"));
            }
        }
        if let Some(body) = &self.body {
            let span = first_span(body).unwrap_or(self.url.span);
            if matches!(self.method, HttpMethod::Get | HttpMethod::Head) {
                d.push(
                    Diagnostic::new(
                        Code::InvalidOption,
                        span,
                        "a GET or HEAD request cannot have a body",
                    )
                    .with_hint("send parameters with `query:`, or use POST"),
                );
            }
            match (self.content_type, body) {
                (ContentType::Form, Dynamic::Object(_))
                | (ContentType::Text, Dynamic::Template(_))
                | (ContentType::Json, _) => {}
                (ContentType::Form, _) => d.push(Diagnostic::new(
                    Code::InvalidOption,
                    span,
                    "a form body must be a mapping",
                )),
                (ContentType::Text, _) => d.push(Diagnostic::new(
                    Code::InvalidOption,
                    span,
                    "a text body must be a string",
                )),
            }
        }
        if self.basic_auth.is_some() && self.bearer_token.is_some() {
            d.push(Diagnostic::new(
                Code::InvalidOption,
                self.url.span,
                "give `basic_auth` or `bearer_token`, not both",
            ));
        }
    }
}

/// The position of a value's first template: a body has no span of its own, and pointing at its
/// first string beats pointing at the URL.
fn first_span(value: &Dynamic) -> Option<Span> {
    let mut span = None;
    value.each_template(&mut |t| {
        span.get_or_insert(t.span);
    });
    span
}

/// An HTTP method, read in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET.
    #[default]
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// HEAD.
    Head,
}

const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

impl<'de> Deserialize<'de> for HttpMethod {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let written = String::deserialize(deserializer)?;
        Ok(match written.to_ascii_uppercase().as_str() {
            "GET" => HttpMethod::Get,
            "POST" => HttpMethod::Post,
            "PUT" => HttpMethod::Put,
            "PATCH" => HttpMethod::Patch,
            "DELETE" => HttpMethod::Delete,
            "HEAD" => HttpMethod::Head,
            _ => return Err(serde::de::Error::unknown_variant(&written, HTTP_METHODS)),
        })
    }
}

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
    /// `application/json`.
    #[default]
    #[serde(alias = "application_json", alias = "application/json")]
    Json,
    /// `application/x-www-form-urlencoded`; the body must be a mapping.
    #[serde(
        alias = "application_x_www_form_urlencoded",
        alias = "application/x-www-form-urlencoded"
    )]
    Form,
    /// `text/plain`; the body must be a string.
    #[serde(alias = "text_plain", alias = "text/plain")]
    Text,
}

/// How a response body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResponseFormat {
    /// JSON when the `Content-Type` says so, otherwise text.
    #[default]
    Auto,
    /// Always parse as JSON; an unparsable body fails the step.
    Json,
    /// Always keep as text.
    Text,
}

/// HTTP basic authentication.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct BasicAuth {
    /// User name.
    pub username: Template,
    /// Password, normally `"{{ credentials.name }}"`.
    pub password: Template,
}
