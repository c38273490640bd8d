//! Story field templates.
//!
//! Every string field of a story is a minijinja template such as
//! `"{{ vt_lookup.body.data.attributes.last_analysis_stats.malicious }}"` or
//! `"https://x/{{ inputs.ip | urlencode }}"`. Fields are compiled once when a
//! story is loaded ([`compile`]) and rendered many times by the runner
//! ([`Compiled::render`]) against a [`Context`] of upstream action outputs
//! and scopes.
//!
//! A field renders to typed JSON when it is exactly one `{{ expr }}`, so
//! `"{{ alert.count }}"` yields a number and `"{{ alert.tags }}"` a list;
//! anything else renders to a string.
//!
//! All templates share one environment: strict undefined handling (a typo is
//! an error, not an empty string), a fuel budget ([`FUEL`]) so that no
//! template can hang or exhaust the runner, and no auto-escaping (fields are
//! URLs, JSON and chat messages, not HTML).

mod filters;

use std::fmt::{self, Write as _};
use std::sync::{Arc, OnceLock};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Serde, Value as MjValue, ValueKind};
use minijinja::{AutoEscape, Environment, ErrorKind, Expression, Output, State, UndefinedBehavior};
use serde_json::{Map, Value as Json};

/// Work budget of one render, in minijinja fuel.
///
/// One fuel is roughly one instruction or 64 bytes of data produced or
/// processed, so this bounds a render to about a million instructions and
/// 64 MB of allocations: an endless `{% for %}` stops within tens of
/// milliseconds, while a template that passes a multi-megabyte HTTP body
/// through `| json` or `| jsonpath(...)` still fits.
pub const FUEL: u64 = 1_000_000;

/// Root scopes the runner places in every [`Context`] besides upstream
/// action ids.
pub const SCOPES: &[&str] = &["credentials", "resources", "run", "step", "inputs", "item"];

/// Global functions callable from templates (`{{ range(3) }}`).
///
/// A validator uses this to tell a function call from a reference to an
/// upstream action: these names never appear in [`Compiled::variables`].
/// minijinja's `debug()` global is removed because it would dump the whole
/// context, credentials included, into a field.
pub const FUNCTIONS: &[&str] = &["dict", "namespace", "prompt_url", "range"];

/// Hidden root variable the runner sets for prompt actions: an object mapping
/// each answer status to the URL that records it. Read by `prompt_url()`.
pub const PROMPT_URLS: &str = "__prompt_urls";

/// Text put in an error message in place of a credential value.
const REDACTED: &str = "[redacted]";

/// Errors from compiling or rendering a template.
///
/// Messages are built from the template source and minijinja's error kind
/// and detail, never from context values, and credential values are scrubbed
/// from them as a second line of defence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The template source does not parse.
    #[error("{message}")]
    Syntax {
        /// One-line description, e.g. `syntax error: unexpected end of input, expected end of variable block`.
        message: String,
        /// 1-based line within the template source.
        line: Option<usize>,
        /// Byte offset within the template source where the failing line
        /// (or, for a single `{{ expr }}` field, the expression) starts.
        /// minijinja 3.1 built without its `debug` feature reports only a
        /// line, so no finer position exists.
        offset: Option<usize>,
    },
    /// Rendering failed: undefined value, out of fuel, failing filter.
    #[error("{message}")]
    Render {
        /// One-line description naming the variable or filter that failed.
        message: String,
    },
}

impl Error {
    /// The message, without position.
    pub fn message(&self) -> &str {
        match self {
            Error::Syntax { message, .. } | Error::Render { message } => message,
        }
    }

    fn prefixed(mut self, prefix: &str) -> Error {
        let (Error::Syntax { message, .. } | Error::Render { message }) = &mut self;
        *message = format!("{prefix}: {message}");
        self
    }
}

static ENV: OnceLock<Environment<'static>> = OnceLock::new();

/// The process-wide environment; `'static` so compiled expressions can be
/// stored in the story model without lifetimes.
fn env() -> &'static Environment<'static> {
    ENV.get_or_init(build_env)
}

fn build_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // minijinja drops a template's final newline by default; a literal
    // field keeps it, so a field must not change ending when a `{{ }}` is
    // added to it (YAML `|` blocks end in a newline).
    let syntax = SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .expect("the default delimiters are valid");
    env.set_syntax(syntax);
    env.remove_global("debug");
    env.set_formatter(format_output);
    filters::register(&mut env);
    env
}

