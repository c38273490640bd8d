//! The harness on the seed story (its shipped tests pass; a changed trigger value fails them
//! with a diff) and on small stories: a request nobody answers, a sequence of answers with
//! `Retry-After`, JUnit output, a malformed test file.

use super::*;
use std::path::PathBuf;

const FETCH: &str = r#"
name: Fetch
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: fetch, secret_credential: hook }
  fetch:
    type: http_request
    from: hook
    options:
      url: "https://api.example.com/items/{{ hook.body.id }}"
      method: GET
  done:
    type: transform
    from: fetch
    options: { mode: message, payload: { at: "{{ run.started_at }}", name: "{{ fetch.body.name }}" } }
"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory with `files`, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn with(files: &[(&str, &str)]) -> Scratch {
        let dir = std::env::temp_dir().join(format!("warden-storytest-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn run_tests(files: &[PathBuf], only: &[&str]) -> (Vec<FileResult>, Summary) {
    let options = Options {
        only: only.iter().map(|s| (*s).to_owned()).collect(),
    };
    run(files, &root().join("templates"), &options)
        .await
        .unwrap()
}

fn failures<'a>(results: &'a [FileResult], test: &str) -> &'a [Failure] {
    let found = results
        .iter()
        .flat_map(|f| &f.tests)
        .find(|t| t.name == test);
    &found.unwrap_or_else(|| panic!("no test {test}")).failures
}

fn seed() -> (String, String) {
    let read = |name: &str| std::fs::read_to_string(root().join("stories").join(name)).unwrap();
    (
        read("panther-okta-admin-grant.yml"),
        read("panther-okta-admin-grant.test.yml"),
    )
}

