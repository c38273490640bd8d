//! Rendering: a [`Compiled`] field against a [`Context`] to typed JSON, and
//! render errors that say which path was missing.

use std::fmt::Write as _;

use minijinja::{Environment, ErrorKind};
use serde_json::{Map, Value as Json};

use super::compile::{compile, root_of, single_expression, Compiled, Kind};
use super::environment::{env, tolerant_env, SLACK_MRKDWN};
use super::error::{describe, Error};
use super::filters::REQUIRED_IS_MISSING;
use super::value::{to_json, Undefined};
use super::{Context, FUEL};

impl Compiled {
    /// Renders the field against `ctx`.
    ///
    /// A literal renders to its source, a single expression to its typed
    /// value, any other template to a string. Missing data is an error, unless `ctx` tolerates
    /// it ([`Context::tolerating_missing_data`]): then the field is rendered again with missing
    /// values empty (`null` for a single expression) and the missing paths are recorded.
    pub fn render(&self, ctx: &Context) -> Result<Json, Error> {
        match &self.kind {
            Kind::Literal => Ok(Json::String(self.source.to_string())),
            Kind::Expression { expr, line_base } => {
                let rendered = expr
                    .eval(ctx.root().clone())
                    .and_then(|value| to_json(&value, Undefined::Fails));
                match rendered {
                    Err(e) if self.may_tolerate(&e, ctx) => self.render_tolerant(ctx, *line_base),
                    other => other.map_err(|e| self.render_error(&e, ctx, *line_base)),
                }
            }
            Kind::Text => self
                .render_text(None, ctx)
                .map(Json::String)
                .map_err(|e| self.render_error(&e, ctx, 0)),
        }
    }

    /// Renders the field as Slack mrkdwn text: the template's own text is kept as written (the
    /// author's `*bold*` and `<https://…|links>` work), and every `{{ }}` output is escaped
    /// with Slack's rules (`&`, `<`, `>` as entities) unless marked safe (`| safe`, or
    /// already `| slack_escape`d). Outside data therefore cannot add links or mentions.
    pub fn render_slack_mrkdwn(&self, ctx: &Context) -> Result<String, Error> {
        match &self.kind {
            Kind::Literal => Ok(self.source.to_string()),
            Kind::Expression { .. } | Kind::Text => self
                .render_text(Some(SLACK_MRKDWN), ctx)
                .map_err(|e| self.render_error(&e, ctx, 0)),
        }
    }

    /// Renders the source as a template (named `name`, for its escaping), strictly, then
    /// tolerantly if it met missing data `ctx` tolerates.
    fn render_text(&self, name: Option<&str>, ctx: &Context) -> Result<String, minijinja::Error> {
        let render = |env: &'static Environment<'static>| {
            match name {
                Some(name) => env.template_from_named_str(name, &self.source),
                None => env.template_from_str(&self.source),
            }
            .and_then(|template| template.render(ctx.root().clone()))
        };
        match render(env()) {
            Err(e) if self.may_tolerate(&e, ctx) => render(tolerant_env()),
            rendered => rendered,
        }
    }

    /// Whether `err` was missing data that `ctx` lets render empty (recording the paths).
    fn may_tolerate(&self, err: &minijinja::Error, ctx: &Context) -> bool {
        if err.kind() != ErrorKind::UndefinedError || err.detail() == Some(REQUIRED_IS_MISSING) {
            return false;
        }
        let mut missing: Vec<String> = self
            .variables
            .iter()
            .filter_map(|path| ctx.missing_path(path))
            .collect();
        if missing.is_empty() {
            // Found through a subscript or a loop variable static analysis cannot follow.
            missing.push(format!("{{{{ {} }}}}", self.source.trim()));
        }
        ctx.tolerates(&missing)
    }

    /// A single expression evaluated again in the tolerant environment (compiled there on
    /// demand: missing data is the rare path).
    fn render_tolerant(&self, ctx: &Context, line_base: usize) -> Result<Json, Error> {
        let (_, inner) = single_expression(&self.source).unwrap_or((0, &self.source));
        tolerant_env()
            .compile_expression(inner)
            .and_then(|expr| expr.eval(ctx.root().clone()))
            .and_then(|value| to_json(&value, Undefined::IsNull))
            .map_err(|e| self.render_error(&e, ctx, line_base))
    }

    fn render_error(&self, err: &minijinja::Error, ctx: &Context, line_base: usize) -> Error {
        let line = err.line().map(|l| l + line_base);
        let mut message = match err.kind() {
            ErrorKind::UndefinedError => self
                .explain_undefined(ctx, line)
                .unwrap_or_else(|| describe(err)),
            ErrorKind::OutOfFuel => format!(
                "template exceeded its work budget of {FUEL} fuel (too many loop iterations or too much data)"
            ),
            _ => describe(err),
        };
        if let (Some(line), true) = (line, self.source.contains('\n')) {
            let _ = write!(message, " (line {line})");
        }
        Error::Render {
            message: ctx.redact(message),
        }
    }

    /// Names the first statically known path that is missing from `ctx`,
    /// looking only at paths whose root is written on the failing line.
    /// minijinja (without its `debug` feature) says only "undefined value".
    fn explain_undefined(&self, ctx: &Context, line: Option<usize>) -> Option<String> {
        let line_text = line.and_then(|l| self.source.lines().nth(l - 1));
        self.variables
            .iter()
            .filter(|path| line_text.is_none_or(|text| text.contains(root_of(path))))
            .find_map(|path| ctx.missing(path))
    }
}

/// Renders every string leaf of `value` as a template; object keys are
/// left as they are. Errors name the failing leaf by JSON pointer.
pub fn render_value(value: &Json, ctx: &Context) -> Result<Json, Error> {
    render_at(value, ctx, &mut String::new())
}

fn render_at(value: &Json, ctx: &Context, pointer: &mut String) -> Result<Json, Error> {
    match value {
        Json::String(source) => compile(source)
            .and_then(|compiled| compiled.render(ctx))
            .map_err(|e| e.prefixed(if pointer.is_empty() { "/" } else { pointer })),
        Json::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let len = pointer.len();
                let _ = write!(pointer, "/{index}");
                out.push(render_at(item, ctx, pointer)?);
                pointer.truncate(len);
            }
            Ok(Json::Array(out))
        }
        Json::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, item) in map {
                let len = pointer.len();
                let _ = write!(pointer, "/{}", key.replace('~', "~0").replace('/', "~1"));
                out.insert(key.clone(), render_at(item, ctx, pointer)?);
                pointer.truncate(len);
            }
            Ok(Json::Object(out))
        }
        other => Ok(other.clone()),
    }
}
