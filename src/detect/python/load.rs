//! Reading what Python rules need: each rule's `Filename`, global helpers (`AnalysisType:
//! global`) and data models (`AnalysisType: datamodel`), and checking that it all loads in
//! Python (syntax, imports, a `rule` function), each problem reported at its file and line.

use super::protocol::{HelperSource, Mapping, ModelSource};
use super::{Config, Pool, PythonCode, Shared};
use crate::detect::load::{Loaded, LoadedUnsupported};
use crate::detect::Unsupported;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::story::load::{read_source, FileReport};
use crate::yaml::{self, Node};
use std::path::Path;
use std::sync::Arc;

/// A global helper's `.yml`: `GlobalID` (else the file's stem) names the module; `Filename` is
/// its code. `Ok(None)` when the file names no Python.
pub fn read_helper(yml: &Path, source: &str) -> Result<Option<HelperSource>, Diagnostic> {
    let root = parse(source)?;
    let Some(filename) = root.get("Filename").and_then(Node::as_str) else {
        return Ok(None);
    };
    let path = sibling(yml, filename);
    let code = read_source(&path).map_err(|d| at_filename(&root, d))?;
    let stem = Path::new(filename)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = root
        .get("GlobalID")
        .and_then(Node::as_str)
        .map_or(stem, str::to_owned);
    Ok(Some(HelperSource {
        name,
        path: path.display().to_string(),
        source: code,
    }))
}

/// A data model's `.yml`: `LogTypes`, `Mappings` (`Name` with `Path` or `Method`) and the
/// optional `Filename`. `Ok(None)` for a disabled model.
pub fn read_model(yml: &Path, source: &str) -> Result<Option<ModelSource>, Diagnostic> {
    let root = parse(source)?;
    if root.get("Enabled").map(Node::to_json) == Some(serde_json::Value::Bool(false)) {
        return Ok(None);
    }
    let text = |node: &Node, key: &str| node.get(key).and_then(Node::as_str).map(str::to_owned);
    let log_types = root
        .get("LogTypes")
        .and_then(Node::as_list)
        .map(|l| {
            l.iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut mappings = Vec::new();
    for item in root.get("Mappings").and_then(Node::as_list).unwrap_or(&[]) {
        let Some(name) = text(item, "Name") else {
            return Err(Diagnostic::new(
                Code::MissingKey,
                item.span,
                "a data model mapping has no `Name`",
            )
            .with_hint("each mapping is `Name:` with `Path:` or `Method:`"));
        };
        let (path, method) = (text(item, "Path"), text(item, "Method"));
        if path.is_none() == method.is_none() {
            return Err(Diagnostic::new(
                Code::KindConflict,
                item.span,
                format!("the mapping `{name}` needs exactly one of `Path` and `Method`"),
            ));
        }
        mappings.push(Mapping { name, path, method });
    }
    let (path, code) = match root.get("Filename").and_then(Node::as_str) {
        Some(filename) => {
            let path = sibling(yml, filename);
            let code = read_source(&path).map_err(|d| at_filename(&root, d))?;
            (path.display().to_string(), Some(code))
        }
        None => (yml.display().to_string(), None),
    };
    Ok(Some(ModelSource {
        id: text(&root, "DataModelID").unwrap_or_else(|| path.clone()),
        log_types,
        mappings,
        path,
        source: code,
    }))
}

fn parse(source: &str) -> Result<Node, Diagnostic> {
    let mut d = Vec::new();
    match yaml::parse(source, &mut d) {
        Some(root) if root.as_map().is_some() => Ok(root),
        _ => Err(d.into_iter().next().unwrap_or_else(|| {
            Diagnostic::new(Code::InvalidValue, Span::new(1, 1), "expected a mapping")
        })),
    }
}

fn sibling(yml: &Path, filename: &str) -> std::path::PathBuf {
    yml.parent().unwrap_or(Path::new(".")).join(filename)
}

fn at_filename(root: &Node, d: Diagnostic) -> Diagnostic {
    let span = root.get("Filename").map_or(root.span, |n| n.span);
    Diagnostic { span, ..d }
}

/// Reads every Python rule's module, then loads them all in a worker with `shared`: a rule that
/// does not load is reported at its Python file's line and set aside. When Python cannot start,
/// every enabled Python rule is reported (naming what is missing) and disabled ones are listed
/// as unsupported, so a machine without Python still runs everything else.
pub fn attach(loaded: &mut Loaded, shared: Shared, config: &Config) {
    let shared = Arc::new(shared);
    let mut problems: Vec<(String, Diagnostic)> = Vec::new();
    loaded.rules.retain_mut(|entry| {
        let Some(python) = entry.rule.python.as_mut() else {
            return true;
        };
        let path = sibling(Path::new(&entry.path), &python.filename);
        match read_source(&path) {
            Ok(source) => {
                python.code = Some(Arc::new(PythonCode {
                    path: path.display().to_string(),
                    source,
                    shared: shared.clone(),
                }));
                true
            }
            Err(d) => {
                let d = Diagnostic {
                    span: python.filename_span,
                    message: format!("{}: {}", python.filename, d.message),
                    ..d
                };
                problems.push((entry.path.clone(), d));
                false
            }
        }
    });
    let library = super::library(loaded.rules.iter().map(|r| &r.rule));
    let has_python = !library.rules.is_empty();
    let errors = if has_python {
        Pool::new(config.clone(), &library).check()
    } else {
        Ok(Vec::new())
    };
    match errors {
        Ok(errors) => {
            for (id, error) in errors {
                let path = error.path.clone().unwrap_or_else(|| id.clone());
                let span = Span::new(error.line.unwrap_or(1), error.column.unwrap_or(1).max(1));
                let d = Diagnostic::new(Code::InvalidValue, span, error.message)
                    .with_hint(hint_for(&id, loaded));
                problems.push((path, d));
                loaded
                    .rules
                    .retain(|r| r.rule.id != id || r.rule.python.is_none());
            }
        }
        Err(error) => {
            let mut kept = Vec::new();
            for entry in std::mem::take(&mut loaded.rules) {
                let Some(python) = entry.rule.python.as_ref() else {
                    kept.push(entry);
                    continue;
                };
                if entry.rule.enabled {
                    let message =
                        format!("`{}` is a Python rule: {}", entry.rule.id, error.message);
                    let d = Diagnostic::new(Code::InvalidValue, python.filename_span, message)
                        .with_hint("install Python 3 (`python3`), or set `Enabled: false`");
                    problems.push((entry.path.clone(), d));
                } else {
                    loaded.unsupported.push(LoadedUnsupported {
                        path: entry.path.clone(),
                        unsupported: Unsupported {
                            id: entry.rule.id.clone(),
                            id_span: entry.rule.id_span,
                            feature: "Python rules (no Python interpreter)".to_owned(),
                            tests: entry.rule.tests.len(),
                        },
                    });
                }
            }
            loaded.rules = kept;
        }
    }
    for (path, diagnostic) in problems {
        match loaded.reports.iter_mut().find(|r| r.path == path) {
            Some(report) => report.diagnostics.push(diagnostic),
            None => loaded.reports.push(FileReport {
                path,
                diagnostics: vec![diagnostic],
            }),
        }
    }
}

fn hint_for(id: &str, loaded: &Loaded) -> String {
    match loaded.rules.iter().find(|r| r.rule.id == id) {
        Some(rule) => format!("in the Python rule `{id}` ({})", rule.path),
        None => format!("in `{id}`"),
    }
}
