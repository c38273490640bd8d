//! The one minijinja environment every field compiles and renders in.

use std::sync::OnceLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Value as MjValue, ValueKind};
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior};

use super::filters::markup::{escape_slack, printed};
use super::value::{to_json, Undefined};
use super::{filters, FUEL};

/// The name a template is parsed under to render as Slack mrkdwn: every `{{ }}` output is
/// escaped with Slack's rules unless it is marked safe (`| safe`, `| slack_escape`). Literal text
/// written in the template (the author's `*bold*` and `<https://…|links>`) is not touched.
pub(super) const SLACK_MRKDWN: &str = "<slack mrkdwn>";

/// The custom auto-escape format of [`SLACK_MRKDWN`] templates.
const SLACK_FORMAT: &str = "slack";

static ENV: OnceLock<Environment<'static>> = OnceLock::new();
static TOLERANT_ENV: OnceLock<Environment<'static>> = OnceLock::new();

/// The process-wide environment, strict about undefined values; `'static` so compiled
/// expressions can be stored in the story model without lifetimes.
pub(super) fn env() -> &'static Environment<'static> {
    ENV.get_or_init(|| build_env(UndefinedBehavior::Strict))
}

/// The same environment where a missing attribute of data reads as undefined, printed empty
/// (Tines' behaviour). Only used to render again a field that met missing data in [`env`].
pub(super) fn tolerant_env() -> &'static Environment<'static> {
    TOLERANT_ENV.get_or_init(|| build_env(UndefinedBehavior::Chainable))
}

fn build_env(undefined: UndefinedBehavior) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(undefined);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|name| {
        if name == SLACK_MRKDWN {
            AutoEscape::Custom(SLACK_FORMAT.into())
        } else {
            AutoEscape::None
        }
    });
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
/// compact JSON (`null`, `true`, `{"a":[1]}`). In a [`SLACK_MRKDWN`]
/// template that text is then escaped for Slack, unless the value is safe.
fn format_output(
    out: &mut Output,
    state: &mut State,
    value: &MjValue,
) -> Result<(), minijinja::Error> {
    if matches!(state.auto_escape(), AutoEscape::Custom(name) if name == SLACK_FORMAT) {
        if value.is_safe() {
            return write!(out, "{}", value.as_str().unwrap_or_default())
                .map_err(minijinja::Error::from);
        }
        let text = escape_slack(&printed(value, Undefined::of(state))?);
        return out.write_str(&text).map_err(minijinja::Error::from);
    }
    match value.kind() {
        ValueKind::None
        | ValueKind::Bool
        | ValueKind::Seq
        | ValueKind::Map
        | ValueKind::Iterable => {
            let json = to_json(value, Undefined::of(state))?;
            write!(out, "{json}").map_err(minijinja::Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}
