//! Detection rules through the library and the `warden` binary: the Panther Simple Detection
//! conformance corpus (every test must pass, correlation rules reported unsupported by name), a
//! failing rule, invalid rule files with positions and codes, and scheduled queries.
//!
//! The corpus is a verbatim copy of `../shared/conformance/…` (Apache-2.0, licences included)
//! in `tests/fixtures/conformance/`. `UPDATE_GOLDEN=1 cargo test --test detect rules::` rewrites
//! the `.expected` file of the invalid fixtures; review the diff.

mod fuzz;
mod scheduled;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use warden::detect::load;
use warden::detect::testing;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/conformance/panther-simple-detections"
);
const FIXTURES: &str = "tests/fixtures/rules";

const CORRELATION_RULES: [&str; 3] = [
    "AWS.CloudTrail.SES.SESEnumeration",
    "Crowdstrike.EphemeralUserAccount",
    "Crowdstrike.NewAdminUserCreated",
];

/// The corpus ships with the repository, so it is never skipped.
fn corpus() -> Option<PathBuf> {
    let path = PathBuf::from(CORPUS);
    assert!(path.is_dir(), "{CORPUS} is missing");
    Some(path)
}

fn warden(args: &[&str], rules_env: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command.args(args).env_remove("WARDEN_RULES");
    if let Some(value) = rules_env {
        command.env("WARDEN_RULES", value);
    }
    command.output().expect("warden runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn conformance_corpus_passes_through_the_library() {
    let Some(corpus) = corpus() else { return };
    let loaded = load::load(&[corpus]).expect("reads the corpus");
    let invalid: Vec<_> = loaded.invalid_files().collect();
    assert!(invalid.is_empty(), "{invalid:#?}");
    let (results, summary) = testing::run_all(&loaded);
    for (entry, tests) in &results {
        for result in tests {
            assert!(
                result.passed(),
                "{} / {}: expected {}, got {} ({:?})",
                entry.rule.id,
                result.test.name,
                result.test.expected,
                result.matched,
                result.failure
            );
        }
    }
    assert_eq!(summary.rules, 29);
    assert_eq!((summary.passed, summary.failed), (72, 0));
    assert_eq!(summary.unsupported, CORRELATION_RULES);
    assert!(loaded
        .unsupported
        .iter()
        .all(|u| u.unsupported.feature == "correlation rules" && u.unsupported.tests == 3));
}

#[test]
fn conformance_corpus_agrees_with_its_index() {
    let Some(corpus) = corpus() else { return };
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(corpus.join("index.json")).expect("index.json"),
    )
    .expect("index.json is JSON");
    let loaded = load::load(std::slice::from_ref(&corpus)).expect("reads the corpus");
    let by_id: BTreeMap<&str, _> = loaded
        .rules
        .iter()
        .map(|r| (r.rule.id.as_str(), &r.rule))
        .collect();
    let files = index["files"].as_array().expect("files");
    let simple: Vec<&Value> = files
        .iter()
        .filter(|f| f["kind"] == "simple_detection")
        .collect();
    assert_eq!(simple.len(), 29);
    for file in simple {
        let id = file["rule_id"].as_str().expect("rule_id");
        let rule = by_id.get(id).unwrap_or_else(|| panic!("{id} not loaded"));
        let expected_true = rule.tests.iter().filter(|t| t.expected).count();
        assert_eq!(
            rule.tests.len() as u64,
            file["tests"].as_u64().unwrap(),
            "{id}"
        );
        assert_eq!(
            expected_true as u64,
            file["expected_true"].as_u64().unwrap(),
            "{id}"
        );
    }
}

#[test]
fn conformance_corpus_passes_through_the_cli() {
    let Some(corpus) = corpus() else { return };
    let corpus = corpus.to_str().expect("UTF-8 path");
    let output = warden(&["rules", "test", corpus], None);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert_eq!(
        out.lines().last(),
        Some(
            "29 rules, 72 tests passed, 0 failed, 3 unsupported (AWS.CloudTrail.SES.SESEnumeration, \
             Crowdstrike.EphemeralUserAccount, Crowdstrike.NewAdminUserCreated)"
        )
    );
    for id in CORRELATION_RULES {
        assert!(
            out.contains(&format!("unsupported: correlation rules ({id})")),
            "{out}"
        );
    }
    assert!(!out.contains("FAIL"), "{out}");
}

#[test]
fn rules_default_to_the_warden_rules_variable() {
    let Some(corpus) = corpus() else { return };
    let output = warden(&["rules", "test"], corpus.to_str());
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("29 rules, 72 tests passed"));
}

#[test]
fn a_failing_test_exits_one_and_says_why() {
    let path = format!("{FIXTURES}/failing/okta_admin_grant.yml");
    let output = warden(&["rules", "test", &path], None);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let expected = format!(
        "FAIL Fixture.Failing.AdminGrant: test \"Viewer grant wrongly expected to fire\" ({path}:20:5): expected true, got false\n  \
         {path}:11:5: Detection[1] is false: {{KeyPath: debugContext.debugData.privilegeGranted, Condition: WardenMatchesRegex, Value: \"[aA]dministrator\"}} \
         (`debugContext.debugData.privilegeGranted` is \"Help desk viewer\")\n\
         FAIL Fixture.Failing.AdminGrant: test \"Admin grant wrongly expected to stay quiet\" ({path}:25:5): expected false, got true\n  \
         every InlineFilters and Detection expression held\n\
         1 rule, 1 test passed, 2 failed, 0 unsupported\n"
    );
    assert_eq!(out, expected);
}

#[test]
fn invalid_rule_files_exit_one_with_positions_and_codes() {
    let dir = format!("{FIXTURES}/invalid");
    let expected_path = Path::new(&dir).join("output.expected");
    // The failing fixture is loaded first, so the duplicate RuleID is reported in the second file.
    let output = warden(
        &["rules", "test", &format!("{FIXTURES}/failing"), &dir],
        None,
    );
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let diagnostics: String = out
        .lines()
        .filter(|l| l.starts_with(&dir) || l.starts_with("  hint:"))
        .map(|l| format!("{l}\n"))
        .collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&expected_path, &diagnostics).expect("writes golden");
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).expect("golden output");
    assert_eq!(diagnostics, expected);
    assert!(
        out.ends_with("1 rule, 1 test passed, 2 failed, 0 unsupported, 2 invalid files\n"),
        "{out}"
    );
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let output = warden(&["rules", "test", "no/such/dir"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no/such/dir"));
}

#[test]
fn the_rule_filter_runs_only_the_named_rules() {
    let Some(corpus) = corpus() else { return };
    let output = warden(
        &[
            "rules",
            "test",
            "--rule",
            "GCP.GCS.Public",
            "--verbose",
            corpus.to_str().unwrap(),
        ],
        None,
    );
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("PASS GCP.GCS.Public: test"), "{out}");
    assert!(out.contains("  severity: HIGH"), "{out}");
    assert!(
        out.ends_with("1 rule, 1 test passed, 0 failed, 0 unsupported\n"),
        "{out}"
    );
}
