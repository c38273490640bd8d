//! [`compile`]: a field's source to a [`Compiled`] template, and what static
//! analysis says it reads.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use minijinja::Expression;

use super::environment::env;
use super::error::{describe, Error};
use super::FUNCTIONS;

/// A compiled field: cheap to clone, shareable across threads, `'static`.
#[derive(Clone)]
pub struct Compiled {
    pub(super) source: Arc<str>,
    pub(super) kind: Kind,
    pub(super) variables: Arc<[String]>,
}

#[derive(Clone)]
pub(super) enum Kind {
    /// No template markup: renders to the source unchanged.
    Literal,
    /// Exactly one `{{ expr }}`; `line_base` is the number of lines before
    /// the expression, to map minijinja's expression-relative lines.
    Expression {
        expr: Arc<Expression<'static, 'static>>,
        line_base: usize,
    },
    /// Any other template. minijinja 3.1 has no owned single-template handle
    /// outside an environment's template store, so the source is validated
    /// here and parsed again at render time (microseconds for a field).
    Text,
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Literal => "literal",
            Kind::Expression { .. } => "expression",
            Kind::Text => "text",
        };
        f.debug_struct("Compiled")
            .field("kind", &kind)
            .field("source", &&*self.source)
            .finish()
    }
}

impl PartialEq for Compiled {
    fn eq(&self, other: &Compiled) -> bool {
        self.source == other.source
    }
}

impl Eq for Compiled {}

/// Compiles a field's source.
///
/// Fails with [`Error::Syntax`] when the source does not parse. Unknown
/// filters are only detected when rendering (minijinja resolves them then).
pub fn compile(source: &str) -> Result<Compiled, Error> {
    let shared: Arc<str> = Arc::from(source);
    if !has_markup(source) {
        return Ok(Compiled {
            source: shared,
            kind: Kind::Literal,
            variables: Arc::from(Vec::new()),
        });
    }
    if let Some((offset, inner)) = single_expression(source) {
        let line_base = source[..offset].matches('\n').count();
        let expr = env()
            .compile_expression_owned(inner.to_owned())
            .map_err(|e| syntax_error(&e, source, offset, line_base))?;
        let variables = report_variables(expr.undeclared_variables(true));
        return Ok(Compiled {
            source: shared,
            kind: Kind::Expression {
                expr: Arc::new(expr),
                line_base,
            },
            variables,
        });
    }
    let template = env()
        .template_from_str(source)
        .map_err(|e| syntax_error(&e, source, 0, 0))?;
    let variables = report_variables(template.undeclared_variables(true));
    Ok(Compiled {
        source: shared,
        kind: Kind::Text,
        variables,
    })
}

fn has_markup(source: &str) -> bool {
    source.contains("{{") || source.contains("{%") || source.contains("{#")
}

/// If the trimmed source is exactly one `{{ expr }}` (whitespace-control
/// marks allowed), returns the byte offset of `expr` and `expr` itself.
pub(super) fn single_expression(source: &str) -> Option<(usize, &str)> {
    let trimmed = source.trim();
    let mut offset = source.len() - source.trim_start().len() + 2;
    let mut inner = trimmed.strip_prefix("{{")?.strip_suffix("}}")?;
    if let Some(rest) = inner.strip_prefix(['-', '+']) {
        inner = rest;
        offset += 1;
    }
    inner = inner.strip_suffix(['-', '+']).unwrap_or(inner);
    // `{{ x }}}` is `x` followed by text, not an expression ending in `}`.
    if inner.ends_with('}') {
        return None;
    }
    let nested = ["{{", "}}", "{%", "%}", "{#", "#}"];
    if nested.iter().any(|mark| inner.contains(mark)) {
        return None;
    }
    Some((offset, inner))
}

fn syntax_error(err: &minijinja::Error, source: &str, offset: usize, line_base: usize) -> Error {
    let line = err.line().map(|l| l + line_base);
    let offset = line.map(|l| {
        if l == line_base + 1 {
            offset
        } else {
            line_start(source, l)
        }
    });
    Error::Syntax {
        message: describe(err),
        line,
        offset,
    }
}

/// Byte offset of the start of 1-based `line` in `source`.
fn line_start(source: &str, line: usize) -> usize {
    source
        .match_indices('\n')
        .nth(line.saturating_sub(2))
        .map_or(0, |(i, _)| i + 1)
}

/// Sorted, de-duplicated reads, minus global functions and hidden runner
/// variables (roots starting with `__`).
fn report_variables(found: HashSet<String>) -> Arc<[String]> {
    let mut out: Vec<String> = found
        .into_iter()
        .filter(|path| {
            let root = root_of(path);
            !root.starts_with("__") && !FUNCTIONS.contains(&root)
        })
        .collect();
    out.sort();
    Arc::from(out)
}

/// The root variable of a dotted path: `vt_lookup` of `vt_lookup.body`.
pub(super) fn root_of(path: &str) -> &str {
    path.split('.').next().unwrap_or_default()
}

impl Compiled {
    /// The source the field was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the source has no template markup and renders to itself.
    pub fn is_literal(&self) -> bool {
        matches!(self.kind, Kind::Literal)
    }

    /// True when the field is a single `{{ expr }}` and renders typed JSON.
    pub fn is_expression(&self) -> bool {
        matches!(self.kind, Kind::Expression { .. })
    }

    /// Sorted, de-duplicated dotted paths the template reads from its
    /// context, e.g. `["credentials.virustotal", "vt_lookup.body.data"]`.
    ///
    /// Paths follow minijinja's static analysis: attribute chains are
    /// reported in full up to the first subscript, filter or call
    /// (`a.b["c"].d` reports `a.b`, `m.items()` reports `m.items`), loop and
    /// `set` variables are not reported, and both `a.b` and `a.b.c` appear
    /// when both are read. Global functions and `__` variables are left out.
    pub fn variables(&self) -> Vec<String> {
        self.variables.to_vec()
    }
}
