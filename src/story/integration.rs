//! Integration templates: vendor actions as data (`templates/<vendor>/<name>.yml`), used by a
//! story action with `uses: vendor/name`. A user adds a vendor without recompiling.

use super::kinds::HttpRequestOptions;
use super::value::{Duration, Dynamic, Template};
use crate::yaml::{Entries, Spanned};
use schemars::JsonSchema;
use serde::Deserialize;
use std::path::PathBuf;

/// A loaded, validated integration template.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    /// `vendor/name`, from the file's place under the templates directory.
    pub id: String,
    /// The file it came from.
    pub path: PathBuf,
    /// The template's content.
    pub spec: IntegrationSpec,
}

/// The content of an integration template file.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct IntegrationSpec {
    /// Display name, e.g. "VirusTotal IP address report".
    pub name: String,
    /// What it does and what it returns.
    pub description: Option<String>,
    /// The inputs a story passes under `with:`, available as `inputs.<name>`.
    #[serde(default)]
    pub inputs: Entries<InputSpec>,
    /// Credentials the request uses (`credentials.<name>`), with what each holds.
    #[serde(default)]
    pub credentials: Entries<String>,
    /// Resources the request uses (`resources.<name>`), usually base URLs with a default.
    #[serde(default)]
    pub resources: Entries<ResourceSpec>,
    /// Requests allowed per period for the credential, shared by every run and worker.
    pub rate_limit: Option<RateLimit>,
    /// The HTTP request, with the options of an `http_request` action. A template has either
    /// `request` or `steps`.
    pub request: Option<HttpRequestOptions>,
    /// Several requests sent in order (get → suspend if ACTIVE → clear sessions). Each is named,
    /// and later steps, `when` conditions and `output` read an earlier response by its name,
    /// as `{{ user.body.status }}`. A step whose `when` is false is skipped, and its name is
    /// undefined (test it with `is defined`). A failed step fails the action; a retry starts
    /// again from the first step, so the sequence must be safe to repeat (look before you
    /// change).
    #[serde(default)]
    pub steps: Entries<RequestStep>,
    /// The action's event, built from the responses. Default: the last response received.
    pub output: Option<Dynamic>,
}

/// One request of a multi-step template.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct RequestStep {
    /// Sends the request only when this renders true (Jinja truthiness), e.g.
    /// `"{{ user.body.status == 'ACTIVE' }}"`.
    pub when: Option<Template>,
    /// The request, with the options of an `http_request` action.
    pub request: HttpRequestOptions,
}

/// A request of a template as the runner sends it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The step's name; `None` for a template's single `request`.
    pub name: Option<&'a str>,
    /// Sent only when this renders true.
    pub when: Option<&'a Template>,
    /// What to send.
    pub options: &'a HttpRequestOptions,
}

impl IntegrationSpec {
    /// The requests in the order they are sent: the single `request`, or every step (validation
    /// makes sure a template has exactly one of the two).
    pub fn requests(&self) -> impl Iterator<Item = Request<'_>> {
        let single = self.request.iter().map(|options| Request {
            name: None,
            when: None,
            options,
        });
        let steps = self.steps.iter().map(|(name, step)| Request {
            name: Some(name.value.as_str()),
            when: step.when.as_ref(),
            options: &step.request,
        });
        single.chain(steps)
    }
}

/// One input of an integration template.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct InputSpec {
    /// What the input is.
    pub description: String,
    /// Whether a story must give it. Default true unless a `default` is set.
    pub required: Option<bool>,
    /// The value used when a story does not give one.
    pub default: Option<Dynamic>,
}

impl InputSpec {
    /// Whether a story must give this input.
    pub fn is_required(&self) -> bool {
        self.required.unwrap_or(self.default.is_none())
    }
}

/// A resource an integration template reads.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct ResourceSpec {
    /// What the resource is.
    pub description: String,
    /// The value when none is configured (a vendor's public base URL).
    pub default: Option<String>,
}

/// A token bucket bound to a credential.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct RateLimit {
    /// The credential whose quota this is.
    pub credential: Spanned<String>,
    /// Requests allowed per `per`.
    pub requests: Spanned<u32>,
    /// The period, e.g. `1m`.
    pub per: Duration,
}
