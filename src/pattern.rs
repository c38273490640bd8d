//! Regular expressions compiled under Warden's limits: the one builder for story patterns,
//! trigger rules, Panther rule regexes and the template filters. A leaf.

/// Compiled regexes are capped so a hostile pattern cannot take the runner's memory.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The longest pattern compiled: parsing happens before `size_limit` applies, and a
/// multi-megabyte literal takes seconds and gigabytes to parse.
pub const MAX_REGEX_BYTES: usize = 16 * 1024;

/// Compiles a pattern with the story size limits; `case_insensitive` as Tines' trigger rules are.
pub fn compile_regex(source: &str, case_insensitive: bool) -> Result<regex::Regex, regex::Error> {
    if source.len() > MAX_REGEX_BYTES {
        return Err(regex::Error::Syntax(format!(
            "error: the pattern is {} bytes, longer than the {MAX_REGEX_BYTES}-byte limit",
            source.len()
        )));
    }
    regex::RegexBuilder::new(source)
        .case_insensitive(case_insensitive)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// The first line of a regex error, which says what is wrong without the ASCII-art arrow.
pub fn regex_error_summary(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim().to_owned())
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_over_the_length_limit_is_refused_before_it_is_parsed() {
        let long = "a".repeat(MAX_REGEX_BYTES + 1);
        let error = compile_regex(&long, false).unwrap_err();
        assert_eq!(
            regex_error_summary(&error),
            format!(
                "the pattern is {} bytes, longer than the {MAX_REGEX_BYTES}-byte limit",
                long.len()
            )
        );
        assert!(compile_regex(&"a".repeat(MAX_REGEX_BYTES), false).is_ok());
    }
}
