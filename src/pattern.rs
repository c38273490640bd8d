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

/// Patterns the runtime compiled, kept so a trigger rule or template filter whose pattern comes
/// from a template does not compile it again for every step; bounded, and emptied when full.
/// One map per case mode (index: `case_insensitive`), so a lookup borrows the pattern.
static RUNTIME_REGEXES: std::sync::LazyLock<
    std::sync::Mutex<[std::collections::HashMap<String, regex::Regex>; 2]>,
> = std::sync::LazyLock::new(Default::default);

/// How many compiled patterns [`compile_regex_cached`] keeps per case mode (stories use a
/// handful; emptying when full keeps it bounded without bookkeeping).
pub const RUNTIME_REGEX_CACHE: usize = 512;

/// How many compiled patterns the runtime cache holds now.
#[cfg(test)]
pub fn runtime_regex_cache_len() -> usize {
    RUNTIME_REGEXES
        .lock()
        .map_or(0, |maps| maps.iter().map(|m| m.len()).max().unwrap_or(0))
}

/// [`compile_regex`] for patterns met while running (rendered from templates): the compiled
/// regex is reused for the same source. Errors are not kept.
pub fn compile_regex_cached(
    source: &str,
    case_insensitive: bool,
) -> Result<regex::Regex, regex::Error> {
    let mode = usize::from(case_insensitive);
    if let Some(regex) = RUNTIME_REGEXES
        .lock()
        .ok()
        .and_then(|maps| maps[mode].get(source).cloned())
    {
        return Ok(regex);
    }
    let regex = compile_regex(source, case_insensitive)?;
    if let Ok(mut maps) = RUNTIME_REGEXES.lock() {
        let cache = &mut maps[mode];
        if cache.len() >= RUNTIME_REGEX_CACHE {
            cache.clear();
        }
        cache.insert(source.to_owned(), regex.clone());
    }
    Ok(regex)
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
    fn a_cached_pattern_matches_as_a_fresh_one_and_keeps_its_case_mode() {
        let insensitive = compile_regex_cached("^high$", true).unwrap();
        let sensitive = compile_regex_cached("^high$", false).unwrap();
        assert!(insensitive.is_match("HIGH"));
        assert!(!sensitive.is_match("HIGH"));
        assert!(compile_regex_cached("^high$", true)
            .unwrap()
            .is_match("High"));
        assert!(compile_regex_cached("(", true).is_err());
    }

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
