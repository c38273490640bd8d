//! Reading rule files and directories: the only file I/O of the detection stage's rules.

use super::rule::{check_rule, Rule, RuleFile, Unsupported};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::story::load::{read_source, yaml_files, FileReport};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// A rule and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    /// The file, as it will be printed.
    pub path: String,
    /// The compiled rule.
    pub rule: Rule,
    /// A digest of the file (an alert's `version`): changes whenever the file does.
    pub version: Option<String>,
}

/// An unsupported rule and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedUnsupported {
    /// The file, as it will be printed.
    pub path: String,
    /// What is unsupported, and the rule's id.
    pub unsupported: Unsupported,
}

/// Everything read from a set of paths.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Valid Simple Detection rules, in path order.
    pub rules: Vec<LoadedRule>,
    /// Rules warden recognises but does not run (correlation, Python, derived rules).
    pub unsupported: Vec<LoadedUnsupported>,
    /// Other analysis files (policies, queries, …): path and `AnalysisType`.
    pub other: Vec<(String, String)>,
    /// One report per file read, valid or not, in path order.
    pub reports: Vec<FileReport>,
}

impl Loaded {
    /// The number of problems across all files.
    pub fn error_count(&self) -> usize {
        self.reports.iter().map(|r| r.diagnostics.len()).sum()
    }

    /// The files with problems.
    pub fn invalid_files(&self) -> impl Iterator<Item = &FileReport> {
        self.reports.iter().filter(|r| !r.diagnostics.is_empty())
    }
}

/// Loads every rule file (`.yml`/`.yaml`, hidden entries skipped) under `paths`, files or
/// directories. A `RuleID` used by two files is an error in the second.
pub fn load(paths: &[PathBuf]) -> std::io::Result<Loaded> {
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    for path in paths {
        for file in yaml_files(path)? {
            let canonical = file.canonicalize().unwrap_or_else(|_| file.clone());
            if seen.insert(canonical) {
                files.push(file);
            }
        }
    }
    let mut loaded = Loaded::default();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for file in files {
        let path = file.display().to_string();
        let mut diagnostics = Vec::new();
        let source = read_source(&file);
        let version = source.as_ref().ok().map(|s| version_of(s));
        match source.map_err(|d| vec![d]).and_then(|s| check_rule(&s)) {
            Ok(RuleFile::Rule(rule)) => {
                if let Some(d) = claim_id(&mut ids, &rule.id, rule.id_span, &path) {
                    diagnostics.push(d);
                } else {
                    loaded.rules.push(LoadedRule {
                        path: path.clone(),
                        rule: *rule,
                        version,
                    });
                }
            }
            Ok(RuleFile::Unsupported(unsupported)) => {
                if let Some(d) = claim_id(&mut ids, &unsupported.id, unsupported.id_span, &path) {
                    diagnostics.push(d);
                } else {
                    loaded.unsupported.push(LoadedUnsupported {
                        path: path.clone(),
                        unsupported,
                    });
                }
            }
            Ok(RuleFile::Other(kind)) => loaded.other.push((path.clone(), kind)),
            Err(problems) => diagnostics = problems,
        }
        loaded.reports.push(FileReport { path, diagnostics });
    }
    Ok(loaded)
}

/// The first 128 bits of the file's SHA-256, in hex (the length of Panther's versions).
fn version_of(source: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(source.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn claim_id(
    ids: &mut BTreeMap<String, String>,
    id: &str,
    span: Span,
    path: &str,
) -> Option<Diagnostic> {
    match ids.get(id) {
        Some(first) => Some(
            Diagnostic::new(
                Code::InvalidId,
                span,
                format!("RuleID `{id}` is already used by {first}"),
            )
            .with_hint("every rule needs its own RuleID"),
        ),
        None => {
            ids.insert(id.to_owned(), path.to_owned());
            None
        }
    }
}
