//! Integration-template files (`templates/<vendor>/<name>.yml`): their shape (`request` or
//! `steps`), step names, each request's options, every template against the template's own
//! scope (`inputs`, its declarations, earlier steps), and the rate limit's credential.

use super::actions::RESERVED_IDS;
use super::not_a_mapping;
use super::scope::{check_template, Scope};
use crate::diagnostic::{sort_and_dedup, Code, Diagnostic, Span};
use crate::story::integration::{Integration, IntegrationSpec};
use crate::story::kinds::check::is_snake_case_id;
use crate::story::kinds::http_request::CREDENTIAL_FIELDS;
use crate::yaml::{self, from_node};
use std::collections::BTreeSet;
use std::path::Path;

/// Validates an integration template's source. `id` is `vendor/name`.
pub fn check_integration(
    id: &str,
    path: &Path,
    source: &str,
) -> Result<Integration, Vec<Diagnostic>> {
    let mut d = Vec::new();
    let mut root_span = Span::default();
    let spec = yaml::parse(source, &mut d).and_then(|root| {
        root_span = root.span;
        if root.as_map().is_none() {
            d.push(not_a_mapping(
                &root,
                "an integration template",
                "`name`, `inputs` and `request`",
            ));
            return None;
        }
        from_node::<IntegrationSpec>(&root, &mut d)
    });
    if let Some(spec) = &spec {
        check_integration_spec(spec, root_span, &mut d);
    }
    sort_and_dedup(&mut d);
    match spec {
        Some(spec) if d.is_empty() => Ok(Integration {
            id: id.to_owned(),
            path: path.to_owned(),
            spec,
        }),
        _ => Err(d),
    }
}

fn check_integration_spec(spec: &IntegrationSpec, root: Span, d: &mut Vec<Diagnostic>) {
    let credentials: BTreeSet<String> = spec.credentials.keys().map(str::to_owned).collect();
    let resources: BTreeSet<String> = spec.resources.keys().map(str::to_owned).collect();
    let inputs: BTreeSet<&str> = spec.inputs.keys().collect();
    // Inside a template, the names in scope are the earlier steps' (what `actions` are in a story).
    fn scope<'a>(
        steps: &'a BTreeSet<&'a str>,
        credentials: Option<&'a BTreeSet<String>>,
        resources: &'a BTreeSet<String>,
        inputs: &BTreeSet<&'a str>,
        owner: String,
    ) -> Scope<'a> {
        Scope {
            actions: steps,
            all_actions: &[],
            credentials,
            resources,
            inputs: Some(inputs.clone()),
            item: false,
            owner,
        }
    }
    let in_request = |field: &str| CREDENTIAL_FIELDS.contains(&field).then_some(&credentials);
    match (&spec.request, spec.steps.is_empty()) {
        (Some(_), false) => d.push(
            Diagnostic::new(
                Code::KindConflict,
                spec.steps.iter().next().map_or(root, |(k, _)| k.span),
                "a template has either `request` or `steps`, not both",
            )
            .with_hint("move the single request into a step"),
        ),
        (None, true) => d.push(
            Diagnostic::new(Code::MissingKey, root, "the template sends nothing")
                .with_hint("add `request:` (one HTTP request) or `steps:` (several, in order)"),
        ),
        _ => {}
    }
    let mut earlier: BTreeSet<&str> = BTreeSet::new();
    for request in spec.requests() {
        let owner = match request.name {
            Some(name) => format!("step `{name}` of this template"),
            None => "this template".to_owned(),
        };
        if let Some(when) = request.when {
            let scope = scope(&earlier, None, &resources, &inputs, owner.clone());
            check_template(when, &scope, d);
        }
        request.options.each_template(&mut |field, t| {
            let scope = scope(
                &earlier,
                in_request(field),
                &resources,
                &inputs,
                owner.clone(),
            );
            check_template(t, &scope, d);
        });
        request.options.check(d);
        earlier.extend(request.name);
    }
    for (name, _) in spec.steps.iter() {
        if !is_snake_case_id(&name.value) || RESERVED_IDS.contains(&name.value.as_str()) {
            d.push(
                Diagnostic::new(
                    Code::InvalidId,
                    name.span,
                    format!("`{}` cannot name a step", name.value),
                )
                .with_hint("a step's name is read as a variable: use snake_case, not a scope's name (inputs, run, step, …)"),
            );
        }
    }
    if let Some(output) = &spec.output {
        let owner = "this template's `output`".to_owned();
        let scope = scope(&earlier, None, &resources, &inputs, owner);
        output.each_template(&mut |t| check_template(t, &scope, d));
    }
    if let Some(limit) = &spec.rate_limit {
        if !credentials.contains(&limit.credential.value) {
            d.push(
                Diagnostic::new(
                    Code::UnknownCredential,
                    limit.credential.span,
                    format!("unknown credential `{}`", limit.credential.value),
                )
                .with_hint("a rate limit is bound to one of the template's `credentials:`"),
            );
        }
        if limit.requests.value == 0 || limit.per.value.is_zero() {
            d.push(Diagnostic::new(
                Code::InvalidOption,
                limit.requests.span,
                "a rate limit needs at least one request per non-zero period",
            ));
        }
    }
}
