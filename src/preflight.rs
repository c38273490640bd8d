//! What each story needs from the environment before its runs can succeed: the credentials and
//! resources it and its integration templates use, checked against what is set. `serve` prints
//! it at start (and refuses to start with `--strict`), `warden check` prints it alone, and a
//! story that is not ready answers its webhooks 503 naming the missing setting instead of
//! starting runs that fail at their first vendor call.

use crate::actions::slack::{SIGNING_SECRET_CREDENTIAL, TOKEN_CREDENTIAL};
use crate::secrets::Secrets;
use crate::story::kinds::ActionConfig;
use crate::story::Story;
use std::collections::BTreeMap;
use std::fmt;

/// The Slack credentials a prompt that asks on Slack needs: the bot token to post, the signing
/// secret to accept the button clicks.
const SLACK_CREDENTIALS: &[(&str, &str)] = &[
    (
        TOKEN_CREDENTIAL,
        "the Slack bot token its prompts post with",
    ),
    (
        SIGNING_SECRET_CREDENTIAL,
        "Slack's signing secret, to accept its prompts' button clicks",
    ),
];

/// A credential or a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Setting {
    /// `WARDEN_CREDENTIAL_<NAME>`.
    Credential,
    /// `WARDEN_RESOURCE_<NAME>`.
    Resource,
}

/// A setting a story needs that is not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// Credential or resource.
    pub setting: Setting,
    /// Its name, as templates read it (`virustotal`, `thehive_url`).
    pub name: String,
    /// Who needs it and what it holds, e.g. "virustotal/ip_lookup: VirusTotal API key".
    pub needed_by: String,
}

impl Missing {
    /// The environment variable that sets it, e.g. `WARDEN_CREDENTIAL_VIRUSTOTAL`.
    pub fn env_var(&self) -> String {
        let prefix = match self.setting {
            Setting::Credential => "WARDEN_CREDENTIAL_",
            Setting::Resource => "WARDEN_RESOURCE_",
        };
        format!("{prefix}{}", self.name.to_uppercase())
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.env_var(), self.needed_by)
    }
}

/// One story's readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// The story's id.
    pub story: String,
    /// Its webhooks' paths (the URL is `<public url>/webhook/<path>/<secret>`).
    pub webhooks: Vec<String>,
    /// What it needs and lacks, by environment variable; empty when ready.
    pub missing: Vec<Missing>,
}

impl Readiness {
    /// Whether every setting it needs is set.
    pub fn is_ready(&self) -> bool {
        self.missing.is_empty()
    }

    /// One line naming what is missing, for a 503 and the log.
    pub fn summary(&self) -> String {
        let names: Vec<String> = self.missing.iter().map(Missing::env_var).collect();
        format!(
            "story `{}` is not ready: set {}",
            self.story,
            names.join(", ")
        )
    }
}

/// Every credential and resource `story` needs, with who needs it: what it declares, what its
/// integration templates declare (a resource with a default is never missing), and Slack's
/// credentials when a prompt asks on Slack.
pub fn needs(story: &Story) -> BTreeMap<(Setting, String), String> {
    let mut needs = BTreeMap::new();
    for name in &story.credentials {
        needs.insert(
            (Setting::Credential, name.clone()),
            "declared by the story".to_owned(),
        );
    }
    for name in &story.resources {
        needs.insert(
            (Setting::Resource, name.clone()),
            "declared by the story".to_owned(),
        );
    }
    for (id, integration) in story.integrations() {
        for (name, holds) in integration.spec.credentials.iter() {
            needs
                .entry((Setting::Credential, name.value.clone()))
                .or_insert_with(|| format!("{id}: {holds}"));
        }
        for (name, resource) in integration.spec.resources.iter() {
            if resource.default.is_none() {
                needs
                    .entry((Setting::Resource, name.value.clone()))
                    .or_insert_with(|| format!("{id}: {}", resource.description));
            }
        }
    }
    let asks_on_slack = story
        .actions
        .iter()
        .any(|a| matches!(&a.config, ActionConfig::Prompt(p) if p.slack.is_some()));
    if asks_on_slack {
        for (name, holds) in SLACK_CREDENTIALS {
            needs
                .entry((Setting::Credential, (*name).to_owned()))
                .or_insert_with(|| (*holds).to_owned());
        }
    }
    needs
}

