//! Story validation through the library and the `warden` binary: one golden fixture per
//! diagnostic code, the shipped stories and templates, the JSON Schema, fuzzing, and story tests
//! (`warden test`).
//!
//! `UPDATE_GOLDEN=1 cargo test --test validate` rewrites the `.expected` files; review the diff.

mod fuzz;
mod import_tines;
mod readme;
mod story_tests;
mod templates;
mod tines_spelling;

use std::path::{Path, PathBuf};
use std::process::Command;
use warden::diagnostic::Code;
use warden::story::load;

const INVALID: &str = "tests/fixtures/stories/invalid";

fn update_golden() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some()
}

fn invalid_fixtures() -> Vec<PathBuf> {
    let mut files = load::yaml_files(Path::new(INVALID)).expect("fixtures directory");
    files.sort();
    files
}

fn rendered(path: &Path) -> String {
    let loaded = load::load(&[path.to_owned()], Path::new("templates")).expect("loads");
    loaded
        .reports
        .iter()
        .filter(|r| r.path == path.display().to_string())
        .flat_map(|r| r.diagnostics.iter().map(|d| d.render(&r.path) + "\n"))
        .collect()
}

fn warden(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .env_remove("WARDEN_TEMPLATES")
        .output()
        .expect("warden runs")
}

#[test]
fn every_code_has_a_golden_fixture_that_raises_it() {
    for code in Code::ALL {
        let path = Path::new(INVALID).join(format!("{}.yml", code.slug()));
        assert!(
            path.exists(),
            "{} has no fixture at {}",
            code,
            path.display()
        );
        let output = rendered(&path);
        assert!(
            output.contains(&format!("error[{code}]")),
            "{} does not raise {code}:\n{output}",
            path.display()
        );
    }
}

