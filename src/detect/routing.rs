//! Alert destinations: where each alert goes, kept outside the rule files so they stay
//! Panther-pure.
//!
//! ```yaml
//! destinations:
//!   okta-admin-story:
//!     story_webhook: panther-okta-admin   # a story's webhook `path`: delivered in-process
//!     severities: [LOW, MEDIUM, HIGH, CRITICAL]
//!   soc:
//!     url: https://soc.example.com/panther # POSTed in Panther's webhook format, retried
//!     headers:
//!       X-Api-Key: { credential: soc_api_key }
//!     severities: [HIGH, CRITICAL]
//!     log_types: [Okta.SystemLog]
//! ```
//!
//! As in Panther, a rule's `OutputIds` overrides everything: its alerts go to exactly those
//! destinations. Other alerts go to every destination whose `severities` include theirs (and
//! whose `log_types`, if given, include theirs). A destination without `severities` takes only
//! alerts of rules that name it. An alert no destination takes is stored only.

use super::Severity;
use crate::diagnostic::{Code, Diagnostic};
use crate::yaml::{from_node, Entries, Spanned};
use serde::Deserialize;
use std::collections::BTreeMap;

/// How an alert reaches a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A story's webhook, by its `path`: a run is created in-process, as if Panther had posted.
    StoryWebhook(String),
    /// Any URL: `POST`, retried with backoff up to 10 times.
    Url {
        /// Where.
        url: String,
        /// Extra headers: a literal value or a credential's name.
        headers: Vec<(String, HeaderValue)>,
    },
}

/// A header's value: a literal, or a credential resolved at delivery (never stored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum HeaderValue {
    /// Sent as written.
    Literal(String),
    /// The named credential's value.
    Credential {
        /// The credential's name.
        credential: String,
    },
}

/// One destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Its id, as rules' `OutputIds` name it.
    pub id: String,
    /// Where alerts go.
    pub target: Target,
    /// Severities it takes; empty takes only alerts of rules naming it in `OutputIds`.
    pub severities: Vec<Severity>,
    /// Log types it takes; empty takes all.
    pub log_types: Vec<String>,
}

impl Destination {
    fn takes(&self, severity: Severity, log_type: &str) -> bool {
        self.severities.contains(&severity)
            && (self.log_types.is_empty() || self.log_types.iter().any(|t| t == log_type))
    }
}

/// Every destination, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    destinations: BTreeMap<String, Destination>,
}

impl Routing {
    /// A routing with these destinations.
    pub fn new(destinations: impl IntoIterator<Item = Destination>) -> Routing {
        Routing {
            destinations: destinations
                .into_iter()
                .map(|d| (d.id.clone(), d))
                .collect(),
        }
    }

    /// The destination with this id.
    pub fn get(&self, id: &str) -> Option<&Destination> {
        self.destinations.get(id)
    }

    /// Every destination.
    pub fn all(&self) -> impl Iterator<Item = &Destination> {
        self.destinations.values()
    }

    /// Drops the destinations `keep` refuses; returns them.
    pub fn remove_unless(&mut self, keep: impl Fn(&Destination) -> bool) -> Vec<Destination> {
        let (kept, removed) = std::mem::take(&mut self.destinations)
            .into_values()
            .partition(|d| keep(d));
        *self = Routing::new(kept);
        removed
    }

    /// The destination ids an alert goes to: the rule's `OutputIds` if it has any, else every
    /// destination whose filters take the alert.
    pub fn route(&self, output_ids: &[String], severity: Severity, log_type: &str) -> Vec<String> {
        if !output_ids.is_empty() {
            return output_ids.to_vec();
        }
        self.destinations
            .values()
            .filter(|d| d.takes(severity, log_type))
            .map(|d| d.id.clone())
            .collect()
    }
}

#[derive(Deserialize)]
struct RoutingFile {
    /// Absent or empty: alerts are only stored.
    destinations: Option<Entries<DestinationSpec>>,
}

#[derive(Deserialize)]
struct DestinationSpec {
    story_webhook: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    #[serde(default)]
    headers: BTreeMap<String, HeaderValue>,
    #[serde(default)]
    severities: Vec<Spanned<String>>,
    #[serde(default)]
    log_types: Vec<String>,
}

/// Reads a destinations file; every problem is reported with its position. An empty file (or
/// `/dev/null`, or one with comments only) means no destinations: alerts are only stored.
pub fn check_routing(source: &str) -> Result<Routing, Vec<Diagnostic>> {
    let mut d = Vec::new();
    let routing = crate::yaml::parse(source, &mut d).and_then(|node| {
        if node.is_null() {
            return Some(Routing::default());
        }
        let file = from_node::<RoutingFile>(&node, &mut d)?;
        Some(Routing::new(
            file.destinations
                .into_iter()
                .flat_map(|entries| entries.0)
                .filter_map(|(id, spec)| destination(id, spec, &mut d)),
        ))
    });
    match routing {
        Some(routing) if d.is_empty() => Ok(routing),
        _ => {
            crate::diagnostic::sort_and_dedup(&mut d);
            Err(d)
        }
    }
}

