//! `uses: vendor/name`: an action that runs an integration template with the inputs under
//! `with:`. Its options are the template's own `inputs`, so they are read against the template.

use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::story::integration::Integration;
use crate::story::value::Dynamic;
use crate::yaml::{from_node, Entries, Node, Spanned};
use std::sync::Arc;

/// An action that runs an integration template.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationCall {
    /// The template, as loaded from `templates/`.
    pub template: Arc<Integration>,
    /// The inputs given under `with:`; rendered in the story's scope, then passed as `inputs`.
    pub with: Entries<Dynamic>,
}

impl IntegrationCall {
    /// Reads `with:` against `template`'s inputs: every input given must exist and every
    /// required one must be given. `uses` is the template's name as written, where a missing
    /// input is reported. `None` only when `with:` is not a mapping of values (reported); unknown
    /// or missing inputs are reported but still give a call, so the action's other checks run.
    pub fn read(
        uses: &Spanned<String>,
        template: &Arc<Integration>,
        with: Option<&Node>,
        d: &mut Vec<Diagnostic>,
    ) -> Option<IntegrationCall> {
        let with: Entries<Dynamic> = match with {
            Some(node) => from_node(node, d)?,
            None => Entries::default(),
        };
        let inputs = &template.spec.inputs;
        for (name, _) in with.iter() {
            if inputs.get(&name.value).is_none() {
                let names = inputs.keys();
                let hint = did_you_mean(&name.value, names.clone()).unwrap_or_else(|| {
                    format!(
                        "`{}` takes: {}",
                        uses.value,
                        names.collect::<Vec<_>>().join(", ")
                    )
                });
                d.push(
                    Diagnostic::new(
                        Code::UnknownKey,
                        name.span,
                        format!("`{}` has no input `{}`", uses.value, name.value),
                    )
                    .with_hint(hint),
                );
            }
        }
        for (name, spec) in inputs.iter() {
            if spec.is_required() && with.get(&name.value).is_none() {
                d.push(
                    Diagnostic::new(
                        Code::MissingKey,
                        uses.span,
                        format!("`{}` needs input `{}`", uses.value, name.value),
                    )
                    .with_hint(format!(
                        "add `with: {{ {}: … }}` ({})",
                        name.value, spec.description
                    )),
                );
            }
        }
        Some(IntegrationCall {
            template: template.clone(),
            with,
        })
    }
}
