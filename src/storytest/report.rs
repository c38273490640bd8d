//! What a test expected against what happened ([`evaluate`]), and the results printed for people
//! (like `warden rules test`: every failure with its test, action and differences) or as JUnit
//! XML for CI systems.

use super::format::{ExpectedRequest, StoryTest};
use super::harness::Outcome;
use super::subset::{differences, short};
use super::vendors::SentRequest;
use super::{FileResult, Summary, TestResult};
use crate::run::StepState;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The action it is about; `None` for the run as a whole.
    pub action: Option<String>,
    /// What went wrong, in one line.
    pub message: String,
    /// The differences, one per line.
    pub details: Vec<String>,
}

impl Failure {
    fn new(action: Option<&str>, message: impl Into<String>) -> Failure {
        Failure {
            action: action.map(str::to_owned),
            message: message.into(),
            details: Vec::new(),
        }
    }
}

/// Every expectation of `test` that `outcome` breaks; empty when it passes. A request with no
/// answer or a run that could not be driven on is reported alone: the rest follows from it.
pub fn evaluate(test: &StoryTest, outcome: &Outcome) -> Vec<Failure> {
    let mut failures = Vec::new();
    for request in &outcome.unanswered {
        let mut failure = Failure::new(
            Some(&request.action),
            format!(
                "sent {} {} with no canned answer",
                request.method, request.url
            ),
        );
        failure.details.push(format!(
            "give one under `answers:` as `{}: {{ status, headers, body }}`",
            request.key
        ));
        failures.push(failure);
    }
    if let Some(stuck) = &outcome.stuck {
        failures.push(Failure::new(None, stuck.clone()));
    }
    if !failures.is_empty() {
        // The run was left where it stopped: what it did not reach follows from this.
        return failures;
    }
    let expect = &test.expect;
    if let Some(status) = &expect.status {
        let got = outcome.status.map_or("not started", |s| s.as_str());
        if got != status.value {
            failures.push(Failure::new(
                None,
                format!("status: expected {}, got {got}", status.value),
            ));
        }
    }
    let ran = |action: &str| outcome.steps.iter().any(|s| s.action_id == action);
    for action in expect.ran.iter().flatten() {
        if !ran(action) {
            failures.push(Failure::new(Some(action), "expected to run, did not"));
        }
    }
    for action in expect.not_ran.iter().flatten() {
        if ran(action) {
            failures.push(Failure::new(Some(action), "expected not to run, ran"));
        }
    }
    for (action, expected) in expect.outputs.iter().flat_map(|o| o.iter()) {
        let event = outcome.events.iter().find(|e| e.action_id == action.value);
        let Some(event) = event else {
            let said = expect.ran.iter().flatten().any(|a| a.value == action.value);
            if said && !ran(action) {
                // Already reported: expected to run, did not.
                continue;
            }
            let why = if ran(action) {
                "emitted nothing"
            } else {
                "did not run"
            };
            failures.push(Failure::new(
                Some(action),
                format!("expected an output, but it {why}"),
            ));
            continue;
        };
        let found = differences(expected, &event.payload);
        if !found.is_empty() {
            let mut failure = Failure::new(Some(action), "output differs");
            failure.details = found.iter().map(ToString::to_string).collect();
            failures.push(failure);
        }
    }
    // In order within an action (its retries, its template's steps); actions that run side by
    // side send in no fixed order between them.
    let mut next: BTreeMap<&str, usize> = BTreeMap::new();
    for expected in expect.requests.iter().flatten() {
        let action = expected.action.value.split('.').next().unwrap_or_default();
        let from = next.get(action).copied().unwrap_or(0);
        let found = (outcome.requests.iter().enumerate().skip(from))
            .find(|(_, sent)| request_differences(expected, sent).is_empty());
        match found {
            Some((at, _)) => {
                next.insert(action, at + 1);
            }
            None => failures.push(missing_request(expected, &outcome.requests, from)),
        }
    }
    if !failures.is_empty() {
        for step in &outcome.steps {
            if step.state == StepState::Failed {
                let message = (step.error.as_ref())
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("no message");
                failures.push(Failure::new(
                    Some(&step.action_id),
                    format!("note: failed on attempt {}: {message}", step.attempt),
                ));
            }
        }
    }
    failures
}

fn names(expected: &ExpectedRequest, sent: &SentRequest) -> bool {
    expected.action.value == sent.key || expected.action.value == sent.action
}

/// How `sent` differs from `expected`; empty when it is the request.
fn request_differences(expected: &ExpectedRequest, sent: &SentRequest) -> Vec<String> {
    let mut out = Vec::new();
    if !names(expected, sent) {
        out.push(format!(
            "sent by {}, not {}",
            sent.key, expected.action.value
        ));
        return out;
    }
    if let Some(method) = &expected.method {
        if !method.eq_ignore_ascii_case(&sent.method) {
            out.push(format!("method: expected {method}, got {}", sent.method));
        }
    }
    if let Some(url) = &expected.url {
        if *url != sent.url {
            out.push(format!("url: expected {url}, got {}", sent.url));
        }
    }
    for (name, value) in expected.headers.iter().flat_map(|h| h.iter()) {
        let got = sent.headers.get(&name.value.to_ascii_lowercase());
        if got.and_then(Value::as_str) != Some(value.as_str()) {
            let got = got.map_or("nothing".to_owned(), short);
            out.push(format!(
                "headers.{}: expected {}, got {got}",
                name.value,
                short(&Value::String(value.clone()))
            ));
        }
    }
    if let Some(body) = &expected.body {
        out.extend(
            differences(body, &sent.body)
                .iter()
                .map(|d| format!("body.{d}").replace("body.$", "body")),
        );
    }
    out
}

