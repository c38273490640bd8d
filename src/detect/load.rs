//! Reading rule files and directories: the only file I/O of the detection stage's rules.
//!
//! Besides each file's own checks, the loader checks what files say about each other: a `RuleID`
//! or `QueryName` used twice is an error in the second file, and an **enabled** scheduled rule
//! (or scheduled query) naming a query (or rule) that was not loaded is an error at the name. A
//! disabled one is not checked: it never runs, and Panther's content ships disabled scheduled
//! rules whose SQL queries live elsewhere (the conformance corpus has three). A file with an
//! error is not loaded, so nothing runs half-wired.
//!
//! Python rules (`Filename:`) are read with the global helpers and data models found among the
//! same paths (a Panther repository's `global_helpers/` and `data_models/`), then loaded once in
//! Python ([`python::load::attach`]) so that their errors are reported here, at their line.

use super::python;
use super::rule::{check_rule, AnalysisType, Rule, RuleFile, Unsupported};
use super::scheduled::{check_scheduled_query, ScheduledQuery, ScheduledQueryFile};
use crate::diagnostic::{did_you_mean, sort_and_dedup, Code, Diagnostic, Span};
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

/// A scheduled query and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedQuery {
    /// The file, as it will be printed.
    pub path: String,
    /// The validated query.
    pub query: ScheduledQuery,
}

/// An unsupported rule (or SQL-only scheduled query) and the file it came from.
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
    /// Rules warden recognises but does not run (correlation, Python, derived rules), and
    /// scheduled queries with only warehouse SQL (their `QueryName` as the id).
    pub unsupported: Vec<LoadedUnsupported>,
    /// Scheduled queries with a `WardenQuery`, in path order.
    pub queries: Vec<LoadedQuery>,
    /// Other analysis files (policies, saved queries, …): path and `AnalysisType`.
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

/// Loads every rule and scheduled query file (`.yml`/`.yaml`, hidden entries skipped) under
/// `paths`, files or directories, then checks the references between them.
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
    let mut shared = python::Shared::default();
    let mut rule_ids = Names::new("RuleID", "every rule needs its own RuleID");
    let mut query_names = Names::new("QueryName", "every scheduled query needs its own QueryName");
    for file in files {
        let path = file.display().to_string();
        let mut diagnostics = Vec::new();
        let source = read_source(&file).map_err(|d| vec![d]);
        let version = source.as_deref().ok().map(version_of);
        let checked = source.as_deref().map_err(Clone::clone).and_then(check_rule);
        match checked {
            Ok(RuleFile::Rule(rule)) => match rule_ids.claim(&rule.id, rule.id_span, &path) {
                Some(d) => diagnostics.push(d),
                None => loaded.rules.push(LoadedRule {
                    path: path.clone(),
                    rule: *rule,
                    version,
                }),
            },
            Ok(RuleFile::Unsupported(unsupported)) => {
                match rule_ids.claim(&unsupported.id, unsupported.id_span, &path) {
                    Some(d) => diagnostics.push(d),
                    None => loaded.unsupported.push(LoadedUnsupported {
                        path: path.clone(),
                        unsupported,
                    }),
                }
            }
            Ok(RuleFile::Other(kind)) if kind == "scheduled_query" => {
                let source = source.as_deref().unwrap_or_default();
                match check_scheduled_query(source) {
                    Ok(ScheduledQueryFile::Query(query)) => {
                        match query_names.claim(&query.name, query.name_span, &path) {
                            Some(d) => diagnostics.push(d),
                            None => loaded.queries.push(LoadedQuery {
                                path: path.clone(),
                                query: *query,
                            }),
                        }
                    }
                    Ok(ScheduledQueryFile::Unsupported(unsupported)) => {
                        match query_names.claim(&unsupported.id, unsupported.id_span, &path) {
                            Some(d) => diagnostics.push(d),
                            None => loaded.unsupported.push(LoadedUnsupported {
                                path: path.clone(),
                                unsupported,
                            }),
                        }
                    }
                    Err(problems) => diagnostics = problems,
                }
            }
            Ok(RuleFile::Other(kind)) if kind == "global" || kind == "datamodel" => {
                let source = source.as_deref().unwrap_or_default();
                let read = if kind == "global" {
                    python::load::read_helper(&file, source).map(|h| shared.helpers.extend(h))
                } else {
                    python::load::read_model(&file, source).map(|m| shared.models.extend(m))
                };
                if let Err(d) = read {
                    diagnostics.push(d);
                }
            }
            Ok(RuleFile::Other(kind)) => loaded.other.push((path.clone(), kind)),
            Err(problems) => diagnostics = problems,
        }
        loaded.reports.push(FileReport { path, diagnostics });
    }
    check_references(&mut loaded, &rule_ids, &query_names);
    python::load::attach(&mut loaded, shared, &python::Config::from_env());
    Ok(loaded)
}

