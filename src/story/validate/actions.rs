//! Reading each action on its own, before any link is followed: its id, whether it names a
//! built-in kind (`type:`) or an integration template (`uses:`), and its options read as that
//! kind's types.

use super::Catalog;
use crate::diagnostic::{did_you_mean, Code, Diagnostic, Span};
use crate::story::kinds::check::is_snake_case_id;
use crate::story::kinds::{ActionConfig, IntegrationCall, KINDS};
use crate::story::raw::ActionHeader;
use crate::yaml::{from_node, Key, Node, Spanned};

/// Names an action id may not take: they are template scopes.
pub const RESERVED_IDS: &[&str] = &[
    "credentials",
    "resources",
    "run",
    "step",
    "inputs",
    "item",
    "prompt",
];

/// One action as read, before graph checks.
pub(super) struct Parsed<'a> {
    pub(super) key: &'a Key,
    pub(super) header: Option<ActionHeader>,
    /// `None` when the action's kind or options had errors (already reported).
    pub(super) config: Option<ActionConfig>,
}

impl Parsed<'_> {
    pub(super) fn id(&self) -> &str {
        &self.key.name
    }

    /// Whether the action is an entry point. Read from `type:` too, so that a webhook whose
    /// options are wrong still counts as one and its receivers are not also "unreachable".
    pub(super) fn is_webhook(&self) -> bool {
        matches!(self.config, Some(ActionConfig::Webhook(_)))
            || self
                .header
                .as_ref()
                .and_then(|h| h.kind.as_ref())
                .is_some_and(|k| k.value == "webhook")
    }
}

/// Reads the action `key: node`. Always gives a [`Parsed`], so the graph still sees an action
/// whose kind or options are wrong.
pub(super) fn parse_action<'a>(
    key: &'a Key,
    node: &Node,
    catalog: &Catalog,
    d: &mut Vec<Diagnostic>,
) -> Parsed<'a> {
    if !is_snake_case_id(&key.name) {
        d.push(
            Diagnostic::new(Code::InvalidId, key.span, format!("action id `{}` is not snake_case", key.name))
                .with_hint("use lowercase letters, digits and `_`, starting with a letter (at most 64 characters), e.g. `vt_lookup`"),
        );
    } else if RESERVED_IDS.contains(&key.name.as_str()) {
        d.push(
            Diagnostic::new(
                Code::InvalidId,
                key.span,
                format!("action id `{}` is reserved", key.name),
            )
            .with_hint("templates use this name for a scope; pick another id"),
        );
    }
    if node.as_map().is_none() {
        d.push(
            Diagnostic::new(
                Code::InvalidValue,
                node.span,
                format!(
                    "action `{}` must be a mapping, found {}",
                    key.name,
                    node.describe()
                ),
            )
            .with_hint("give the action `type:` (or `uses:`), `from:` and `options:` (or `with:`)"),
        );
        return Parsed {
            key,
            header: None,
            config: None,
        };
    }
    let header = from_node::<ActionHeader>(node, d);
    let config = header
        .as_ref()
        .and_then(|h| parse_config(key, h, node, catalog, d));
    Parsed {
        key,
        header,
        config,
    }
}

fn key_span(node: &Node, key: &str) -> Option<Span> {
    node.as_map()?
        .iter()
        .find(|(k, _)| k.name == key)
        .map(|(k, _)| k.span)
}

/// Exactly one of `type` (with `options`) and `uses` (with `with`).
fn parse_config(
    key: &Key,
    header: &ActionHeader,
    node: &Node,
    catalog: &Catalog,
    d: &mut Vec<Diagnostic>,
) -> Option<ActionConfig> {
    match (&header.kind, &header.uses) {
        (Some(_), Some(uses)) => {
            d.push(
                Diagnostic::new(
                    Code::KindConflict,
                    uses.span,
                    format!("action `{}` has both `type` and `uses`", key.name),
                )
                .with_hint(
                    "`type` names a built-in kind, `uses` an integration template; keep one",
                ),
            );
            None
        }
        (None, None) => {
            d.push(
                Diagnostic::new(
                    Code::KindConflict,
                    key.span,
                    format!("action `{}` has neither `type` nor `uses`", key.name),
                )
                .with_hint(format!(
                    "add `type:` (one of {}) or `uses: vendor/name`",
                    KINDS.join(", ")
                )),
            );
            None
        }
        (Some(kind), None) => {
            if let Some(span) = key_span(node, "with") {
                d.push(
                    Diagnostic::new(Code::KindConflict, span, "`with` belongs to `uses` actions")
                        .with_hint("a `type` action takes its settings under `options:`"),
                );
            }
            parse_builtin(key, kind, node.get("options"), catalog, d)
        }
        (None, Some(uses)) => {
            if let Some(span) = key_span(node, "options") {
                d.push(
                    Diagnostic::new(
                        Code::KindConflict,
                        span,
                        "`options` belongs to `type` actions",
                    )
                    .with_hint("a `uses` action takes its inputs under `with:`"),
                );
            }
            parse_integration_call(uses, node.get("with"), catalog, d)
        }
    }
}

/// An unknown name in `type:` or `uses:`, at the name, with the caller's hint (which may say the
/// name belongs under the other key).
fn unknown_name(code: Code, name: &Spanned<String>, what: &str, hint: String) -> Diagnostic {
    Diagnostic::new(code, name.span, format!("unknown {what} `{}`", name.value)).with_hint(hint)
}

fn parse_builtin(
    key: &Key,
    kind: &Spanned<String>,
    options: Option<&Node>,
    catalog: &Catalog,
    d: &mut Vec<Diagnostic>,
) -> Option<ActionConfig> {
    if !KINDS.contains(&kind.value.as_str()) {
        let hint = did_you_mean(&kind.value, KINDS.iter().copied()).unwrap_or_else(|| {
            if catalog.integrations.contains_key(&kind.value) {
                format!(
                    "`{}` is an integration template: write `uses: {}`",
                    kind.value, kind.value
                )
            } else {
                format!("the kinds are {}", KINDS.join(", "))
            }
        });
        d.push(unknown_name(Code::UnknownKind, kind, "action kind", hint));
        return None;
    }
    let Some(options) = options else {
        d.push(
            Diagnostic::new(
                Code::MissingKey,
                key.span,
                format!("action `{}` is missing `options`", key.name),
            )
            .with_hint(format!(
                "a `{}` action needs `options:`; `warden schema` lists them",
                kind.value
            )),
        );
        return None;
    };
    ActionConfig::read(&kind.value, options, d)
}

fn parse_integration_call(
    uses: &Spanned<String>,
    with: Option<&Node>,
    catalog: &Catalog,
    d: &mut Vec<Diagnostic>,
) -> Option<ActionConfig> {
    let Some(template) = catalog.integrations.get(&uses.value) else {
        let hint = did_you_mean(&uses.value, catalog.integrations.keys().map(String::as_str))
            .unwrap_or_else(|| {
                if KINDS.contains(&uses.value.as_str()) {
                    format!(
                        "`{}` is a built-in kind: write `type: {}`",
                        uses.value, uses.value
                    )
                } else if catalog.integrations.is_empty() {
                    "no integration templates are loaded; check WARDEN_TEMPLATES or --templates"
                        .to_owned()
                } else {
                    format!(
                        "templates are named vendor/name, e.g. {}",
                        catalog
                            .integrations
                            .keys()
                            .take(3)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            });
        d.push(unknown_name(
            Code::UnknownTemplate,
            uses,
            "integration template",
            hint,
        ));
        return None;
    };
    IntegrationCall::read(uses, template, with, d).map(ActionConfig::Integration)
}
