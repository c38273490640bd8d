//! User-facing diagnostics: a stable code, an exact position, a message and a hint.
//!
//! Every error a user can fix in a file they wrote (a story, an integration template, a rule)
//! is a [`Diagnostic`]. They are collected, never thrown, so one pass reports all of them.

use serde::Serialize;
use std::fmt;

/// A position in a source file: 1-based line and column (in characters), as editors count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
}

impl Span {
    /// A position from a 1-based line and a 1-based column.
    pub fn new(line: u32, column: u32) -> Self {
        Span { line, column }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $slug:literal;)*) => {
        /// Stable diagnostic codes. A code never changes meaning once released; each has a golden
        /// test in `tests/fixtures/stories/invalid/`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $(#[doc = $slug] $variant,)* }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as printed, e.g. `W020`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// A short kebab-case name, e.g. `unknown-link`; also the golden fixture's file name.
            pub fn slug(self) -> &'static str {
                match self { $(Code::$variant => $slug,)* }
            }
        }
    };
}

codes! {
    YamlSyntax = "W001", "yaml-syntax";
    YamlLimit = "W002", "yaml-limit";
    DuplicateKey = "W003", "duplicate-key";
    UnknownKey = "W004", "unknown-key";
    InvalidValue = "W005", "invalid-value";
    MissingKey = "W006", "missing-key";
    UnsupportedYaml = "W007", "unsupported-yaml";
    UnknownKind = "W010", "unknown-kind";
    UnknownTemplate = "W011", "unknown-template";
    KindConflict = "W012", "kind-conflict";
    InvalidId = "W013", "invalid-id";
    UnknownLink = "W020", "unknown-link";
    BadLink = "W021", "bad-link";
    Cycle = "W022", "cycle";
    Unreachable = "W023", "unreachable";
    NoEntryPoint = "W024", "no-entry-point";
    TemplateSyntax = "W030", "template-syntax";
    UnknownVariable = "W031", "unknown-variable";
    CredentialOutsideRequest = "W032", "credential-outside-request";
    UnknownCredential = "W033", "unknown-credential";
    UnknownResource = "W034", "unknown-resource";
    UnknownFilter = "W035", "unknown-filter";
    BadDuration = "W040", "bad-duration";
    BadRegex = "W041", "bad-regex";
    InvalidOption = "W042", "invalid-option";
    UnverifiableResponders = "W043", "unverifiable-responders";
    UnknownStory = "W050", "unknown-story";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One problem in one file, at one position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The stable code.
    pub code: Code,
    /// Where the problem is.
    pub span: Span,
    /// What is wrong, in one sentence without a trailing period.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic without a hint.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            span,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a hint when there is one.
    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// Renders as `path:line:col: error[CODE]: message`, followed by an indented hint line.
    pub fn render(&self, path: &str) -> String {
        let mut out = format!(
            "{path}:{}:{}: error[{}]: {}",
            self.span.line, self.span.column, self.code, self.message
        );
        if let Some(hint) = &self.hint {
            out.push_str("\n  hint: ");
            out.push_str(hint);
        }
        out
    }
}

/// A diagnostic together with the file it belongs to, as `--format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct FileDiagnostic<'a> {
    /// The file, as the user named it.
    pub path: &'a str,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Always `error` today; kept so warnings can be added without breaking consumers.
    pub severity: &'static str,
    /// The stable code, e.g. `W020`.
    pub code: Code,
    /// The code's short name, e.g. `unknown-link`.
    pub name: &'static str,
    /// What is wrong.
    pub message: &'a str,
    /// How to fix it, or null.
    pub hint: Option<&'a str>,
}

impl<'a> FileDiagnostic<'a> {
    /// Pairs a diagnostic with its file.
    pub fn new(path: &'a str, diagnostic: &'a Diagnostic) -> Self {
        FileDiagnostic {
            path,
            line: diagnostic.span.line,
            column: diagnostic.span.column,
            severity: "error",
            code: diagnostic.code,
            name: diagnostic.code.slug(),
            message: &diagnostic.message,
            hint: diagnostic.hint.as_deref(),
        }
    }
}

/// The closest candidate to `wanted`, if one is close enough to be a likely typo.
pub fn closest<'a, I>(wanted: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    // Names are short; a long input is not a typo, and distance is quadratic in length.
    if wanted.len() > 128 {
        return None;
    }
    let wanted_lower = wanted.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|candidate| candidate.len() <= 128 && candidate.len().abs_diff(wanted.len()) <= 8)
        .map(|candidate| {
            let score = strsim::damerau_levenshtein(&wanted_lower, &candidate.to_ascii_lowercase());
            (score, candidate)
        })
        // A typo changes at most about a third of a word; more than that is a different word.
        .filter(|(score, candidate)| *score <= (candidate.chars().count().max(3) / 3).max(1))
        .min_by_key(|(score, _)| *score)
        .map(|(_, candidate)| candidate)
}

/// "did you mean `x`?" when a close candidate exists.
pub fn did_you_mean<'a, I>(wanted: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(wanted, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Sorts diagnostics by position and drops exact repeats (an alias can repeat one mistake).
pub fn sort_and_dedup(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| (a.span, a.code, &a.message).cmp(&(b.span, b.code, &b.message)));
    diagnostics.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_path_line_column_code_and_hint() {
        let d = Diagnostic::new(
            Code::UnknownLink,
            Span::new(3, 7),
            "`from` names unknown action `vt`",
        )
        .with_hint("did you mean `vt_lookup`?");
        assert_eq!(
            d.render("s.yml"),
            "s.yml:3:7: error[W020]: `from` names unknown action `vt`\n  hint: did you mean `vt_lookup`?"
        );
    }

    #[test]
    fn closest_finds_typos_but_not_unrelated_words() {
        let keys = ["options", "from", "type", "uses", "with"];
        assert_eq!(closest("optons", keys), Some("options"));
        assert_eq!(closest("form", keys), Some("from"));
        assert_eq!(closest("banana", keys), None);
    }

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code} repeated");
            assert!(seen.insert(code.slug()), "{} repeated", code.slug());
        }
    }
}
