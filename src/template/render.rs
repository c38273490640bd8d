//! Rendering: a [`Compiled`] field against a [`Context`] to typed JSON, and
//! render errors that say which path was missing.

use std::fmt::Write as _;

use minijinja::ErrorKind;
use serde_json::{Map, Value as Json};

use super::compile::{compile, root_of, Compiled, Kind};
use super::environment::{env, SLACK_MRKDWN};
use super::error::{describe, Error};
use super::value::to_json;
use super::{Context, FUEL};

impl Compiled {
    /// Renders the field against `ctx`.
    ///
    /// A literal renders to its source, a single expression to its typed
    /// value, any other template to a string.
    pub fn render(&self, ctx: &Context) -> Result<Json, Error> {
        match &self.kind {
            Kind::Literal => Ok(Json::String(self.source.to_string())),
            Kind::Expression { expr, line_base } => expr
                .eval(ctx.root().clone())
                .and_then(|value| to_json(&value))
                .map_err(|e| self.render_error(&e, ctx, *line_base)),
            Kind::Text => env()
                .template_from_str(&self.source)
                .and_then(|template| template.render(ctx.root().clone()))
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
            Kind::Expression { .. } | Kind::Text => env()
                .template_from_named_str(SLACK_MRKDWN, &self.source)
                .and_then(|template| template.render(ctx.root().clone()))
                .map_err(|e| self.render_error(&e, ctx, 0)),
        }
    }

    fn render_error(&self, err: &minijinja::Error, ctx: &Context, line_base: usize) -> Error {
        let line = err.line().map(|l| l + line_base);
        let mut message = match err.kind() {
            ErrorKind::UndefinedError => self
                .explain_undefined(ctx, line)
                .unwrap_or_else(|| "undefined value".to_owned()),
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
