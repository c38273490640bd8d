//! Temporary stand-in with the agreed API; replaced by the full module.
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// Scopes.
pub const SCOPES: &[&str] = &["credentials", "resources", "run", "step", "inputs", "item"];
/// Functions.
pub const FUNCTIONS: &[&str] = &["prompt_url", "range", "dict", "namespace"];

/// Error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Syntax.
    #[error("{message}")]
    Syntax {
        message: String,
        line: Option<usize>,
        offset: Option<usize>,
    },
    /// Render.
    #[error("{message}")]
    Render { message: String },
}

fn env() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env
    })
}

/// Compiled.
#[derive(Debug, Clone)]
pub struct Compiled {
    source: String,
    variables: Vec<String>,
}

impl Compiled {
    /// Variables.
    pub fn variables(&self) -> Vec<String> {
        self.variables.clone()
    }
    /// Literal.
    pub fn is_literal(&self) -> bool {
        !self.source.contains("{{") && !self.source.contains("{%")
    }
}

/// Compile.
pub fn compile(source: &str) -> Result<Compiled, Error> {
    let t = env().template_from_str(source).map_err(|e| Error::Syntax {
        message: e.to_string(),
        line: e.line(),
        offset: None,
    })?;
    let vars: BTreeSet<String> = t
        .undeclared_variables(true)
        .into_iter()
        .filter(|v| !FUNCTIONS.contains(&v.as_str()))
        .collect();
    Ok(Compiled {
        source: source.to_owned(),
        variables: vars.into_iter().collect(),
    })
}
