//! The layering ARCHITECTURE.md draws, checked on the source: data flows ingest → detect →
//! deliver → webhook → runner → actions → store, and the pure parts touch no I/O crate. A rule
//! broken here is a seam that has started to tangle.

use std::path::{Path, PathBuf};

/// Source files under `src/<dir>` (or the file `src/<dir>.rs`), without their test modules:
/// tests may reach across seams to set things up.
fn sources(dir: &str) -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let file = root.join(format!("{dir}.rs"));
    if file.is_file() {
        files.push(file);
    }
    collect(&root.join(dir), &mut files);
    assert!(!files.is_empty(), "no source under src/{dir}");
    files
        .into_iter()
        .filter(|p| !p.ends_with("tests.rs") && !p.components().any(|c| c.as_os_str() == "tests"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read source");
            let code = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .to_owned();
            (p, code)
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// Fails with every line of `dir` that mentions one of `forbidden`.
fn assert_free_of(dir: &str, forbidden: &[&str]) {
    let mut found = Vec::new();
    for (path, code) in sources(dir) {
        for (n, line) in code.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in forbidden {
                if code.contains(word) {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "src/{dir} must not use {forbidden:?}:\n{}",
        found.join("\n")
    );
}

const IO_CRATES: [&str; 3] = ["sqlx::", "reqwest::", "axum::"];

#[test]
fn pure_parts_use_no_io_crate() {
    for dir in [
        "run",
        "story",
        "template",
        "yaml",
        "engine/machine",
        "detect/eval",
        "detect/rule",
        "detect/alerting",
        "ratelimit",
        "backoff",
        "pattern",
        "hex",
        "import",
        "storytest/format",
        "storytest/subset",
    ] {
        assert_free_of(dir, &IO_CRATES);
    }
}

#[test]
fn the_domain_types_are_a_leaf() {
    assert_free_of("run", &["crate::", "super::"]);
    assert_free_of("escape", &["crate::", "super::"]);
}

#[test]
fn the_store_knows_no_caller() {
    assert_free_of(
        "store",
        &[
            "crate::detect",
            "crate::engine",
            "crate::actions",
            "crate::api",
            "crate::app",
            "crate::cli",
        ],
    );
}

#[test]
fn actions_know_neither_the_engine_nor_what_calls_it() {
    assert_free_of(
        "actions",
        &[
            "crate::engine",
            "crate::detect",
            "crate::api",
            "crate::app",
            "crate::cli",
        ],
    );
}

#[test]
fn the_engine_knows_nothing_upstream() {
    assert_free_of(
        "engine",
        &["crate::detect", "crate::api", "crate::app", "crate::cli"],
    );
}

#[test]
fn importers_are_pure_and_know_only_the_story_format() {
    assert_free_of(
        "import",
        &[
            "std::fs",
            "crate::engine",
            "crate::store",
            "crate::actions",
            "crate::detect",
            "crate::api",
            "crate::app",
            "crate::cli",
        ],
    );
}

#[test]
fn stories_are_read_without_the_runtime() {
    assert_free_of(
        "story",
        &[
            "crate::engine",
            "crate::store",
            "crate::actions",
            "crate::detect",
            "crate::api",
            "crate::app",
            "crate::cli",
        ],
    );
}
