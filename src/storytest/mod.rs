//! Story tests (`warden test`): `<story>.test.yml` beside a story gives entry events, canned
//! vendor answers and prompt answers, and what must happen; each test runs the real engine over
//! a fresh SQLite file in a temporary directory, a manual clock and canned HTTP (no network, no
//! database server), in milliseconds and the same way every time.
//!
//! The parts: [`format`] (the file, read and checked against its story; pure), [`vendors`] (the
//! canned responder behind [`crate::http_client::canned`]), [`harness`] (one test's run, driven
//! to its end), [`subset`] (JSON subset matching and its differences), [`report`] (expectations
//! against the outcome; text and JUnit).

pub mod format;
pub mod harness;
pub mod report;
pub mod subset;
pub mod vendors;

use crate::diagnostic::{Diagnostic, Span};
use crate::story::load::{self, is_test_file, read_source, yaml_files};
use crate::story::Story;
use report::Failure;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One test file's results.
#[derive(Debug, Clone)]
pub struct FileResult {
    /// The test file, as given.
    pub path: String,
    /// The story it tests (its id).
    pub story: String,
    /// Problems in the test file or its story, each with the file it is in.
    pub problems: Vec<(String, Diagnostic)>,
    /// Why its tests could not run at all (no story beside it).
    pub error: Option<String>,
    /// Its tests' results, in file order.
    pub tests: Vec<TestResult>,
}

impl FileResult {
    /// Whether the file could not run.
    pub fn is_invalid(&self) -> bool {
        !self.problems.is_empty() || self.error.is_some()
    }
}

/// One test's result.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// Its name.
    pub name: String,
    /// Where it is in its file.
    pub span: Span,
    /// What did not hold; empty when it passed.
    pub failures: Vec<Failure>,
    /// How long it took.
    pub elapsed: Duration,
}

/// The results of a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Stories tested.
    pub stories: usize,
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed.
    pub failed: usize,
    /// Test files that could not run (invalid, or their story is).
    pub invalid_files: usize,
}

impl Summary {
    /// Whether the run passes: no failed test and no invalid file.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.invalid_files == 0
    }

    fn of(files: &[FileResult]) -> Summary {
        let mut summary = Summary {
            stories: files.iter().filter(|f| !f.is_invalid()).count(),
            invalid_files: files.iter().filter(|f| f.is_invalid()).count(),
            ..Summary::default()
        };
        for test in files.iter().flat_map(|f| &f.tests) {
            if test.passed() {
                summary.passed += 1;
            } else {
                summary.failed += 1;
            }
        }
        summary
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        write!(
            f,
            "{} {}, {} {} passed, {} failed",
            self.stories,
            plural(self.stories, "story", "stories"),
            self.passed,
            plural(self.passed, "test", "tests"),
            self.failed
        )?;
        if self.invalid_files > 0 {
            write!(
                f,
                ", {} invalid {}",
                self.invalid_files,
                plural(self.invalid_files, "file", "files")
            )?;
        }
        Ok(())
    }
}

/// The test files under `paths`: a directory's `*.test.yml`, a test file itself, or the test
/// file beside a story file. Sorted, each once.
pub fn discover(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut found = BTreeSet::new();
    for path in paths {
        if path.is_file() && !is_test_file(path) {
            if let Some(test) = test_file_of(path) {
                found.insert(test);
            }
            continue;
        }
        found.extend(yaml_files(path)?.into_iter().filter(|p| is_test_file(p)));
    }
    Ok(found.into_iter().collect())
}

/// `x.test.yml` beside the story `x.yml`, if there is one.
fn test_file_of(story: &Path) -> Option<PathBuf> {
    let stem = story.file_stem()?.to_str()?;
    ["yml", "yaml"]
        .iter()
        .map(|ext| story.with_file_name(format!("{stem}.test.{ext}")))
        .find(|p| p.is_file())
}

/// The story file a test file tests: `x.yml` (or `x.yaml`) beside `x.test.yml`.
fn story_of(test: &Path) -> (String, Option<PathBuf>) {
    let name = test
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let id = name
        .strip_suffix(".test.yml")
        .or_else(|| name.strip_suffix(".test.yaml"))
        .unwrap_or(name)
        .to_owned();
    let story = ["yml", "yaml"]
        .iter()
        .map(|ext| test.with_file_name(format!("{id}.{ext}")))
        .find(|p| p.is_file());
    (id, story)
}

