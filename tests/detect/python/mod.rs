//! Python rules end to end: the seed articles' rules in Python raise the alerts their YAML twins
//! raise (ingest → alert → story webhook, and the scheduled rule over the same rows) (`twins`);
//! rules that raise, loop, import what does not exist or do not parse are errors naming file
//! and line while the other rules keep working, and a rule's functions override its metadata
//! (`errors`); `warden rules test` on a Panther-layout repository (`layout`).

mod errors;
mod layout;
mod twins;

use crate::harness::{root, TestApp};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use warden::detect::load::{load, Loaded};

/// A fresh directory under the system's temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("warden-python-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The shipped rules with the YAML rule `yaml` replaced by its Python twin (enabled, under the
/// YAML rule's id, so alert ids compare).
pub fn with_python_twin(yaml: &str, twin_id: &str, id: &str) -> Loaded {
    let dir = scratch("twin");
    copy_dir(&root().join("rules"), &dir);
    std::fs::remove_file(dir.join(yaml)).unwrap();
    let twin = dir.join("python").join(yaml);
    let text = std::fs::read_to_string(&twin).unwrap();
    let text = text
        .replace(&format!("RuleID: {twin_id}"), &format!("RuleID: {id}"))
        .replace("Enabled: false", "Enabled: true")
        .replace(" (Python)\n", "\n");
    std::fs::write(&twin, text).unwrap();
    let loaded = load(&[dir]).unwrap();
    assert_eq!(loaded.error_count(), 0, "{:?}", loaded.reports);
    loaded
}

pub async fn only_alert(app: &TestApp, rule: &str) -> Value {
    let alerts = app.alerts(rule).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    app.get(&format!(
        "/api/alerts/{}",
        alerts[0]["id"].as_str().unwrap()
    ))
    .await
}

/// The alert body without `version` (a digest of the rule's file) and `description` (the twin's
/// says it is the twin): they differ by design.
pub fn comparable(notification: &Value) -> Value {
    let mut body = notification.clone();
    body.as_object_mut().unwrap().remove("version");
    body.as_object_mut().unwrap().remove("description");
    body
}

pub const GOOD: &str = "AnalysisType: rule\nRuleID: Test.Good\nEnabled: true\nFilename: good.py\n\
                    LogTypes: [Okta.SystemLog]\nSeverity: Low\n";

pub fn python_rule(dir: &Path, name: &str, code: &str) {
    let yml = GOOD
        .replace("Test.Good", &format!("Test.{name}"))
        .replace("good.py", &format!("{name}.py"));
    std::fs::write(dir.join(format!("{name}.yml")), yml).unwrap();
    std::fs::write(dir.join(format!("{name}.py")), code).unwrap();
}

pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}
