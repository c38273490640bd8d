//! The reference pages `warden docs` writes into `docs/`: each action kind's options and output
//! event, the failure event, and every template filter and function.
//!
//! Pure: each page is a string built from the code it documents. Options come from the story
//! JSON Schema (`story::schema`, itself derived from the option types' doc comments); every
//! example event is produced by the function the action runs (`actions::trigger::evaluate`,
//! the transform modes, `actions::http::response_event`, `engine::machine::failure_event`…),
//! and every template example is rendered by the real template engine. A unit test compares the
//! committed `docs/*.md` with what this module generates, so the pages cannot drift.

mod actions;
mod failure;
mod filters;
mod markdown;
mod templates;

use crate::story::{check_story, Catalog, Story};
use std::collections::BTreeSet;

/// One generated page: its file name under the output directory, and its Markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// File name, e.g. `actions.md`.
    pub file: &'static str,
    /// The Markdown text.
    pub text: String,
}

/// Every reference page, in the order the index lists them.
pub fn pages() -> Vec<Page> {
    vec![
        Page {
            file: "actions.md",
            text: actions::page(),
        },
        Page {
            file: "failure-event.md",
            text: failure::page(),
        },
        Page {
            file: "templates.md",
            text: templates::page(),
        },
    ]
}

/// The instant every example is computed at (2026-01-01T00:00:00Z), so pages are reproducible.
const EXAMPLE_NOW: i64 = 1_767_225_600_000;

/// The story the examples' options are read from, validated like any story, so each example
/// runs on the options a story file would give.
const EXAMPLE_STORY: &str = r#"name: Reference examples
credentials:
  hook_secret: The webhook's URL secret.
actions:
  alert:
    type: webhook
    options: { path: docs-example, secret_credential: hook_secret }
  is_admin_grant:
    type: trigger
    from: alert
    options:
      rules:
        - { type: "field==value", path: "{{ alert.body.eventType }}", value: user.account.privilege.grant }
        - { type: regex, path: "{{ alert.body.actor }}", value: "@example\\.com$" }
  vt_lookup:
    type: http_request
    from: alert
    options:
      url: "https://www.virustotal.com/api/v3/ip_addresses/{{ alert.body.ip | path_segment }}"
  summary:
    type: transform
    from: alert
    options:
      mode: message
      payload: { user: "{{ alert.body.actor }}", ip: "{{ alert.body.ip }}", targets: "{{ alert.body.targets | length }}" }
  target_ids:
    type: transform
    from: alert
    options:
      mode: message
      loop: "{{ alert.body.targets }}"
      payload: { n: "{{ item.index }}", id: "{{ item.value.id }}" }
  addresses:
    type: transform
    from: alert
    options:
      mode: extract
      matchers:
        - { path: "{{ alert.body.message }}", regex: "\\b\\d{1,3}(?:\\.\\d{1,3}){3}\\b", to: ips }
        - { path: "{{ alert.body.message }}", regex: "user=(\\w+)", to: users }
  each_target:
    type: transform
    from: alert
    options: { mode: explode, path: "{{ alert.body.targets }}", to: target }
  all_targets:
    type: transform
    from: each_target
    options:
      mode: implode
      guid_path: "{{ each_target.guid }}"
      size_path: "{{ each_target.size }}"
      item_path: "{{ each_target.target.id }}"
  once_per_user:
    type: transform
    from: alert
    options: { mode: deduplicate, path: "{{ alert.body.actor }}", period: 1h }
  later:
    type: transform
    from: alert
    options: { mode: delay, duration: 5m }
  slowly:
    type: transform
    from: alert
    options: { mode: throttle, interval: minute, runs_per_interval: 10 }
  ask:
    type: prompt
    from: alert
    options:
      slack: { user_email: "{{ alert.body.actor }}", text: "Did you grant this role?" }
      choices: [ { value: approve, label: "Yes, it was me" }, { value: deny, label: "No" } ]
  contain:
    type: send_to_story
    from: ask
    options: { story: contain-user, payload: { user: "{{ alert.body.actor }}" }, wait: true }
  on_lookup_failure:
    type: transform
    from: vt_lookup.failure
    options: { mode: message, payload: { failed: "{{ vt_lookup.error.class }}" } }
"#;

/// The example story, validated.
fn example_story() -> Story {
    let catalog = Catalog {
        story_ids: BTreeSet::from(["contain-user".to_owned()]),
        ..Catalog::default()
    };
    match check_story("reference-examples", EXAMPLE_STORY, &catalog) {
        Ok(story) => story,
        Err(diagnostics) => panic!("the docs' example story is invalid: {diagnostics:?}"),
    }
}

/// The action `id` of the example story.
fn example_action<'a>(story: &'a Story, id: &str) -> &'a crate::story::Action {
    story
        .actions
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("the docs' example story has no action `{id}`"))
}

#[cfg(test)]
mod tests;
