//! Reading stories and integration templates from disk.

use super::validate::{check_integration, check_story, Catalog};
use super::{Integration, Story};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::yaml::{source_too_large, MAX_SOURCE_BYTES};
use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file with the problems found in it.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The file, as it will be printed.
    pub path: String,
    /// Its problems, sorted by position; empty when the file is valid.
    pub diagnostics: Vec<Diagnostic>,
}

/// Everything loaded from a set of paths.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Valid stories.
    pub stories: Vec<Story>,
    /// Valid integration templates, by `vendor/name`.
    pub integrations: BTreeMap<String, Arc<Integration>>,
    /// One report per file read, valid or not, in path order.
    pub reports: Vec<FileReport>,
}

impl Loaded {
    /// The number of problems across all files.
    pub fn error_count(&self) -> usize {
        self.reports.iter().map(|r| r.diagnostics.len()).sum()
    }
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yml" | "yaml")
    )
}

/// The YAML files under `path` (itself if it is a file), sorted. Hidden entries are skipped.
pub fn yaml_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else if is_yaml(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether `path` is a story's test file (`<story>.test.yml`, read by `warden test`), not a
/// story.
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.yml") || n.ends_with(".test.yaml"))
}

/// A story's id: its file name without the extension.
pub fn story_id(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads a YAML file, or says why not as a diagnostic at 1:1. Reads at most one byte past
/// [`MAX_SOURCE_BYTES`], so a huge (or endless) file costs no more memory than the limit.
pub fn read_source(path: &Path) -> Result<String, Diagnostic> {
    let unreadable = |error: std::io::Error| {
        Diagnostic::new(
            Code::YamlSyntax,
            Span::new(1, 1),
            format!("cannot read the file: {error}"),
        )
        .with_hint("check the path and that the file is UTF-8 text")
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    let limit = MAX_SOURCE_BYTES as u64;
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        let len = std::fs::metadata(path).map_or(limit + 1, |m| m.len().max(limit + 1));
        return Err(source_too_large(len));
    }
    String::from_utf8(bytes).map_err(|_| {
        unreadable(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

/// Loads every integration template under `dir` (`vendor/name.yml` → `vendor/name`). A missing
/// directory loads none.
pub fn load_integrations(dir: &Path, loaded: &mut Loaded) {
    let Ok(files) = yaml_files(dir) else { return };
    for path in files {
        let id = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let result = read_source(&path)
            .map_err(|d| vec![d])
            .and_then(|source| check_integration(&id, &path, &source));
        let diagnostics = match result {
            Ok(integration) => {
                loaded.integrations.insert(id, Arc::new(integration));
                Vec::new()
            }
            Err(diagnostics) => diagnostics,
        };
        loaded.reports.push(FileReport {
            path: path.display().to_string(),
            diagnostics,
        });
    }
}

/// Loads the integration templates under `templates`, then every story under `paths` (files or
/// directories). Files inside `templates` and test files (`*.test.yml`) are not read as stories.
/// Stories may `send_to_story` any story loaded alongside them.
pub fn load(paths: &[PathBuf], templates: &Path) -> std::io::Result<Loaded> {
    let mut loaded = Loaded::default();
    load_integrations(templates, &mut loaded);
    let templates_dir = templates.canonicalize().ok();
    let mut story_files = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for path in paths {
        for file in yaml_files(path)? {
            // `stories` and `./stories/x.yml` name one file: read it once.
            let canonical = file.canonicalize().unwrap_or_else(|_| file.clone());
            let inside_templates = templates_dir
                .as_ref()
                .is_some_and(|t| canonical.starts_with(t));
            if !inside_templates && !is_test_file(&file) && seen.insert(canonical) {
                story_files.push(file);
            }
        }
    }
    let catalog = Catalog {
        integrations: loaded.integrations.clone(),
        story_ids: story_files.iter().map(|p| story_id(p)).collect(),
    };
    for path in story_files {
        let result = read_source(&path)
            .map_err(|d| vec![d])
            .and_then(|source| check_story(&story_id(&path), &source, &catalog));
        let diagnostics = match result {
            Ok(story) => {
                loaded.stories.push(story);
                Vec::new()
            }
            Err(diagnostics) => diagnostics,
        };
        loaded.reports.push(FileReport {
            path: path.display().to_string(),
            diagnostics,
        });
    }
    check_webhook_paths(&mut loaded);
    Ok(loaded)
}

/// Two stories cannot listen on the same webhook path.
fn check_webhook_paths(loaded: &mut Loaded) {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for story in &loaded.stories {
        for (_, action) in story.entry_points() {
            let super::ActionConfig::Webhook(options) = &action.config else {
                continue;
            };
            if let Some(first) = seen.get(&options.path.value) {
                let diagnostic = Diagnostic::new(
                    Code::InvalidOption,
                    options.path.span,
                    format!(
                        "webhook path `{}` is already used by story `{first}`",
                        options.path.value
                    ),
                )
                .with_hint("each webhook path must be unique across all stories");
                if let Some(report) = loaded
                    .reports
                    .iter_mut()
                    .find(|r| story_id(Path::new(&r.path)) == story.id)
                {
                    report.diagnostics.push(diagnostic);
                }
            } else {
                seen.insert(options.path.value.clone(), story.id.clone());
            }
        }
    }
    let valid: std::collections::BTreeSet<String> = loaded
        .reports
        .iter()
        .filter(|r| r.diagnostics.is_empty())
        .map(|r| story_id(Path::new(&r.path)))
        .collect();
    loaded.stories.retain(|s| valid.contains(&s.id));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_limit_is_refused_without_reading_it_whole() {
        let dir = std::env::temp_dir().join(format!("warden-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("huge.yml");
        // Sparse: 500 MB on paper, nothing on disk; reading it whole would take 500 MB.
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(500 << 20).unwrap();
        let error = read_source(&path).unwrap_err();
        assert_eq!(error.code, Code::YamlLimit);
        assert!(
            error.message.contains("524288000 bytes"),
            "{}",
            error.message
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn test_files_beside_stories_are_not_read_as_stories() {
        let dir = std::env::temp_dir().join(format!("warden-load-tests-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let story = "name: S\ncredentials: { hook: h }\nactions:\n  hook:\n    type: webhook\n    options: { path: s, secret_credential: hook }\n";
        std::fs::write(dir.join("s.yml"), story).unwrap();
        std::fs::write(dir.join("s.test.yml"), "tests: {}\n").unwrap();
        let loaded = load(std::slice::from_ref(&dir), &dir.join("no-templates")).unwrap();
        let read: Vec<&str> = loaded.reports.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(loaded.error_count(), 0, "{:?}", loaded.reports);
        assert_eq!(read, [dir.join("s.yml").display().to_string()]);
        assert_eq!(loaded.stories.len(), 1);
        assert!(is_test_file(Path::new("stories/a.test.yaml")));
        assert!(!is_test_file(Path::new("stories/test.yml")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
