//! [`Error`]: what compiling or rendering a field reports.

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

    /// The same error with `prefix: ` before its message (a JSON pointer
    /// naming the leaf of a value that failed).
    pub(super) fn prefixed(mut self, prefix: &str) -> Error {
        let (Error::Syntax { message, .. } | Error::Render { message }) = &mut self;
        *message = format!("{prefix}: {message}");
        self
    }
}

/// `kind: detail`, without minijinja's ` (in <string>:1)` suffix.
pub(super) fn describe(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    }
}