/// Each story's readiness against `secrets`, in story order.
pub fn check<'a>(
    stories: impl IntoIterator<Item = &'a Story>,
    secrets: &Secrets,
) -> Vec<Readiness> {
    stories
        .into_iter()
        .map(|story| {
            let missing = needs(story)
                .into_iter()
                .filter(|((setting, name), _)| match setting {
                    Setting::Credential => secrets.credential(name).is_none(),
                    Setting::Resource => secrets.resource(name).is_none(),
                })
                .map(|((setting, name), needed_by)| Missing {
                    setting,
                    name,
                    needed_by,
                })
                .collect();
            let webhooks = story
                .entry_points()
                .filter_map(|(_, action)| match &action.config {
                    ActionConfig::Webhook(options) => Some(options.path.value.clone()),
                    _ => None,
                })
                .collect();
            Readiness {
                story: story.id.clone(),
                webhooks,
                missing,
            }
        })
        .collect()
}

/// The report `serve` and `warden check` print: per story, its webhook URLs (secret elided)
/// and what it lacks.
pub fn report(readiness: &[Readiness], public_url: &str) -> String {
    let base = public_url.trim_end_matches('/');
    let mut out = String::new();
    for story in readiness {
        let state = if story.is_ready() {
            "ready"
        } else {
            "NOT READY"
        };
        out.push_str(&format!("story {} ({state})\n", story.story));
        for path in &story.webhooks {
            out.push_str(&format!("  webhook  {base}/webhook/{path}/<secret>\n"));
        }
        for missing in &story.missing {
            out.push_str(&format!("  missing  {missing}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::story::load;
    use std::path::{Path, PathBuf};

    fn seed() -> Story {
        let loaded = load::load(&[PathBuf::from("stories")], Path::new("templates")).unwrap();
        loaded
            .stories
            .into_iter()
            .find(|s| s.id == "panther-okta-admin-grant")
            .expect("the seed story loads")
    }

    #[test]
    fn the_seed_story_lists_every_setting_it_lacks() {
        let story = seed();
        let readiness = check([&story], &Secrets::default());
        let missing: Vec<String> = readiness[0].missing.iter().map(Missing::env_var).collect();
        assert_eq!(
            missing,
            [
                "WARDEN_CREDENTIAL_GREYNOISE",
                "WARDEN_CREDENTIAL_OKTA",
                "WARDEN_CREDENTIAL_PANTHER_WEBHOOK",
                "WARDEN_CREDENTIAL_SLACK",
                "WARDEN_CREDENTIAL_SLACK_SIGNING_SECRET",
                "WARDEN_CREDENTIAL_THEHIVE",
                "WARDEN_CREDENTIAL_VIRUSTOTAL",
                "WARDEN_RESOURCE_OKTA_URL",
                "WARDEN_RESOURCE_THEHIVE_URL",
            ]
        );
        assert_eq!(readiness[0].webhooks, ["panther-okta-admin"]);
        assert!(!readiness[0].is_ready());
        let report = report(&readiness, "http://127.0.0.1:8080/");
        assert!(
            report.contains("  webhook  http://127.0.0.1:8080/webhook/panther-okta-admin/<secret>"),
            "{report}"
        );
        assert!(
            report.contains("WARDEN_CREDENTIAL_VIRUSTOTAL (virustotal/"),
            "{report}"
        );
    }

    #[test]
    fn a_story_with_everything_set_is_ready() {
        let story = seed();
        let mut secrets = Secrets::default();
        for ((setting, name), _) in needs(&story) {
            secrets = match setting {
                Setting::Credential => secrets.with_credential(&name, "x"),
                Setting::Resource => secrets.with_resource(&name, "https://x.example"),
            };
        }
        let readiness = check([&story], &secrets);
        assert!(readiness[0].is_ready(), "{:?}", readiness[0].missing);
        assert!(report(&readiness, "http://x").contains("(ready)"));
    }
}
