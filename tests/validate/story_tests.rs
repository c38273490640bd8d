//! `warden test` as a process: the seed story's tests pass, a changed trigger value fails them
//! readably (text and JUnit, exit 1), paths with nothing to run exit 2, and `warden validate`
//! reports a malformed test file with its position.

use super::warden;
use std::path::PathBuf;

/// Every test of the seed story, each named so a test dropped from the file is noticed.
const PASSING: &[&str] = &[
    "denied",
    "confirmed",
    "timeout",
    "clean_ip",
    "missing_client_ip",
    "missing_geography",
    "virustotal_429",
];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn seed_args<'a>(path: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["test", path];
    for name in PASSING {
        args.extend(["--test", name]);
    }
    args.extend(extra);
    args
}

/// A copy of the seed story and its tests with the VirusTotal threshold raised from 0 to 100.
fn changed_seed() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-seed-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let story = std::fs::read_to_string("stories/panther-okta-admin-grant.yml").unwrap();
    let threshold = "last_analysis_stats.malicious }}\"\n          value: 0";
    assert!(story.contains(threshold));
    let story = story.replace(threshold, &threshold.replace("value: 0", "value: 100"));
    std::fs::write(dir.join("panther-okta-admin-grant.yml"), story).unwrap();
    std::fs::copy(
        "stories/panther-okta-admin-grant.test.yml",
        dir.join("panther-okta-admin-grant.test.yml"),
    )
    .unwrap();
    dir
}

#[test]
fn the_shipped_stories_pass_their_tests() {
    let output = warden(&seed_args("stories/panther-okta-admin-grant.yml", &[]));
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert_eq!(stdout, "1 story, 7 tests passed, 0 failed\n");
    // Both shipped stories, every test (what CI runs).
    let output = warden(&["test", "stories/"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout, "2 stories, 11 tests passed, 0 failed\n");
}

#[test]
fn a_changed_trigger_value_fails_with_a_readable_diff() {
    let dir = changed_seed();
    let path = dir.to_str().unwrap();
    let output = warden(&seed_args(path, &[]));
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let expected = format!(
        "FAIL panther-okta-admin-grant: test \"confirmed\" ({path}/panther-okta-admin-grant.test.yml:"
    );
    assert!(stdout.contains(&expected), "{stdout}");
    assert!(
        stdout.contains(
            "  ask_user: expected to run, did not\n  record_confirmation: expected to run, did not\n  ip_is_malicious: output differs\n    matched: expected true, got false\n    rules[0].matched: expected true, got false\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("1 story, 6 tests passed, 1 failed\n"),
        "{stdout}"
    );

    let output = warden(&seed_args(path, &["--format", "junit"]));
    let xml = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{xml}");
    assert!(xml.starts_with("<?xml "), "{xml}");
    assert!(
        xml.contains("tests=\"7\" failures=\"1\" errors=\"0\""),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"ask_user: expected to run, did not\""),
        "{xml}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn nothing_to_run_exits_two() {
    let output = warden(&["test", "no/such/dir"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("no/such/dir: no such file or directory"));
    let output = warden(&["test", "templates/okta"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("no story tests under templates/okta"));
    // A mistyped test name runs nothing: an error, not a pass.
    let output = warden(&["test", "stories/", "--test", "denied", "--test", "denide"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stdout));
    assert!(text(&output.stderr).contains("no test named denide"));
}

#[test]
fn validate_reports_a_malformed_test_file_with_its_position() {
    let dir = std::env::temp_dir().join(format!("warden-seed-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        "stories/panther-okta-admin-grant.yml",
        dir.join("panther-okta-admin-grant.yml"),
    )
    .unwrap();
    let tests = "tests:\n  denied:\n    event: { body: {} }\n    prompts: { ask_usr: denied }\n";
    let test_file = dir.join("panther-okta-admin-grant.test.yml");
    std::fs::write(&test_file, tests).unwrap();
    let output = warden(&["validate", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stdout),
        format!(
            "{}:4:16: error[W020]: prompt `ask_usr` is not an action of story `panther-okta-admin-grant`\n  hint: did you mean `ask_user`?\n",
            test_file.display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}