fn destination(
    id: Spanned<String>,
    spec: DestinationSpec,
    d: &mut Vec<Diagnostic>,
) -> Option<Destination> {
    let mut severities = Vec::new();
    for s in &spec.severities {
        match Severity::parse(s) {
            Some(severity) => severities.push(severity),
            None => d.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    s.span,
                    format!("`{}` is not a severity", s.value),
                )
                .with_hint("use INFO, LOW, MEDIUM, HIGH or CRITICAL"),
            ),
        }
    }
    let target = match (spec.story_webhook, spec.url) {
        (Some(path), None) => Target::StoryWebhook(path.value),
        (None, Some(url)) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                d.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        url.span,
                        format!("`{}` is not an http(s) URL", url.value),
                    )
                    .with_hint("write the full URL, e.g. https://soc.example.com/alerts"),
                );
            }
            Target::Url {
                url: url.value,
                headers: spec.headers.into_iter().collect(),
            }
        }
        (story, url) => {
            let span = story.map(|s| s.span).or(url.map(|u| u.span));
            d.push(
                Diagnostic::new(
                    Code::KindConflict,
                    span.unwrap_or(id.span),
                    format!(
                        "destination `{}` needs exactly one of `story_webhook` or `url`",
                        id.value
                    ),
                )
                .with_hint("`story_webhook: <webhook path>` delivers in-process; `url:` POSTs"),
            );
            return None;
        }
    };
    Some(Destination {
        id: id.value,
        target,
        severities,
        log_types: spec.log_types,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_or_no_destinations_means_alerts_are_only_stored() {
        for source in [
            "",
            "# none yet\n",
            "destinations:\n",
            "destinations: {}\n",
            "---\n",
        ] {
            let routing = check_routing(source).unwrap_or_else(|d| panic!("{source:?}: {d:?}"));
            assert_eq!(routing.all().count(), 0, "{source:?}");
        }
        assert!(check_routing("destinations: [a]\n").is_err());
    }

    #[test]
    fn remove_unless_keeps_the_rest() {
        let mut routing = check_routing(FILE).unwrap();
        let removed = routing.remove_unless(|d| matches!(d.target, Target::Url { .. }));
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].id, "story");
        assert!(routing.get("story").is_none() && routing.get("soc").is_some());
    }

    const FILE: &str = "destinations:
  story:
    story_webhook: panther-okta-admin
    severities: [LOW, medium, HIGH, CRITICAL]
  soc:
    url: https://soc.example.com/panther
    headers:
      X-Api-Key: { credential: soc_key }
      X-Team: blue
    severities: [HIGH, CRITICAL]
    log_types: [Okta.SystemLog]
";

    #[test]
    fn routes_by_severity_and_log_type_unless_the_rule_names_outputs() {
        let routing = check_routing(FILE).unwrap();
        assert_eq!(
            routing.route(&[], Severity::High, "Okta.SystemLog"),
            ["soc", "story"]
        );
        assert_eq!(
            routing.route(&[], Severity::High, "AWS.CloudTrail"),
            ["story"]
        );
        assert!(routing
            .route(&[], Severity::Info, "Okta.SystemLog")
            .is_empty());
        assert_eq!(
            routing.route(&["soc".into()], Severity::Info, "Other"),
            ["soc"]
        );
        let Target::Url { headers, .. } = &routing.get("soc").unwrap().target else {
            panic!("soc is a URL");
        };
        assert_eq!(
            headers[0],
            (
                "X-Api-Key".into(),
                HeaderValue::Credential {
                    credential: "soc_key".into()
                }
            )
        );
    }

    #[test]
    fn mistakes_are_reported_with_positions() {
        let errors = check_routing(
            "destinations:\n  a:\n    story_webhook: x\n    url: https://x\n  b:\n    url: ftp://x\n    severities: [URGENT]\n    sevrities: []\n",
        )
        .unwrap_err();
        let rendered: Vec<String> = errors.iter().map(|d| d.render("d.yml")).collect();
        let text = rendered.join("\n");
        assert!(text.contains("d.yml:3:"), "{text}");
        assert!(text.contains("exactly one of"), "{text}");
        assert!(text.contains("ftp://x"), "{text}");
        assert!(text.contains("`URGENT` is not a severity"), "{text}");
        assert!(text.contains("unknown key `sevrities`"), "{text}");
    }
}
