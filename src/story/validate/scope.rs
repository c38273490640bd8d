//! Template scopes: which roots a template may read where it stands. Its ancestors in the graph
//! (a webhook's `dedupe_key` reads only its own event), `run`, `step`, `resources.<declared>`,
//! `credentials.<declared>` only in an outbound request's headers, body and auth, `inputs` only
//! inside integration templates, `item` only in a looping message payload.

use super::actions::Parsed;
use super::Known;
use crate::diagnostic::{did_you_mean, Code, Diagnostic, Span};
use crate::story::kinds::transform::TransformOptions;
use crate::story::kinds::ActionConfig;
use crate::story::value::Template;
use crate::template::names;
use std::collections::BTreeSet;

/// Attributes of `run` in templates.
pub const RUN_FIELDS: &[&str] = &["id", "story", "story_version", "started_at"];
/// Attributes of `step` in templates.
pub const STEP_FIELDS: &[&str] = &["id", "action", "attempt", "idempotency_key"];

/// What a template may read.
pub(super) struct Scope<'a> {
    /// Ids of actions whose output is in the context.
    pub(super) actions: &'a BTreeSet<&'a str>,
    /// Every action id of the story, to say "not upstream" rather than "unknown".
    pub(super) all_actions: &'a [Parsed<'a>],
    /// `Some` where credentials may be rendered (outbound requests only).
    pub(super) credentials: Option<&'a BTreeSet<String>>,
    pub(super) resources: &'a BTreeSet<String>,
    /// `Some` inside an integration template.
    pub(super) inputs: Option<BTreeSet<&'a str>>,
    /// `item` is bound (a looping message transform).
    pub(super) item: bool,
    /// Names the place in messages, e.g. "action `vt_lookup`".
    pub(super) owner: String,
}

/// Checks every template of an action against its scope; `upstream` are its ancestors.
pub(super) fn check_action_templates(
    action: &Parsed,
    config: &ActionConfig,
    upstream: &BTreeSet<&str>,
    parsed: &[Parsed],
    known: &Known,
    d: &mut Vec<Diagnostic>,
) {
    let own: BTreeSet<&str> = [action.id()].into();
    let looping = matches!(config, ActionConfig::Transform(TransformOptions::Message(m)) if m.loop_over.is_some());
    config.each_template(&mut |field, template| {
        let scope = Scope {
            // A webhook's dedupe key reads the webhook's own event.
            actions: if field == "dedupe_key" {
                &own
            } else {
                upstream
            },
            all_actions: parsed,
            credentials: config
                .allows_credentials(field)
                .then_some(&known.credentials),
            resources: &known.resources,
            inputs: None,
            item: looping && field == "payload",
            owner: format!("action `{}`", action.id()),
        };
        check_template(template, &scope, d);
    });
}

/// Reports a template's syntax error, or else each variable its scope does not hold, at the
/// template's position.
pub(super) fn check_template(template: &Template, scope: &Scope, d: &mut Vec<Diagnostic>) {
    let compiled = match template.compiled() {
        Ok(compiled) => compiled,
        Err(error) => {
            let message = error.to_string();
            let message = message.strip_prefix("syntax error: ").unwrap_or(&message);
            d.push(
                Diagnostic::new(Code::TemplateSyntax, template.span, format!("template syntax error: {message}"))
                    .with_hint("templates are minijinja (Jinja2): {{ expression }}, {% if … %}…{% endif %}, filters with |"),
            );
            return;
        }
    };
    for (kind, name) in names::called(compiled.source()) {
        if !names::is_known(kind, &name) {
            let hint =
                did_you_mean(&name, kind.known_names().iter().copied()).unwrap_or_else(|| {
                    format!(
                        "the {}s are: {}",
                        kind.as_str(),
                        kind.known_names().join(", ")
                    )
                });
            d.push(
                Diagnostic::new(
                    Code::UnknownFilter,
                    template.span,
                    format!("unknown {} `{name}`", kind.as_str()),
                )
                .with_hint(hint),
            );
        }
    }
    for variable in compiled.variables() {
        let mut parts = variable.split('.');
        let root = parts.next().unwrap_or_default();
        let attribute = parts.next();
        if let Some(diagnostic) = check_variable(root, attribute, &variable, scope) {
            d.push(diagnostic.with_span(template.span));
        }
    }
}

/// A diagnostic waiting for the template's position.
struct Pending {
    code: Code,
    message: String,
    hint: Option<String>,
}

