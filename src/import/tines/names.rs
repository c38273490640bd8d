//! Tines keys an action's event by its snake_cased name; Warden names actions by snake_case ids.
//! Duplicate names (legal in Tines) get `_2`, `_3`, … so every action has its own id.

use crate::story::validate::RESERVED_IDS;
use std::collections::BTreeSet;

/// Tines' `TO_SNAKE_CASE` as exports show it: lowercase, every run of other characters one `_`,
/// none at the ends ("Pre-Approved Accounts" → `pre_approved_accounts`).
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut gap = false;
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_alphanumeric() {
            // camelCase splits like Rails' underscore: `fooBar` → `foo_bar`.
            if c.is_uppercase() && prev_lower {
                gap = true;
            }
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            out.extend(c.to_lowercase());
        } else {
            gap = true;
            prev_lower = false;
        }
    }
    out
}

/// Names templates read as something else than an action: minijinja's loop variable and
/// literals (the scopes are `story::validate::RESERVED_IDS`).
const TEMPLATE_WORDS: &[&str] = &["loop", "none", "true", "false"];

/// A valid Warden id for a Tines key: ASCII snake_case starting with a letter, at most 64
/// characters, not a scope's name.
pub fn action_id(key: &str) -> String {
    let mut id: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    id = id.trim_matches('_').to_owned();
    while id.contains("__") {
        id = id.replace("__", "_");
    }
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        id = format!("action_{id}").trim_end_matches('_').to_owned();
    }
    if RESERVED_IDS.contains(&id.as_str()) || TEMPLATE_WORDS.contains(&id.as_str()) {
        id.push_str("_action");
    }
    id.truncate(60);
    id.trim_end_matches('_').to_owned()
}

/// Gives each key its own id, in order: the first keeps the key, the next ones `_2`, `_3`.
pub fn unique_ids(keys: &[String]) -> Vec<String> {
    let mut taken = BTreeSet::new();
    keys.iter()
        .map(|key| {
            let base = action_id(key);
            let mut id = base.clone();
            let mut n = 2;
            while !taken.insert(id.clone()) {
                id = format!("{base}_{n}");
                n += 1;
            }
            id
        })
        .collect()
}

/// A file name for a story: lowercase words joined by `-`.
pub fn story_slug(name: &str) -> String {
    let snake = snake_case(name);
    if !snake.chars().any(|c| c.is_ascii_alphanumeric()) {
        return "imported-story".to_owned();
    }
    let slug = action_id(&snake).replace('_', "-");
    slug.strip_prefix("action-").unwrap_or(&slug).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_keys_as_in_tines_exports() {
        assert_eq!(
            snake_case("Search User by Email in Slack"),
            "search_user_by_email_in_slack"
        );
        assert_eq!(snake_case("Pre-Approved Accounts"), "pre_approved_accounts");
        assert_eq!(snake_case("  Get IP (v2)! "), "get_ip_v2");
        assert_eq!(snake_case("triggerAgent_regex"), "trigger_agent_regex");
    }

    #[test]
    fn duplicate_names_get_numbered_ids() {
        let keys = vec![
            "message_text".to_owned(),
            "message_text".to_owned(),
            "x".to_owned(),
        ];
        assert_eq!(unique_ids(&keys), ["message_text", "message_text_2", "x"]);
    }

    #[test]
    fn story_slugs_are_ascii_file_names() {
        assert_eq!(story_slug("Okta: Admin Grant (v2)"), "okta-admin-grant-v2");
        assert_eq!(story_slug("Café Story"), "caf-story");
        assert_eq!(story_slug("¿?"), "imported-story");
    }

    #[test]
    fn ids_are_valid_warden_ids() {
        assert_eq!(action_id("1st_step"), "action_1st_step");
        assert_eq!(action_id("run"), "run_action");
        // Every id story validation reserves, and the template words.
        assert_eq!(action_id("prompt"), "prompt_action");
        assert_eq!(action_id("loop"), "loop_action");
        assert_eq!(action_id("café_ok"), "caf_ok");
        assert_eq!(action_id(""), "action");
    }
}