#[test]
fn invalid_fixtures_match_their_expected_output() {
    let mut mismatches = Vec::new();
    for path in invalid_fixtures() {
        let expected_path = path.with_extension("expected");
        let actual = rendered(&path);
        assert!(!actual.is_empty(), "{} raised nothing", path.display());
        if update_golden() {
            std::fs::write(&expected_path, &actual).expect("writes golden");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("missing {}", expected_path.display()));
        if expected != actual {
            mismatches.push(format!(
                "{}\n--- expected\n{expected}--- actual\n{actual}",
                path.display()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn shipped_stories_and_templates_validate_clean() {
    let output = warden(&["validate", "stories/"]);
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty());
    let loaded = load::load(&[PathBuf::from("stories")], Path::new("templates")).unwrap();
    let seed = loaded
        .stories
        .iter()
        .find(|s| s.id == "panther-okta-admin-grant")
        .expect("the seed story loads");
    for id in [
        "receive_alert",
        "vt_lookup",
        "gn_lookup",
        "ip_is_malicious",
        "ask_user",
        "user_denied",
        "open_case",
        "lock_user",
    ] {
        assert!(seed.action(id).is_some(), "seed story lacks {id}");
    }
    assert_eq!(seed.entry_points().count(), 1);
}

/// Issue 17: one `from:` typo early in the seed story is one diagnostic, not one per action
/// that follows it (unreachable) and per template that reads upstream actions.
#[test]
fn a_from_typo_is_reported_once() {
    let source = std::fs::read_to_string("stories/panther-okta-admin-grant.yml").unwrap();
    let typo = source.replacen("from: receive_alert", "from: recieve_alert", 1);
    assert_ne!(typo, source);
    let dir = std::env::temp_dir().join(format!("warden-typo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("typo.yml");
    std::fs::write(&path, &typo).unwrap();
    let output = warden(&["validate", path.to_str().unwrap()]);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert_eq!(printed.matches("error[").count(), 1, "{printed}");
    assert!(printed.contains("error[W020]"), "{printed}");
    assert!(
        printed.contains("did you mean `receive_alert`?"),
        "{printed}"
    );
    // A typo in a template's action name is still reported where the chain is broken.
    let both = typo.replacen("{{ vt_lookup.body", "{{ vt_lokup.body", 1);
    std::fs::write(&path, both).unwrap();
    let printed =
        String::from_utf8_lossy(&warden(&["validate", path.to_str().unwrap()]).stdout).into_owned();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(printed.matches("error[").count(), 2, "{printed}");
    assert!(printed.contains("error[W031]"), "{printed}");
}

/// Issue 17: `warden check` with nothing set lists every credential and resource the shipped
/// story needs by its environment variable, and its webhook URL with the secret elided.
#[test]
fn check_lists_what_the_shipped_story_needs() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    for (key, _) in std::env::vars() {
        if key.starts_with("WARDEN_") {
            command.env_remove(key);
        }
    }
    let output = command.arg("check").output().expect("warden runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("http://127.0.0.1:8080/webhook/panther-okta-admin/<secret>"),
        "{printed}"
    );
    for name in [
        "WARDEN_CREDENTIAL_PANTHER_WEBHOOK",
        "WARDEN_CREDENTIAL_VIRUSTOTAL",
        "WARDEN_CREDENTIAL_GREYNOISE",
        "WARDEN_CREDENTIAL_SLACK",
        "WARDEN_CREDENTIAL_SLACK_SIGNING_SECRET",
        "WARDEN_CREDENTIAL_THEHIVE",
        "WARDEN_CREDENTIAL_OKTA",
        "WARDEN_RESOURCE_THEHIVE_URL",
        "WARDEN_RESOURCE_OKTA_URL",
    ] {
        assert!(
            printed.contains(&format!("  missing  {name} (")),
            "{name}: {printed}"
        );
    }
    let ready = Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("check")
        .envs(
            printed
                .lines()
                .filter_map(|l| l.trim().strip_prefix("missing  "))
                .filter_map(|l| l.split_whitespace().next())
                .map(|name| (name.to_owned(), "https://x.example".to_owned())),
        )
        .output()
        .expect("warden runs");
    assert_eq!(
        ready.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ready.stdout)
    );
}

/// Completions and man pages come from the command-line definition: every command is in them.
#[test]
fn completions_and_man_pages_cover_every_command() {
    let bash = warden(&["completions", "bash"]);
    assert!(bash.status.success());
    let script = String::from_utf8_lossy(&bash.stdout);
    let page = String::from_utf8_lossy(&warden(&["man"]).stdout).into_owned();
    assert!(page.contains(".TH warden 1"), "{page}");
    for command in [
        "validate",
        "check",
        "serve",
        "worker",
        "rules",
        "replay",
        "completions",
        "docs",
    ] {
        assert!(script.contains(command), "bash completions lack {command}");
        assert!(page.contains(command), "the man page lacks {command}");
    }
}

#[test]
fn cli_prints_each_fixture_and_exits_one() {
    for path in invalid_fixtures() {
        let output = warden(&["validate", path.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1), "{}", path.display());
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(stdout, expected, "{}", path.display());
    }
}

#[test]
fn cli_json_format_is_stable_and_complete() {
    let path = format!("{INVALID}/unknown-link.yml");
    let first = warden(&["validate", "--format", "json", &path]);
    let second = warden(&["validate", "--format", "json", &path]);
    assert_eq!(first.status.code(), Some(1));
    assert_eq!(first.stdout, second.stdout);
    let document: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(document["version"], 1);
    assert_eq!(document["valid"], false);
    let diagnostic = document["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == path.as_str())
        .expect("the story's diagnostic");
    assert_eq!(
        diagnostic,
        &serde_json::json!({
            "path": path,
            "line": 10,
            "column": 11,
            "severity": "error",
            "code": "W020",
            "name": "unknown-link",
            "message": "`from` names unknown action `recieve`",
            "hint": "did you mean `receive`?"
        })
    );
}

#[test]
fn cli_reports_a_missing_path_as_a_usage_error() {
    let output = warden(&["validate", "does/not/exist.yml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("does/not/exist.yml"));
}

#[test]
fn committed_schema_matches_the_generated_one() {
    let output = warden(&["schema"]);
    assert!(output.status.success());
    let path = Path::new("schema/story.schema.json");
    if update_golden() {
        std::fs::write(path, &output.stdout).unwrap();
    }
    let committed = std::fs::read(path).expect("schema/story.schema.json is committed");
    assert!(
        committed == output.stdout,
        "run `cargo run -- schema > schema/story.schema.json`"
    );
}

/// `warden docs -o DIR` writes the pages committed in `docs/` (the library's own test checks
/// them against the code; this one, that the command writes them).
#[test]
fn warden_docs_writes_the_committed_pages() {
    let dir = std::env::temp_dir().join(format!("warden-docs-{}", std::process::id()));
    let output = warden(&["docs", "-o", dir.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    let listed = String::from_utf8_lossy(&output.stdout).into_owned();
    for page in ["actions.md", "failure-event.md", "templates.md"] {
        assert!(listed.contains(page), "{listed}");
        let written = std::fs::read_to_string(dir.join(page)).unwrap();
        let committed = std::fs::read_to_string(Path::new("docs").join(page)).unwrap();
        assert!(
            written == committed,
            "docs/{page} differs from `warden docs`"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn schema_references_resolve_and_cover_every_kind() {
    let output = warden(&["schema"]);
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let defs = schema["$defs"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_refs(&schema, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let name = reference
            .strip_prefix("#/$defs/")
            .unwrap_or_else(|| panic!("foreign $ref {reference}"));
        assert!(defs.contains_key(name), "unresolved $ref {reference}");
    }
    let variants = schema["$defs"]["Action"]["oneOf"].as_array().unwrap();
    let consts: Vec<&str> = variants
        .iter()
        .filter_map(|v| {
            v["properties"]["type"]["const"]
                .as_str()
                .or(v["properties"]["uses"]["const"].as_str())
        })
        .collect();
    for kind in warden::story::kinds::KINDS {
        assert!(consts.contains(kind), "schema lacks {kind}");
    }
    assert!(consts.contains(&"virustotal/ip_lookup"));
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