fn missing_request(expected: &ExpectedRequest, sent: &[SentRequest], from: usize) -> Failure {
    let what = [expected.method.as_deref(), expected.url.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let action = expected.action.value.split('.').next().unwrap_or_default();
    let mut failure = Failure::new(
        Some(action),
        format!(
            "expected request not sent: {} {what}",
            expected.action.value
        )
        .trim_end()
        .to_owned(),
    );
    let candidates: Vec<(usize, &SentRequest)> = sent
        .iter()
        .enumerate()
        .filter(|(_, s)| names(expected, s))
        .collect();
    if candidates.is_empty() {
        failure
            .details
            .push(format!("{} sent no request", expected.action.value));
    }
    for (index, candidate) in candidates {
        failure.details.push(format!("sent: {candidate}"));
        let mut found = request_differences(expected, candidate);
        if found.is_empty() && index < from {
            found.push(
                "it matches, but comes before a request of this action expected ahead of it".into(),
            );
        }
        failure
            .details
            .extend(found.into_iter().map(|d| format!("  {d}")));
    }
    failure
}

/// The text report: each failing test (every test with `verbose`), then the summary line.
pub fn text(files: &[FileResult], summary: &Summary, verbose: bool) -> String {
    let mut out = String::new();
    for file in files {
        for (path, diagnostic) in &file.problems {
            let _ = writeln!(out, "{}", diagnostic.render(path));
        }
        if let Some(error) = &file.error {
            let _ = writeln!(out, "{}: {error}", file.path);
        }
        for test in &file.tests {
            if test.passed() && !verbose {
                continue;
            }
            let verdict = if test.passed() { "PASS" } else { "FAIL" };
            let _ = writeln!(
                out,
                "{verdict} {}: test \"{}\" ({}:{})",
                file.story, test.name, file.path, test.span
            );
            for failure in &test.failures {
                let subject = failure.action.as_deref().unwrap_or("run");
                let _ = writeln!(out, "  {subject}: {}", failure.message);
                for line in &failure.details {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
    }
    let _ = writeln!(out, "{summary}");
    out
}

/// JUnit XML: a `testsuite` per test file, a `testcase` per test, a `failure` with the same
/// lines as the text report; an unreadable or invalid file is a suite with one `error`.
pub fn junit(files: &[FileResult], summary: &Summary) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"warden test\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
        summary.passed + summary.failed + summary.invalid_files,
        summary.failed,
        summary.invalid_files
    );
    for file in files {
        let failed = file.tests.iter().filter(|t| !t.passed()).count();
        let invalid = file.is_invalid();
        let seconds = (file.tests.iter().map(|t| t.elapsed))
            .sum::<std::time::Duration>()
            .as_secs_f64();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" file=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"{}\" time=\"{seconds:.3}\">",
            xml(&file.story),
            xml(&file.path),
            file.tests.len() + usize::from(invalid),
            usize::from(invalid),
        );
        if invalid {
            let mut lines: Vec<String> = (file.problems.iter())
                .map(|(path, d)| d.render(path))
                .collect();
            lines.extend(file.error.clone());
            let _ = writeln!(
                out,
                "    <testcase name=\"(file)\" classname=\"{}\" file=\"{}\">\n      <error message=\"the test file cannot run\">{}</error>\n    </testcase>",
                xml(&file.story),
                xml(&file.path),
                xml(&lines.join("\n"))
            );
        }
        for test in &file.tests {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.3}\"",
                xml(&test.name),
                xml(&file.story),
                xml(&file.path),
                test.span.line,
                test.elapsed.as_secs_f64()
            );
            if test.passed() {
                out.push_str("/>\n");
                continue;
            }
            let lines: Vec<String> = (test.failures.iter())
                .flat_map(|f| {
                    let subject = f.action.as_deref().unwrap_or("run");
                    std::iter::once(format!("{subject}: {}", f.message))
                        .chain(f.details.iter().map(|d| format!("  {d}")))
                })
                .collect();
            let first = test.failures.first().map_or(String::new(), |f| {
                format!("{}: {}", f.action.as_deref().unwrap_or("run"), f.message)
            });
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"expectation\">{}</failure>\n    </testcase>",
                xml(&first),
                xml(&lines.join("\n"))
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text escaped for XML attributes and content; characters XML 1.0 cannot carry are dropped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

impl TestResult {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn xml_text_is_escaped_and_control_characters_dropped() {
        assert_eq!(
            xml("a<b & \"c\"\u{1b}[31m\n"),
            "a&lt;b &amp; &quot;c&quot;[31m\n"
        );
    }
}