/// Every path of the seed story.
const SEED_TESTS: &[&str] = &[
    "denied",
    "confirmed",
    "timeout",
    "clean_ip",
    "missing_client_ip",
    "missing_geography",
    "virustotal_429",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_story_tests_pass() {
    let files = discover(&[root().join("stories")]).unwrap();
    let seed = root().join("stories/panther-okta-admin-grant.test.yml");
    assert!(files.contains(&seed), "{files:?}");
    let files = [seed];
    let (results, summary) = run_tests(&files, SEED_TESTS).await;
    let report = report::text(&results, &summary, false);
    assert!(summary.ok(), "{report}");
    assert_eq!(summary.passed, SEED_TESTS.len(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_trigger_value_fails_with_a_diff_naming_the_action() {
    let (story, tests) = seed();
    let threshold = "path: \"{{ vt_lookup.body.data.attributes.last_analysis_stats.malicious }}\"\n          value: 0";
    assert!(story.contains(threshold));
    let story = story.replace(threshold, &threshold.replace("value: 0", "value: 100"));
    let dir = Scratch::with(&[
        ("panther-okta-admin-grant.yml", &story),
        ("panther-okta-admin-grant.test.yml", &tests),
    ]);
    let files = discover(std::slice::from_ref(&dir.0)).unwrap();
    let (results, summary) = run_tests(&files, &["confirmed"]).await;
    assert_eq!((summary.passed, summary.failed), (0, 1));
    let failed = failures(&results, "confirmed");
    let shown: Vec<(Option<&str>, &str)> = failed
        .iter()
        .map(|f| (f.action.as_deref(), f.message.as_str()))
        .collect();
    assert!(
        shown.contains(&(Some("ask_user"), "expected to run, did not")),
        "{shown:?}"
    );
    let output = failed
        .iter()
        .find(|f| f.action.as_deref() == Some("ip_is_malicious"))
        .unwrap();
    assert_eq!(output.message, "output differs");
    assert_eq!(
        output.details,
        [
            "matched: expected true, got false",
            "rules[0].matched: expected true, got false"
        ]
    );
    let report = report::text(&results, &summary, false);
    assert!(
        report.contains(&format!(
            "FAIL panther-okta-admin-grant: test \"confirmed\" ({}:",
            dir.path("panther-okta-admin-grant.test.yml").display()
        )),
        "{report}"
    );
    assert!(
        report.ends_with("1 story, 0 tests passed, 1 failed\n"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_an_answer_fails_naming_its_action_method_and_url() {
    let tests = "tests:\n  unanswered:\n    event: { body: { id: 7 } }\n    expect: { status: succeeded }\n";
    let dir = Scratch::with(&[("fetch.yml", FETCH), ("fetch.test.yml", tests)]);
    let (results, _) = run_tests(&[dir.path("fetch.test.yml")], &[]).await;
    let failed = failures(&results, "unanswered");
    assert_eq!(failed[0].action.as_deref(), Some("fetch"));
    assert_eq!(
        failed[0].message,
        "sent GET https://api.example.com/items/7 with no canned answer"
    );
    assert!(failed[0].details[0].contains("`fetch: { status, headers, body }`"));
    assert_eq!(failed.len(), 1, "the run stops there: {failed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequence_of_answers_is_used_in_order_and_retry_after_moves_the_clock() {
    let tests = r#"
tests:
  retried:
    start: "2026-03-01T12:00:00Z"
    event: { body: { id: 7 } }
    answers:
      fetch:
        - { status: 429, headers: { Retry-After: "120" } }
        - { status: 503, body: unavailable }
        - { status: 200, body: { name: widget } }
    expect:
      status: succeeded
      outputs:
        fetch: { status: 200, body: { name: widget } }
        done: { name: widget, at: "2026-03-01T12:00:00Z" }
      requests:
        - { action: fetch, method: GET, url: "https://api.example.com/items/7" }
        - { action: fetch, method: GET }
        - { action: fetch, method: GET }
  too_many:
    event: { body: { id: 8 } }
    answers:
      fetch: { status: 200, body: { name: widget } }
    expect:
      requests:
        - { action: fetch, url: "https://api.example.com/items/8" }
        - { action: fetch, url: "https://api.example.com/items/8" }
"#;
    let dir = Scratch::with(&[("fetch.yml", FETCH), ("fetch.test.yml", tests)]);
    let (results, summary) = run_tests(&[dir.path("fetch.test.yml")], &[]).await;
    assert_eq!(failures(&results, "retried"), &[]);
    let failed = failures(&results, "too_many");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        failed[0].message,
        "expected request not sent: fetch https://api.example.com/items/8"
    );
    assert_eq!(
        failed[0].details,
        [
            "sent: fetch GET https://api.example.com/items/8",
            "  it matches, but comes before a request of this action expected ahead of it"
        ]
    );
    assert_eq!((summary.passed, summary.failed), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junit_output_has_a_case_per_test_and_escaped_failures() {
    let tests = r#"
tests:
  passes:
    event: { body: { id: 1 } }
    answers: { fetch: { body: { name: "<b>&" } } }
    expect: { outputs: { done: { name: "<b>&" } } }
  fails:
    event: { body: { id: 2 } }
    answers: { fetch: { body: { name: "<b>&" } } }
    expect: { outputs: { done: { name: "<i>" } } }
"#;
    let dir = Scratch::with(&[("fetch.yml", FETCH), ("fetch.test.yml", tests)]);
    let (results, summary) = run_tests(&[dir.path("fetch.test.yml")], &[]).await;
    let xml = report::junit(&results, &summary);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
    assert!(
        xml.contains("tests=\"2\" failures=\"1\" errors=\"0\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
    assert!(
        xml.contains("done: output differs\n  name: expected &quot;&lt;i&gt;&quot;, got &quot;&lt;b&gt;&amp;&quot;"),
        "{xml}"
    );
    // Every `<` left is markup: a tag name or the declaration follows it.
    for (i, _) in xml.match_indices('<') {
        let next = &xml[i + 1..];
        assert!(
            [
                "?xml",
                "testsuites",
                "testsuite",
                "testcase",
                "failure",
                "/"
            ]
            .iter()
            .any(|t| next.starts_with(t)),
            "unescaped `<` at {i}: {xml}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_test_file_is_reported_with_positions() {
    let tests = r#"tests:
  typo:
    event: { body: { id: 1 } }
    answers: { fecth: { status: 200 } }
    prompts: { fetch: yes }
    expct: { status: succeeded }
"#;
    let dir = Scratch::with(&[("fetch.yml", FETCH), ("fetch.test.yml", tests)]);
    let path = dir.path("fetch.test.yml");
    let (results, summary) = run_tests(std::slice::from_ref(&path), &[]).await;
    assert_eq!(summary.invalid_files, 1);
    assert!(!summary.ok());
    let report = report::text(&results, &summary, false);
    let shown = path.display();
    assert!(
        report.contains(&format!("{shown}:6:5: error[W004]: unknown key `expct`")),
        "{report}"
    );
    // The shape is read first; the story is checked once the file reads.
    let tests = tests.replace("expct", "expect");
    std::fs::write(&path, tests).unwrap();
    let (results, summary) = run_tests(std::slice::from_ref(&path), &[]).await;
    let report = report::text(&results, &summary, false);
    assert!(
        report.contains(&format!(
            "{shown}:4:16: error[W020]: answer `fecth` is not an action of story `fetch`\n  hint: did you mean `fetch`?"
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "{shown}:5:16: error[W005]: `fetch` is not a prompt"
        )),
        "{report}"
    );
}

#[test]
fn test_files_are_found_beside_stories_and_in_directories() {
    let dir = Scratch::with(&[
        ("fetch.yml", FETCH),
        ("fetch.test.yml", "tests: {}"),
        ("other.yml", FETCH),
    ]);
    let test = vec![dir.path("fetch.test.yml")];
    assert_eq!(discover(std::slice::from_ref(&dir.0)).unwrap(), test);
    assert_eq!(discover(&[dir.path("fetch.yml")]).unwrap(), test);
    let both = [dir.path("fetch.test.yml"), dir.path("fetch.yml")];
    assert_eq!(discover(&both).unwrap(), test);
    assert!(discover(&[dir.path("other.yml")]).unwrap().is_empty());
}

const ASK: &str = r#"
name: Ask
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: ask, secret_credential: hook }
  ask_user:
    type: prompt
    from: hook
    options:
      slack: { user_email: "{{ hook.body.email }}", text: "Was this you?" }
      choices:
        - { value: confirmed, label: "Yes" }
        - { value: denied, label: "No" }
      timeout: 1h
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_need_an_answer_and_a_late_one_times_out() {
    let tests = r#"
tests:
  unanswered:
    event: { body: { email: a@example.com } }
  late:
    event: { body: { email: a@example.com } }
    prompts: { ask_user: { answer: denied, after: 2h } }
    expect:
      status: succeeded
      outputs: { ask_user: { prompt: { status: timeout, responded_at: "2026-01-01T11:00:00Z" } } }
      requests:
        - { action: ask_user.users.lookupByEmail, url: "https://slack.com/api/users.lookupByEmail?email=a%40example.com" }
        - { action: ask_user.chat.postMessage, body: { channel: D069C7QFK, text: Was this you? } }
        - { action: ask_user.chat.update, body: { channel: D069C7QFK } }
"#;
    let dir = Scratch::with(&[("ask.yml", ASK), ("ask.test.yml", tests)]);
    let (results, _) = run_tests(&[dir.path("ask.test.yml")], &[]).await;
    let failed = failures(&results, "unanswered");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].action, None);
    assert!(
        failed[0]
            .message
            .starts_with("prompt `ask_user` waits for an answer"),
        "{failed:?}"
    );
    assert_eq!(failures(&results, "late"), &[]);
}