/// A test file's problems: its shape, then (when its story is among `stories`) every action,
/// prompt and status it names. What `warden validate` reports for test files.
pub fn check_file(path: &Path, stories: &[Story]) -> Vec<Diagnostic> {
    let (id, _) = story_of(path);
    match read_source(path)
        .map_err(|d| vec![d])
        .and_then(|s| format::read(&s))
    {
        Err(diagnostics) => diagnostics,
        Ok(file) => (stories.iter().find(|s| s.id == id))
            .map(|story| format::check(&file, story))
            .unwrap_or_default(),
    }
}

/// Which tests to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only tests with these names (all when empty).
    pub only: Vec<String>,
}

/// Runs every test of every file in `files`, with the integration templates in `templates`.
/// Fails only when the stories' directories cannot be read.
pub async fn run(
    files: &[PathBuf],
    templates: &Path,
    options: &Options,
) -> std::io::Result<(Vec<FileResult>, Summary)> {
    // The stories beside the test files, loaded together so `send_to_story` finds its targets.
    let dirs: BTreeSet<PathBuf> = files
        .iter()
        .map(|f| f.parent().map(Path::to_path_buf).unwrap_or_default())
        .collect();
    let dirs: Vec<PathBuf> = dirs.into_iter().collect();
    let loaded = load::load(&dirs, templates)?;
    let scratch = std::env::temp_dir().join(format!("warden-test-{}", uuid::Uuid::now_v7()));
    let mut results = Vec::new();
    if let Err(error) = std::fs::create_dir_all(&scratch) {
        let error = format!("cannot create {}: {error}", scratch.display());
        for file in files {
            results.push(FileResult {
                path: file.display().to_string(),
                story: story_of(file).0,
                problems: Vec::new(),
                error: Some(error.clone()),
                tests: Vec::new(),
            });
        }
    } else {
        for file in files {
            results.push(run_file(file, &loaded, &scratch, options).await);
        }
        let _ = std::fs::remove_dir_all(&scratch);
    }
    let summary = Summary::of(&results);
    Ok((results, summary))
}

async fn run_file(
    file: &Path,
    loaded: &load::Loaded,
    scratch: &Path,
    options: &Options,
) -> FileResult {
    let path = file.display().to_string();
    let (id, story_path) = story_of(file);
    let mut result = FileResult {
        path: path.clone(),
        story: id.clone(),
        problems: Vec::new(),
        error: None,
        tests: Vec::new(),
    };
    let test_file = match read_source(file)
        .map_err(|d| vec![d])
        .and_then(|s| format::read(&s))
    {
        Ok(test_file) => Some(test_file),
        Err(diagnostics) => {
            result
                .problems
                .extend(diagnostics.into_iter().map(|d| (path.clone(), d)));
            None
        }
    };
    let Some(story_path) = story_path else {
        result.error = Some(format!("no story `{id}.yml` beside this test file"));
        return result;
    };
    let story_shown = story_path.display().to_string();
    let story_canonical = story_path.canonicalize().ok();
    // The story's own problems stop its tests.
    for report in &loaded.reports {
        if Path::new(&report.path).canonicalize().ok() == story_canonical {
            result
                .problems
                .extend((report.diagnostics.iter()).map(|d| (story_shown.clone(), d.clone())));
        }
    }
    let story: Option<&Story> = loaded.stories.iter().find(|s| s.id == id);
    let (Some(story), Some(test_file)) = (story, test_file) else {
        return result;
    };
    let problems = format::check(&test_file, story);
    if !problems.is_empty() || !result.problems.is_empty() {
        result
            .problems
            .extend(problems.into_iter().map(|d| (path.clone(), d)));
        return result;
    }
    for test in &test_file.tests {
        if !options.only.is_empty() && !options.only.contains(&test.name.value) {
            continue;
        }
        let started = Instant::now();
        let outcome =
            harness::run(story, &loaded.stories, &test_file.resources, test, scratch).await;
        let failures = match outcome {
            Ok(outcome) => report::evaluate(test, &outcome),
            Err(error) => vec![Failure {
                action: None,
                message: format!("could not run: {error}"),
                details: Vec::new(),
            }],
        };
        result.tests.push(TestResult {
            name: test.name.value.clone(),
            span: test.name.span,
            failures,
            elapsed: started.elapsed(),
        });
    }
    result
}

#[cfg(test)]
mod tests;