impl Pending {
    fn with_span(self, span: Span) -> Diagnostic {
        Diagnostic::new(self.code, span, self.message).with_hint_opt(self.hint)
    }
}

fn pending(code: Code, message: String, hint: Option<String>) -> Option<Pending> {
    Some(Pending {
        code,
        message,
        hint,
    })
}

/// `credentials.<name>` or `resources.<name>`: the name must be one of `names`.
fn check_named(
    attribute: Option<&str>,
    names: &BTreeSet<String>,
    code: Code,
    scope_name: &str,
    declare_hint: &str,
) -> Option<Pending> {
    let Some(name) = attribute else {
        return pending(
            code,
            format!("`{scope_name}` must be followed by a name, e.g. `{scope_name}.<name>`"),
            Some(format!(
                "the known names are: {}",
                names.iter().cloned().collect::<Vec<_>>().join(", ")
            )),
        );
    };
    if names.contains(name) {
        return None;
    }
    let hint = did_you_mean(name, names.iter().map(String::as_str))
        .unwrap_or_else(|| declare_hint.to_owned());
    pending(
        code,
        format!("unknown {} `{name}`", scope_name.trim_end_matches('s')),
        Some(hint),
    )
}

fn check_variable(
    root: &str,
    attribute: Option<&str>,
    variable: &str,
    scope: &Scope,
) -> Option<Pending> {
    match root {
        "credentials" => match scope.credentials {
            None => pending(
                Code::CredentialOutsideRequest,
                format!("`{variable}` is used outside a request's headers, body or auth in {}", scope.owner),
                Some("credentials render only into an http_request's (or a prompt `request`'s) headers, body, basic_auth or bearer_token, never a URL or a stored event".to_owned()),
            ),
            Some(names) => check_named(
                attribute,
                names,
                Code::UnknownCredential,
                "credentials",
                "declare it under the story's top-level `credentials:` (name: what it holds)",
            ),
        },
        "resources" => check_named(
            attribute,
            scope.resources,
            Code::UnknownResource,
            "resources",
            "declare it under the story's top-level `resources:` (name: what it holds)",
        ),
        "run" | "step" => {
            let fields = if root == "run" { RUN_FIELDS } else { STEP_FIELDS };
            match attribute {
                Some(a) if !fields.contains(&a) => pending(
                    Code::UnknownVariable,
                    format!("`{root}` has no attribute `{a}`"),
                    Some(did_you_mean(a, fields.iter().copied()).unwrap_or_else(|| format!("`{root}` has: {}", fields.join(", ")))),
                ),
                _ => None,
            }
        }
        "inputs" => match &scope.inputs {
            None => pending(
                Code::UnknownVariable,
                format!("`inputs` is only defined inside integration templates, not in {}", scope.owner),
                Some("refer to an upstream action's output by its id instead".to_owned()),
            ),
            Some(inputs) => match attribute {
                Some(a) if !inputs.contains(a) => pending(
                    Code::UnknownVariable,
                    format!("unknown input `{a}`"),
                    Some(did_you_mean(a, inputs.iter().copied()).unwrap_or_else(|| "declare it under `inputs:`".to_owned())),
                ),
                _ => None,
            },
        },
        "item" if scope.item => None,
        _ if scope.actions.contains(root) => None,
        _ => {
            if scope.all_actions.iter().any(|a| a.id() == root) {
                return pending(
                    Code::UnknownVariable,
                    format!("`{root}` is not upstream of {}, so its output is not in the event", scope.owner),
                    Some(format!("only actions on a path leading here can be read; link `{root}` into this branch with `from`")),
                );
            }
            let mut candidates: Vec<&str> = scope.actions.iter().copied().collect();
            candidates.extend(["run", "step", "resources"]);
            if scope.credentials.is_some() {
                candidates.push("credentials");
            }
            if scope.inputs.is_some() {
                candidates.push("inputs");
            }
            let hint = did_you_mean(root, candidates.iter().copied()).unwrap_or_else(|| {
                if root == "item" {
                    "`item` is bound only in a message transform's `payload` with `loop:`".to_owned()
                } else if scope.actions.is_empty() {
                    "nothing is upstream here; templates can read `run`, `step` and `resources`".to_owned()
                } else {
                    format!("upstream actions here: {}", scope.actions.iter().copied().collect::<Vec<_>>().join(", "))
                }
            });
            pending(Code::UnknownVariable, format!("unknown variable `{root}` in {}", scope.owner), Some(hint))
        }
    }
}