/// Writes `{{ value }}` output in text templates.
///
/// minijinja prints Python reprs (`None`, `True`, `{'a': [1]}`); a security
/// workflow wants JSON, so everything but strings and numbers is written as
/// compact JSON (`null`, `true`, `{"a":[1]}`).
fn format_output(
    out: &mut Output,
    state: &mut State,
    value: &MjValue,
) -> Result<(), minijinja::Error> {
    match value.kind() {
        ValueKind::None
        | ValueKind::Bool
        | ValueKind::Seq
        | ValueKind::Map
        | ValueKind::Iterable => {
            let json = to_json(value)?;
            write!(out, "{json}").map_err(minijinja::Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// A compiled field: cheap to clone, shareable across threads, `'static`.
#[derive(Clone)]
pub struct Compiled {
    source: Arc<str>,
    kind: Kind,
    variables: Arc<[String]>,
}

#[derive(Clone)]
enum Kind {
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
fn single_expression(source: &str) -> Option<(usize, &str)> {
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

/// `kind: detail`, without minijinja's ` (in <string>:1)` suffix.
fn describe(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    }
}

/// Sorted, de-duplicated reads, minus global functions and hidden runner
/// variables (roots starting with `__`).
fn report_variables(found: std::collections::HashSet<String>) -> Arc<[String]> {
    let mut out: Vec<String> = found
        .into_iter()
        .filter(|path| {
            let root = path.split('.').next().unwrap_or_default();
            !root.starts_with("__") && !FUNCTIONS.contains(&root)
        })
        .collect();
    out.sort();
    Arc::from(out)
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

    /// Renders the field against `ctx`.
    ///
    /// A literal renders to its source, a single expression to its typed
    /// value, any other template to a string.
    pub fn render(&self, ctx: &Context) -> Result<Json, Error> {
        match &self.kind {
            Kind::Literal => Ok(Json::String(self.source.to_string())),
            Kind::Expression { expr, line_base } => expr
                .eval(ctx.root.clone())
                .and_then(|value| to_json(&value))
                .map_err(|e| self.render_error(&e, ctx, *line_base)),
            Kind::Text => env()
                .template_from_str(&self.source)
                .and_then(|template| template.render(ctx.root.clone()))
                .map(Json::String)
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
            .filter(|path| {
                let root = path.split('.').next().unwrap_or_default();
                line_text.is_none_or(|text| text.contains(root))
            })
            .find_map(|path| ctx.missing(path))
    }
}

/// Root variables a template renders against: upstream action ids and the
/// [`SCOPES`]. Converted to a minijinja value once, so one context serves
/// many renders cheaply; clones share it.
#[derive(Clone)]
pub struct Context {
    root: MjValue,
    /// Credential strings, longest first, to scrub from error messages.
    secrets: Arc<[String]>,
}

impl Context {
    /// Builds a context from root variables (`receive_alert`, `credentials`…).
    pub fn new(vars: Map<String, Json>) -> Context {
        let secrets = secrets_of(vars.get("credentials"));
        Context {
            root: MjValue::from(Serde(vars)),
            secrets,
        }
    }

    /// A copy with root variable `name` set to `value` (e.g. `item` for each
    /// element of a loop). The other roots are shared, not converted again.
    pub fn with(&self, name: &str, value: &Json) -> Context {
        let new_value = MjValue::from(Serde(value));
        let mut replaced = false;
        let mut pairs: Vec<(MjValue, MjValue)> = Vec::new();
        for key in self.root.try_iter().into_iter().flatten() {
            if key.as_str() == Some(name) {
                replaced = true;
                pairs.push((key, new_value.clone()));
            } else {
                let old = self.root.get_item(&key).unwrap_or_default();
                pairs.push((key, old));
            }
        }
        if !replaced {
            pairs.push((MjValue::from(name), new_value));
        }
        Context {
            root: MjValue::from_pairs(pairs),
            secrets: if name == "credentials" {
                secrets_of(Some(value))
            } else {
                self.secrets.clone()
            },
        }
    }

    fn redact(&self, mut message: String) -> String {
        for secret in self.secrets.iter() {
            if message.contains(secret.as_str()) {
                message = message.replace(secret.as_str(), REDACTED);
            }
        }
        message
    }

    fn root_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .root
            .try_iter()
            .map(|keys| keys.filter_map(|k| k.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        names.retain(|n| !n.starts_with("__"));
        names
    }

    /// Describes why dotted `path` does not resolve, or `None` if it does.
    fn missing(&self, path: &str) -> Option<String> {
        let mut parts = path.split('.');
        let root = parts.next()?;
        let mut current = self.root.get_attr(root).ok().filter(|v| !v.is_undefined());
        if current.is_none() {
            let mut known = self.root_names();
            known.truncate(20);
            return Some(format!(
                "undefined variable `{root}` (known: {})",
                known.join(", ")
            ));
        }
        let mut walked = root.to_owned();
        for part in parts {
            let parent = current?;
            current = match (part.parse::<usize>(), parent.kind()) {
                (Ok(index), ValueKind::Seq) => parent.get_item_by_index(index).ok(),
                _ => parent.get_attr(part).ok(),
            }
            .filter(|v| !v.is_undefined());
            if current.is_none() {
                return Some(format!(
                    "undefined value `{walked}.{part}`: `{walked}` ({}) has no attribute `{part}`",
                    parent.kind()
                ));
            }
            walked.push('.');
            walked.push_str(part);
        }
        None
    }
}

impl Default for Context {
    fn default() -> Context {
        Context::new(Map::new())
    }
}

impl From<Map<String, Json>> for Context {
    fn from(vars: Map<String, Json>) -> Context {
        Context::new(vars)
    }
}

/// Shows root names only: a context holds credentials.
impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("roots", &self.root_names())
            .finish_non_exhaustive()
    }
}

/// Credential scalars to scrub, longest first so that a secret containing
/// another is replaced whole.
fn secrets_of(credentials: Option<&Json>) -> Arc<[String]> {
    let mut secrets = Vec::new();
    if let Some(credentials) = credentials {
        collect_secrets(credentials, &mut secrets);
    }
    secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    secrets.dedup();
    Arc::from(secrets)
}

/// Gathers every scalar under `credentials`, in the forms an error message
/// could carry it: raw, JSON-escaped and Rust-debug-escaped.
fn collect_secrets(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::String(s) if !s.is_empty() => {
            out.push(s.clone());
            let json = Json::String(s.clone()).to_string();
            out.push(json[1..json.len() - 1].to_owned());
            out.push(s.escape_debug().to_string());
        }
        Json::Number(n) => out.push(n.to_string()),
        Json::Array(items) => items.iter().for_each(|v| collect_secrets(v, out)),
        Json::Object(map) => map.values().for_each(|v| collect_secrets(v, out)),
        _ => {}
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

/// Converts a minijinja value to JSON; an undefined value anywhere inside is
/// an error, since strict mode must not turn a typo into `null`.
fn to_json(value: &MjValue) -> Result<Json, minijinja::Error> {
    Ok(match value.kind() {
        ValueKind::Undefined => return Err(ErrorKind::UndefinedError.into()),
        ValueKind::None => Json::Null,
        ValueKind::Bool => Json::Bool(value.is_true()),
        ValueKind::Number => number_to_json(value),
        ValueKind::String => Json::String(value.as_str().unwrap_or_default().to_owned()),
        ValueKind::Bytes => {
            Json::String(String::from_utf8_lossy(value.as_bytes().unwrap_or_default()).into_owned())
        }
        ValueKind::Seq | ValueKind::Iterable => Json::Array(
            value
                .try_iter()?
                .map(|item| to_json(&item))
                .collect::<Result<_, _>>()?,
        ),
        ValueKind::Map => {
            let mut map = Map::new();
            for key in value.try_iter()? {
                let item = to_json(&value.get_item(&key)?)?;
                let key = key.as_str().map_or_else(|| key.to_string(), str::to_owned);
                map.insert(key, item);
            }
            Json::Object(map)
        }
        ValueKind::Invalid => {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "value cannot be represented as JSON",
            ))
        }
        _ => Json::String(value.to_string()),
    })
}

fn number_to_json(value: &MjValue) -> Json {
    if value.is_integer() {
        if let Ok(i) = i64::try_from(value.clone()) {
            return Json::from(i);
        }
        if let Ok(u) = u64::try_from(value.clone()) {
            return Json::from(u);
        }
    }
    f64::try_from(value.clone())
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Json::Null, Json::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(vars: Json) -> Context {
        match vars {
            Json::Object(map) => Context::new(map),
            other => panic!("context must be an object, got {other}"),
        }
    }

    fn alert_ctx() -> Context {
        ctx(json!({
            "receive_alert": {"body": {"ip": "10.0.0.1", "count": 3, "tags": ["a", "b"], "note": null}},
            "vt_lookup": {"body": {"data": {"attributes": {"last_analysis_stats": {"malicious": 7}}}}},
            "credentials": {"virustotal": "vt-s3cr3t-t0ken", "token": "hunter2-secret"},
        }))
    }

    fn render(source: &str, ctx: &Context) -> Result<Json, Error> {
        compile(source)?.render(ctx)
    }

    fn render_err(source: &str, ctx: &Context) -> String {
        render(source, ctx)
            .expect_err("render should fail")
            .to_string()
    }

    fn vars(source: &str) -> Vec<String> {
        compile(source).expect("compiles").variables()
    }

    #[test]
    fn literal_source_renders_unchanged() {
        for source in [
            "plain text",
            "{ \"json\": 1 }",
            "a } b { c",
            "",
            "trailing\n",
        ] {
            let compiled = compile(source).unwrap();
            assert!(compiled.is_literal(), "{source:?}");
            assert!(compiled.variables().is_empty());
            assert_eq!(compiled.render(&Context::default()).unwrap(), json!(source));
        }
    }

    #[test]
    fn single_expression_renders_typed_json() {
        let c = alert_ctx();
        let cases = [
            ("{{ receive_alert.body.count }}", json!(3)),
            ("{{ receive_alert.body.count * 1.5 }}", json!(4.5)),
            ("{{ 1.0 }}", json!(1.0)),
            ("{{ receive_alert.body.count > 2 }}", json!(true)),
            ("{{ receive_alert.body.tags }}", json!(["a", "b"])),
            (
                "{{ vt_lookup.body.data.attributes }}",
                json!({"last_analysis_stats": {"malicious": 7}}),
            ),
            ("{{ receive_alert.body.note }}", Json::Null),
            ("{{ none }}", Json::Null),
            ("{{ receive_alert.body.ip }}", json!("10.0.0.1")),
            ("{{ range(3) }}", json!([0, 1, 2])),
            ("{{ {'k': [1, none]} }}", json!({"k": [1, null]})),
        ];
        for (source, expected) in cases {
            let compiled = compile(source).unwrap();
            assert!(compiled.is_expression(), "{source}");
            assert_eq!(compiled.render(&c).unwrap(), expected, "{source}");
        }
    }

    #[test]
    fn whitespace_and_dashes_still_make_a_single_expression() {
        let c = alert_ctx();
        for source in [
            "  {{ receive_alert.body.count }}\n",
            "{{- receive_alert.body.count -}}",
            "{{+receive_alert.body.count+}}",
        ] {
            let compiled = compile(source).unwrap();
            assert!(compiled.is_expression(), "{source:?}");
            assert_eq!(compiled.render(&c).unwrap(), json!(3));
        }
    }

    #[test]
    fn two_expressions_or_surrounding_text_render_a_string() {
        let c = alert_ctx();
        assert_eq!(
            render("{{ receive_alert.body.count }}{{ 1 }}", &c).unwrap(),
            json!("31")
        );
        assert_eq!(
            render("n={{ receive_alert.body.count }}", &c).unwrap(),
            json!("n=3")
        );
        assert_eq!(render("{{ '}}' }}", &c).unwrap(), json!("}}"));
        assert_eq!(render("{{ 'a' }}}", &c).unwrap(), json!("a}"));
        assert!(!compile("x {{ 1 }}").unwrap().is_expression());
    }

    #[test]
    fn text_template_renders_a_string() {
        let c = alert_ctx();
        let source = "https://x/{{ receive_alert.body.ip | urlencode }}?{% for t in receive_alert.body.tags %}t={{ t }}&{% endfor %}";
        assert_eq!(
            render(source, &c).unwrap(),
            json!("https://x/10.0.0.1?t=a&t=b&")
        );
    }

    #[test]
    fn text_output_writes_non_strings_as_json() {
        let c = alert_ctx();
        let out = render("{{ receive_alert.body.note }} {{ receive_alert.body.tags }} {{ true }} {{ 2.5 }} {{ {'a': 1} }}", &c);
        assert_eq!(out.unwrap(), json!(r#"null ["a","b"] true 2.5 {"a":1}"#));
    }

    #[test]
    fn auto_escaping_is_off() {
        assert_eq!(
            render("<{{ '<b>&\"' }}>", &Context::default()).unwrap(),
            json!("<<b>&\">")
        );
    }

    #[test]
    fn trailing_newline_is_kept_like_a_literal() {
        let c = alert_ctx();
        assert_eq!(
            render("ip {{ receive_alert.body.ip }}\n", &c).unwrap(),
            json!("ip 10.0.0.1\n")
        );
        assert_eq!(render("ip\n", &c).unwrap(), json!("ip\n"));
    }

    #[test]
    fn undefined_variable_is_an_error() {
        let c = alert_ctx();
        let message = render_err("{{ vt_lokup.body }}", &c);
        assert!(
            message.starts_with("undefined variable `vt_lokup` (known: "),
            "{message}"
        );
        assert!(
            message.contains("vt_lookup") && message.contains("receive_alert"),
            "{message}"
        );
        let message = render_err("ip: {{ missing }}", &c);
        assert!(
            message.starts_with("undefined variable `missing`"),
            "{message}"
        );
    }

    #[test]
    fn undefined_attribute_is_an_error() {
        let c = alert_ctx();
        let message = render_err("{{ vt_lookup.body.data.attributes.reputation }}", &c);
        assert_eq!(
            message,
            "undefined value `vt_lookup.body.data.attributes.reputation`: `vt_lookup.body.data.attributes` (map) has no attribute `reputation`"
        );
        let message = render_err("x={{ receive_alert.body.ip.octets }}", &c);
        assert!(
            message.contains("`receive_alert.body.ip` (string) has no attribute `octets`"),
            "{message}"
        );
        // Undefined inside a typed result is caught too, not turned into null.
        let message = render_err("{{ [receive_alert.body.nope] }}", &c);
        assert!(message.contains("receive_alert.body.nope"), "{message}");
    }

    #[test]
    fn undefined_error_names_the_path_on_the_failing_line() {
        let c = alert_ctx();
        let source = "{{ receive_alert.nope | default('x') }}\n{{ vt_lookup.body.nope }}";
        let message = render_err(source, &c);
        assert!(
            message.starts_with("undefined value `vt_lookup.body.nope`"),
            "{message}"
        );
        assert!(message.ends_with("(line 2)"), "{message}");
    }

    #[test]
    fn undefined_value_without_a_static_path_is_still_reported() {
        let c = alert_ctx();
        let message = render_err(
            "{% for t in receive_alert.body.tags %}{{ t.name }}{% endfor %}",
            &c,
        );
        assert_eq!(message, "undefined value");
    }

    #[test]
    fn defined_test_and_default_handle_missing_values() {
        let c = alert_ctx();
        assert_eq!(
            render("{{ receive_alert.body.nope | default('n/a') }}", &c).unwrap(),
            json!("n/a")
        );
        assert_eq!(render("{{ nope is defined }}", &c).unwrap(), json!(false));
        assert_eq!(
            render(
                "{% if receive_alert.body.nope is defined %}y{% else %}n{% endif %}",
                &c
            )
            .unwrap(),
            json!("n")
        );
    }

    #[test]
    fn syntax_error_has_message_line_and_offset() {
        let err = compile("{{ x").unwrap_err();
        assert_eq!(
            err,
            Error::Syntax {
                message: "syntax error: unexpected end of input, expected end of variable block"
                    .into(),
                line: Some(1),
                offset: Some(0),
            }
        );
        let err = compile("first\nsecond {{ x + }}").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Syntax {
                    line: Some(2),
                    offset: Some(6),
                    ..
                }
            ),
            "{err:?}"
        );
        // A single expression reports the offset of the expression itself.
        let err = compile("\n  {{ a b }}").unwrap_err();
        assert_eq!(
            err,
            Error::Syntax {
                message: "syntax error: unexpected input after expression".into(),
                line: Some(2),
                offset: Some(5),
            }
        );
        assert_eq!(
            err.to_string(),
            "syntax error: unexpected input after expression"
        );
    }

    #[test]
    fn statements_outside_the_enabled_features_are_syntax_errors() {
        for source in [
            "{% macro m() %}{% endmacro %}",
            "{% include 'x' %}",
            "{% for i in x %}{% break %}{% endfor %}",
        ] {
            assert!(
                matches!(compile(source), Err(Error::Syntax { .. })),
                "{source}"
            );
        }
    }

    #[test]
    fn unknown_filter_is_reported_when_rendering() {
        let compiled = compile("{{ 1 | nosuchfilter }}").unwrap();
        let message = compiled
            .render(&Context::default())
            .unwrap_err()
            .to_string();
        assert_eq!(message, "unknown filter: filter nosuchfilter is unknown");
    }

    #[test]
    fn fuel_stops_an_endless_loop() {
        let source =
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        let message = render_err(source, &Context::default());
        assert!(
            message.starts_with("template exceeded its work budget"),
            "{message}"
        );
    }

    #[test]
    fn fuel_stops_a_memory_bomb() {
        let message = render_err(
            "{{ (range(100000) | join(',')) * 100000 }}",
            &Context::default(),
        );
        assert!(
            message.starts_with("template exceeded its work budget"),
            "{message}"
        );
    }

    #[test]
    fn variables_reports_sorted_dotted_paths() {
        let source =
            "{{ vt_lookup.body.data }} {{ credentials.virustotal }} {{ vt_lookup.body.data }}";
        assert_eq!(
            vars(source),
            ["credentials.virustotal", "vt_lookup.body.data"]
        );
        assert_eq!(vars("{{ inputs.ip }}"), ["inputs.ip"]);
    }

    #[test]
    fn variables_stops_at_subscripts() {
        assert_eq!(vars("{{ a[\"b\"] }}"), ["a"]);
        assert_eq!(vars("{{ a.b[0].c }}"), ["a.b"]);
        assert_eq!(vars("{{ a[b.c] }}"), ["a", "b.c"]);
    }

    #[test]
    fn variables_reports_the_full_path_before_a_filter() {
        assert_eq!(vars("{{ a.b.c | lower }}"), ["a.b.c"]);
        assert_eq!(
            vars("{{ a.b | map(attribute='c') | join(sep.x) }}"),
            ["a.b", "sep.x"]
        );
    }

    #[test]
    fn variables_reports_the_loop_iterable_not_the_loop_variable() {
        assert_eq!(
            vars("{% for x in items %}{{ x.y }}{{ loop.index }}{% endfor %}"),
            ["items"]
        );
        assert_eq!(
            vars("{% for k, v in m.items() %}{{ k }}{% endfor %}"),
            ["m.items"]
        );
        assert_eq!(vars("{% set y = z.w %}{{ y.q }}"), ["z.w"]);
    }

    #[test]
    fn variables_keeps_both_a_prefix_and_a_longer_path() {
        assert_eq!(vars("{{ a.b }}{{ a.b.c }}"), ["a.b", "a.b.c"]);
        assert_eq!(vars("{{ x if x is defined else w.v }}"), ["w.v", "x"]);
    }

    #[test]
    fn variables_excludes_functions_and_hidden_variables() {
        assert_eq!(
            vars("{{ prompt_url('approve') }}{{ range(3) }}{{ dict(a=1) }}{{ namespace() }}"),
            Vec::<String>::new()
        );
        assert_eq!(vars("{{ __prompt_urls.approve }}{{ run.id }}"), ["run.id"]);
    }

    #[test]
    fn functions_constant_matches_the_environment_globals() {
        let mut globals: Vec<&str> = env().globals().map(|(name, _)| name).collect();
        globals.sort();
        assert_eq!(globals, FUNCTIONS);
    }

    #[test]
    fn compiled_and_context_are_shareable_values() {
        fn assert_shareable<T: Clone + Send + Sync + fmt::Debug + 'static>() {}
        assert_shareable::<Compiled>();
        assert_shareable::<Context>();
        assert_shareable::<Error>();
        let compiled = compile("{{ a }}").unwrap();
        assert_eq!(
            format!("{compiled:?}"),
            r#"Compiled { kind: "expression", source: "{{ a }}" }"#
        );
        let handle = std::thread::spawn(move || compiled.render(&ctx(json!({"a": 1}))).unwrap());
        assert_eq!(handle.join().unwrap(), json!(1));
    }

    #[test]
    fn context_with_sets_one_root_and_keeps_the_rest() {
        let base = alert_ctx();
        let per_item = base.with("item", &json!({"ip": "1.2.3.4"}));
        let source = "{{ item.ip }} {{ receive_alert.body.ip }}";
        assert_eq!(
            render(source, &per_item).unwrap(),
            json!("1.2.3.4 10.0.0.1")
        );
        let replaced = per_item.with("item", &json!({"ip": "5.6.7.8"}));
        assert_eq!(
            render("{{ item.ip }}", &replaced).unwrap(),
            json!("5.6.7.8")
        );
        assert!(render("{{ item }}", &base).is_err());
        let rotated = base.with("credentials", &json!({"token": "n3w-t0ken"}));
        let err = render(
            "{{ credentials.token | int }}{{ credentials.token ~ nope }}",
            &rotated,
        )
        .unwrap_err();
        assert!(!format!("{err:?}").contains("n3w-t0ken"));
        let err = render(
            "{{ credentials.token | regex_match(credentials.token ~ '(') }}",
            &rotated,
        )
        .unwrap_err();
        assert!(err.to_string().contains(REDACTED), "{err}");
    }

    #[test]
    fn context_debug_shows_names_not_values() {
        let debug = format!("{:?}", alert_ctx());
        assert!(
            debug.contains("credentials") && !debug.contains("s3cr3t"),
            "{debug}"
        );
    }

    #[test]
    fn render_value_renders_every_string_leaf() {
        let c = alert_ctx();
        let body = json!({
            "{{ not_a_key_template }}": "{{ receive_alert.body.count }}",
            "nested": {"list": ["{{ receive_alert.body.tags }}", "ip={{ receive_alert.body.ip }}", 5, true, null]},
            "plain": "text",
        });
        let expected = json!({
            "{{ not_a_key_template }}": 3,
            "nested": {"list": [["a", "b"], "ip=10.0.0.1", 5, true, null]},
            "plain": "text",
        });
        assert_eq!(render_value(&body, &c).unwrap(), expected);
    }

    #[test]
    fn render_value_errors_name_the_json_pointer() {
        let c = alert_ctx();
        let body = json!({"a/b": [1, "{{ nope }}"]});
        let message = render_value(&body, &c).unwrap_err().to_string();
        assert!(
            message.starts_with("/a~1b/1: undefined variable `nope`"),
            "{message}"
        );
        let err = render_value(&json!({"x": "{{ y"}), &c).unwrap_err();
        assert!(
            matches!(err, Error::Syntax { line: Some(1), .. }),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("/x: syntax error"), "{err}");
    }

    #[test]
    fn credential_values_never_appear_in_errors() {
        let c = alert_ctx();
        let sources = [
            "{{ credentials.token | int }}",
            "{{ credentials.token ~ undefined_thing }}",
            "{{ credentials.token.x }}",
            "{{ credentials[credentials.token] }}",
            "{{ receive_alert[credentials.token] }}",
            "{{ credentials.token | b64decode }}",
            "{{ credentials.token | from_json }}",
            "{{ credentials.token | date }}",
            "{{ credentials.token | regex_match(credentials.token ~ '(') }}",
            "{{ credentials.token | jsonpath(credentials.token) }}",
            "{{ prompt_url(credentials.token) }}",
            "{{ credentials.token | float }}",
            "{{ credentials.token + 1 }}",
            "line one\n{{ credentials.virustotal.nope }}",
        ];
        for source in sources {
            let err = render(source, &c).unwrap_err();
            for text in [err.to_string(), format!("{err:?}")] {
                assert!(
                    !text.contains("hunter2") && !text.contains("s3cr3t"),
                    "{source}: {text}"
                );
            }
        }
        // The scrub also catches a secret that a message does quote.
        let err = render(
            "{{ credentials.token | regex_match(credentials.token ~ '(') }}",
            &c,
        )
        .unwrap_err();
        assert!(err.to_string().contains(REDACTED), "{err}");
    }

    #[test]
    fn numeric_credentials_are_redacted_too() {
        let c = ctx(json!({"credentials": {"pin": 987654321}}));
        let err = render(
            "{{ credentials.pin * 99999999999999999999999999999999999 }}",
            &c,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("987654321"), "{err}");
        assert!(err.to_string().contains(REDACTED), "{err}");
    }
}
