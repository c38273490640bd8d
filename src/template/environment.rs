//! The one minijinja environment every field compiles and renders in.

use std::sync::OnceLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Value as MjValue, ValueKind};
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior};

use super::value::to_json;
use super::{filters, FUEL};

static ENV: OnceLock<Environment<'static>> = OnceLock::new();

/// The process-wide environment; `'static` so compiled expressions can be
/// stored in the story model without lifetimes.
pub(super) fn env() -> &'static Environment<'static> {
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