/// The first 128 bits of the file's SHA-256, in hex (the length of Panther's versions).
fn version_of(source: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(source.as_bytes());
    crate::hex::hex(&digest[..16])
}

/// The names of one kind (`RuleID`, `QueryName`) claimed so far, with the file of each.
struct Names {
    what: &'static str,
    hint: &'static str,
    paths: BTreeMap<String, String>,
}

impl Names {
    fn new(what: &'static str, hint: &'static str) -> Names {
        Names {
            what,
            hint,
            paths: BTreeMap::new(),
        }
    }

    /// Claims `name` for `path`; a diagnostic if another file has it.
    fn claim(&mut self, name: &str, span: Span, path: &str) -> Option<Diagnostic> {
        match self.paths.get(name) {
            Some(first) => Some(
                Diagnostic::new(
                    Code::InvalidId,
                    span,
                    format!("{} `{name}` is already used by {first}", self.what),
                )
                .with_hint(self.hint),
            ),
            None => {
                self.paths.insert(name.to_owned(), path.to_owned());
                None
            }
        }
    }

    fn contains(&self, name: &str) -> bool {
        self.paths.contains_key(name)
    }

    /// "no … is loaded" with a did-you-mean when a loaded name is close.
    fn unknown(&self, list: &str, kind: &str, name: &str, span: Span) -> Diagnostic {
        let hint = did_you_mean(name, self.paths.keys().map(String::as_str)).unwrap_or_else(|| {
            format!(
                "no loaded file has `{}: {name}`; load it too, or fix the name",
                self.what
            )
        });
        Diagnostic::new(
            Code::UnknownLink,
            span,
            format!("`{list}` names unknown {kind} `{name}`"),
        )
        .with_hint(hint)
    }
}

/// Enabled scheduled rules must name loaded queries, and enabled queries loaded rules; a file
/// that does not is reported and set aside.
fn check_references(loaded: &mut Loaded, rule_ids: &Names, query_names: &Names) {
    let mut problems: Vec<(String, Diagnostic)> = Vec::new();
    loaded.rules.retain(|entry| {
        let rule = &entry.rule;
        if rule.analysis_type != AnalysisType::ScheduledRule || !rule.enabled {
            return true;
        }
        let before = problems.len();
        for name in rule
            .scheduled_queries
            .iter()
            .filter(|n| !query_names.contains(n))
        {
            let d = query_names.unknown("ScheduledQueries", "scheduled query", name, name.span);
            problems.push((entry.path.clone(), d));
        }
        problems.len() == before
    });
    loaded.queries.retain(|entry| {
        let query = &entry.query;
        if !query.enabled {
            return true;
        }
        let before = problems.len();
        let ids = query
            .query
            .rule_ids()
            .iter()
            .zip(query.query.rule_id_spans());
        for (id, span) in ids.filter(|(id, _)| !rule_ids.contains(id)) {
            problems.push((
                entry.path.clone(),
                rule_ids.unknown("RuleIDs", "rule", id, *span),
            ));
        }
        problems.len() == before
    });
    for (path, diagnostic) in problems {
        if let Some(report) = loaded.reports.iter_mut().find(|r| r.path == path) {
            report.diagnostics.push(diagnostic);
            sort_and_dedup(&mut report.diagnostics);
        }
    }
}
