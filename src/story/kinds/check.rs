//! What the kinds' option checks share: the context they are given, and the few rules several
//! kinds apply (a non-empty list, a number in range, a bounded duration, a snake_case name).

use crate::diagnostic::{Code, Diagnostic, Span};
use crate::story::value::Duration;
use crate::yaml::Spanned;
use std::collections::BTreeSet;

/// What a kind's checks may need beyond its own options. One type for every kind, so adding a
/// kind means one `check` method in its file and one arm in [`super::ActionConfig::check`].
#[derive(Debug, Clone, Copy)]
pub struct CheckContext<'a> {
    /// The action's id, to name it in messages.
    pub id: &'a str,
    /// Where the action's id is written: the place for "this action lacks …".
    pub at: Span,
    /// Credentials the story itself declares. A webhook checks only these, so a vendor API key
    /// declared by an integration template can never become a URL secret.
    pub declared_credentials: &'a BTreeSet<String>,
    /// Ids of the stories `send_to_story` may name.
    pub story_ids: &'a BTreeSet<String>,
}

/// Reports an empty list at the list's position: `"{owner} needs at least one {item}"`.
/// Returns whether the list has items.
pub fn check_non_empty<T>(
    list: &Spanned<Vec<T>>,
    owner: &str,
    item: &str,
    d: &mut Vec<Diagnostic>,
) -> bool {
    if list.is_empty() {
        d.push(Diagnostic::new(
            Code::InvalidOption,
            list.span,
            format!("{owner} needs at least one {item}"),
        ));
        return false;
    }
    true
}

/// A number outside the range its option allows; `range` is written as the user reads it.
pub fn out_of_range<T: std::fmt::Display>(
    value: &Spanned<T>,
    what: &str,
    range: &str,
) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidOption,
        value.span,
        format!("{what} is {}, outside {range}", value.value),
    )
}

/// A duration option, when given, must be positive and at most `max`.
pub fn check_duration(
    duration: Option<&Duration>,
    max: std::time::Duration,
    message: &str,
    d: &mut Vec<Diagnostic>,
) {
    if let Some(duration) = duration {
        if duration.value.is_zero() || duration.value > max {
            d.push(Diagnostic::new(Code::InvalidOption, duration.span, message));
        }
    }
}

/// Whether `name` can be read as a template variable and written in a URL: lowercase ASCII
/// letters, digits and `_`, starting with a letter, at most 64 characters.
pub fn is_snake_case_id(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_list_is_reported_at_the_list() {
        let mut d = Vec::new();
        let empty: Spanned<Vec<u8>> = Spanned::new(vec![], Span::new(4, 9));
        assert!(!check_non_empty(&empty, "a trigger", "rule", &mut d));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, Code::InvalidOption);
        assert_eq!(d[0].span, Span::new(4, 9));
        assert_eq!(d[0].message, "a trigger needs at least one rule");
    }

    #[test]
    fn a_list_with_items_passes() {
        let mut d = Vec::new();
        let list = Spanned::new(vec![1], Span::new(1, 1));
        assert!(check_non_empty(&list, "a prompt", "choice", &mut d));
        assert!(d.is_empty());
    }

    #[test]
    fn snake_case_ids_start_with_a_letter_and_stay_short() {
        assert!(is_snake_case_id("vt_lookup2"));
        assert!(!is_snake_case_id("2fa"));
        assert!(!is_snake_case_id("VtLookup"));
        assert!(!is_snake_case_id("vt-lookup"));
        assert!(!is_snake_case_id(""));
        assert!(!is_snake_case_id(&"a".repeat(65)));
    }
}
