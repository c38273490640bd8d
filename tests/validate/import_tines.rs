//! `warden import tines` over the corpus in `tests/fixtures/tines/` (public exports kept with
//! their licence, and hand-written ones for every agent type and mode; see its README): every
//! export imports, every story written validates, and what was left out is exactly the list in
//! `<export>.left_out`. The stories written are kept in `expected/<export>/` for review.
//!
//! `UPDATE_GOLDEN=1 cargo test --test validate import_tines` rewrites both; review the diff.

use super::{update_golden, warden};
use std::path::{Path, PathBuf};
use warden::import::tines;

const CORPUS: &str = "tests/fixtures/tines";

fn exports() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(CORPUS)
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// Compares `actual` with the golden file, or rewrites it under `UPDATE_GOLDEN`.
fn golden(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if update_golden() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return;
    }
    match std::fs::read_to_string(path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => failures.push(format!(
            "{} differs:\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        )),
        Err(_) => failures.push(format!(
            "{} is missing (UPDATE_GOLDEN=1 writes it):\n{actual}",
            path.display()
        )),
    }
}

#[test]
fn every_export_in_the_corpus_imports_to_valid_stories_and_lists_exactly_what_was_left_out() {
    let exports = exports();
    assert!(exports.len() >= 8, "the corpus has {} exports", exports.len());
    let mut failures = Vec::new();
    for path in &exports {
        let name = stem(path);
        let source = std::fs::read_to_string(path).unwrap();
        let imported = tines::import(&source, &format!("{name}.json"))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (id, diagnostics) in tines::validate(&imported) {
            failures.push(format!("{name}: story `{id}` is not valid: {diagnostics:#?}"));
        }
        let left_out: String = imported
            .left_out
            .iter()
            .map(|item| format!("{item}\n"))
            .collect();
        golden(&Path::new(CORPUS).join(format!("{name}.left_out")), &left_out, &mut failures);
        for story in &imported.stories {
            let file = Path::new(CORPUS)
                .join("expected")
                .join(&name)
                .join(format!("{}.yml", story.id));
            golden(&file, &story.yaml, &mut failures);
        }
        let commented: usize = imported
            .stories
            .iter()
            .map(|s| s.yaml.matches("# Not translated: ").count())
            .sum();
        assert_eq!(
            commented,
            imported.left_out.len(),
            "{name}: each left-out item has exactly one comment"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_command_writes_the_stories_exits_2_when_something_was_left_out_and_its_output_validates() {
    let dir = std::env::temp_dir().join(format!("warden-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.to_string_lossy().into_owned();

    let clean = warden(&["import", "tines", "tests/fixtures/tines/send-to-story-nested.json", "-o", &out]);
    let stdout = String::from_utf8_lossy(&clean.stdout);
    assert_eq!(clean.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&clean.stderr));
    assert!(stdout.contains("WARDEN_CREDENTIAL_REP_KEY"), "{stdout}");
    assert!(stdout.contains("WARDEN_CREDENTIAL_ENRICH_IP_ENTRY_SECRET"), "{stdout}");
    for id in ["triage-with-enrichment", "enrich-ip", "geo-lookup"] {
        assert!(dir.join(format!("{id}.yml")).is_file(), "{id}.yml written");
    }

    let lossy = warden(&["import", "tines", "tests/fixtures/tines/formulas-left-out.json", "-o", &out]);
    let stdout = String::from_utf8_lossy(&lossy.stdout);
    assert_eq!(lossy.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("not translated (10)"), "{stdout}");
    assert!(stdout.contains("function `FILTER` has no minijinja equivalent"), "{stdout}");
    assert!(stdout.contains("WARDEN_RESOURCE_MASTODON_DOMAIN"), "{stdout}");

    let validated = warden(&["validate", &out]);
    assert_eq!(
        validated.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unreadable_export_is_an_error_not_a_story() {
    let dir = std::env::temp_dir().join(format!("warden-import-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"name": "no agents"}"#).unwrap();
    let output = warden(&["import", "tines", &bad.to_string_lossy(), "-o", &dir.to_string_lossy()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no `agents` list"));
    std::fs::remove_dir_all(&dir).unwrap();
}
