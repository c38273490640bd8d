//! Outside text in a log line (a request path, a header value, a vendor's message) with its
//! control characters escaped, so a value can neither end the line and forge another nor send
//! escape sequences to an operator's terminal. A leaf: it imports nothing of Warden.

use std::fmt::{self, Write};

/// Displays its value with control characters (`\n`, `\r`, ESC, …), Unicode line separators
/// and bidirectional overrides written escaped (`\n`, `\u{1b}`, `\u{202e}`); all else as is.
/// Log fields that can carry outside data are recorded through it: `webhook = %Escaped(&path)`.
#[derive(Clone, Copy)]
pub struct Escaped<T>(pub T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(EscapingWriter(f), "{}", self.0)
    }
}

impl<T: fmt::Display> fmt::Debug for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

struct EscapingWriter<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl Write for EscapingWriter<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(needs_escape) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(self.0, "{}", c.escape_default())?;
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// C0 and C1 controls, the Unicode line and paragraph separators, and the bidirectional marks,
/// embeddings, overrides and isolates (which reorder what a terminal shows).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::Escaped;

    #[test]
    fn control_characters_are_written_escaped() {
        let forged = "nope\n2026-01-01T00:00:00Z  INFO fake\r\u{1b}[31m\t\u{85}";
        assert_eq!(
            Escaped(forged).to_string(),
            "nope\\n2026-01-01T00:00:00Z  INFO fake\\r\\u{1b}[31m\\t\\u{85}"
        );
    }

    #[test]
    fn line_separators_and_bidi_overrides_are_written_escaped() {
        assert_eq!(
            Escaped("a\u{2028}b\u{202e}c\u{2066}").to_string(),
            "a\\u{2028}b\\u{202e}c\\u{2066}"
        );
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        let text = "Übergröße /webhook/a-b_c?x=1 \"quoted\" \\ café 🚨";
        assert_eq!(Escaped(text).to_string(), text);
        assert_eq!(format!("{:?}", Escaped("x\ny")), "x\\ny");
        assert_eq!(Escaped(42).to_string(), "42");
    }
}
