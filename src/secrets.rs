//! Credentials and resources: read once at start from the environment (`WARDEN_CREDENTIAL_<NAME>`,
//! `WARDEN_RESOURCE_<NAME>`) or from files of `name: value` lines. A credential's value never
//! reaches the store, a log line, an error or the API: it only renders into request headers,
//! bodies and auth (validation enforces where), and template errors scrub it. What comes back
//! from outside (a vendor that echoes the request, a caller who repeats the URL secret in the
//! query) is scrubbed with [`Secrets::scrub`] before it is stored or logged.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// A secret string whose `Debug` and `Display` show nothing.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that needs it (a request, a comparison).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with `candidate` in constant time (for request authentication).
    pub fn matches(&self, candidate: &[u8]) -> bool {
        !self.0.is_empty() && bool::from(self.0.as_bytes().ct_eq(candidate))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// `len` random bytes from the OS as lowercase hex: tokens and ids nobody can guess.
pub fn random_hex(len: usize) -> Result<String, getrandom::Error> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes)?;
    Ok(crate::hex::hex(&bytes))
}

/// Why credentials or resources could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A credentials file other users can read.
    #[error("{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    TooOpen {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// A line that is not `name: value`.
    #[error("{path}:{line}: expected `name: value`")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
    },
}

/// Stored in place of a credential value found in outside data.
pub const REDACTED: &str = "[redacted]";

/// Credentials and resources by name.
#[derive(Clone, Default)]
pub struct Secrets {
    credentials: BTreeMap<String, Secret>,
    resources: BTreeMap<String, String>,
    /// What [`Secrets::scrub`] looks for, kept in step with `credentials`.
    needles: Redactor,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .field("resources", &self.resources)
            .finish()
    }
}

const CREDENTIAL_PREFIX: &str = "WARDEN_CREDENTIAL_";
const RESOURCE_PREFIX: &str = "WARDEN_RESOURCE_";

impl Secrets {
    /// Reads `WARDEN_CREDENTIAL_<NAME>` and `WARDEN_RESOURCE_<NAME>` (names lowercased), then the
    /// files named by `WARDEN_CREDENTIALS_FILE` and `WARDEN_RESOURCES_FILE`; the environment wins.
    pub fn from_env() -> Result<Secrets, Error> {
        let mut secrets = Secrets::default();
        if let Ok(path) = std::env::var("WARDEN_CREDENTIALS_FILE") {
            for (name, value) in read_file(Path::new(&path), true)? {
                secrets.credentials.insert(name, Secret(value));
            }
        }
        if let Ok(path) = std::env::var("WARDEN_RESOURCES_FILE") {
            secrets
                .resources
                .extend(read_file(Path::new(&path), false)?);
        }
        for (key, value) in std::env::vars() {
            if let Some(name) = key.strip_prefix(CREDENTIAL_PREFIX) {
                secrets
                    .credentials
                    .insert(name.to_lowercase(), Secret(value));
            } else if let Some(name) = key.strip_prefix(RESOURCE_PREFIX) {
                secrets.resources.insert(name.to_lowercase(), value);
            }
        }
        secrets.needles = Redactor::of(secrets.credentials.values().map(Secret::expose));
        Ok(secrets)
    }

    /// Adds or replaces a credential.
    pub fn with_credential(mut self, name: &str, value: &str) -> Secrets {
        self.credentials.insert(name.to_owned(), Secret::new(value));
        self.needles = Redactor::of(self.credentials.values().map(Secret::expose));
        self
    }

    /// Adds or replaces a resource.
    pub fn with_resource(mut self, name: &str, value: &str) -> Secrets {
        self.resources.insert(name.to_owned(), value.to_owned());
        self
    }

    /// A credential.
    pub fn credential(&self, name: &str) -> Option<&Secret> {
        self.credentials.get(name)
    }

    /// A resource.
    pub fn resource(&self, name: &str) -> Option<&str> {
        self.resources.get(name).map(String::as_str)
    }

    /// The `credentials` template scope.
    pub fn credentials_json(&self) -> Value {
        Value::Object(
            self.credentials
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.0.clone())))
                .collect::<Map<_, _>>(),
        )
    }

    /// Replaces every credential value inside `value`'s strings and keys with [`REDACTED`]: run
    /// events, step errors and webhook entries pass through here before they are stored, so a
    /// vendor echoing `Authorization: Bearer <key>` or a caller repeating the URL secret in the
    /// query leaves no copy. Values are found raw, JSON-escaped and debug-escaped.
    pub fn scrub(&self, value: &mut Value) {
        self.needles.scrub(value);
    }

    /// [`Secrets::scrub`] for text (an error message, a vendor's answer).
    pub fn scrub_text(&self, text: &mut String) {
        self.needles.scrub_text(text);
    }

    /// The `resources` template scope: configured values over `defaults`.
    pub fn resources_json<'a>(
        &self,
        defaults: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Value {
        let mut out = Map::new();
        for (name, value) in defaults {
            out.insert(name.to_owned(), Value::String(value.to_owned()));
        }
        for (name, value) in &self.resources {
            out.insert(name.clone(), Value::String(value.clone()));
        }
        Value::Object(out)
    }
}

/// Secret values to find in outside text, in every form it could carry them (raw,
/// JSON-escaped, debug-escaped), longest first so that a secret containing another is replaced
/// whole. One for the engine's credentials, one per template context; clones share it.
#[derive(Clone, Default)]
pub struct Redactor(Arc<[String]>);

impl Redactor {
    /// The needles of `values` (empty ones are skipped).
    pub fn of<'a>(values: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut out = Vec::new();
        for raw in values.into_iter().filter(|v| !v.is_empty()) {
            out.push(raw.to_owned());
            let json = Value::String(raw.to_owned()).to_string();
            out.push(json[1..json.len() - 1].to_owned());
            out.push(raw.escape_debug().to_string());
        }
        out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        out.dedup();
        Redactor(out.into())
    }

    /// Replaces every needle in `text` with [`REDACTED`].
    pub fn scrub_text(&self, text: &mut String) {
        scrub_string(&self.0, text);
    }

    /// Replaces every needle in `value`'s strings and keys with [`REDACTED`].
    pub fn scrub(&self, value: &mut Value) {
        if !self.0.is_empty() {
            scrub_value(&self.0, value);
        }
    }
}

fn scrub_string(needles: &[String], text: &mut String) {
    for needle in needles {
        if text.contains(needle.as_str()) {
            *text = text.replace(needle.as_str(), REDACTED);
        }
    }
}

fn scrub_value(needles: &[String], value: &mut Value) {
    match value {
        Value::String(text) => scrub_string(needles, text),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(needles, v)),
        Value::Object(map) => {
            if map
                .keys()
                .any(|k| needles.iter().any(|n| k.contains(n.as_str())))
            {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(mut k, v)| {
                        scrub_string(needles, &mut k);
                        (k, v)
                    })
                    .collect();
            }
            map.values_mut().for_each(|v| scrub_value(needles, v));
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Reads `name: value` lines; `#` starts a comment line.
fn read_file(path: &Path, private: bool) -> Result<Vec<(String, String)>, Error> {
    let shown = path.display().to_string();
    if private {
        check_private(path, &shown)?;
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: shown.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once(':').ok_or(Error::Syntax {
            path: shown.clone(),
            line: index + 1,
        })?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        out.push((name.trim().to_lowercase(), value.to_owned()));
    }
    Ok(out)
}

#[cfg(unix)]
fn check_private(path: &Path, shown: &str) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| Error::Read {
            path: shown.to_owned(),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(Error::TooOpen {
            path: shown.to_owned(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &str) -> Result<(), Error> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_secret() {
        let secrets = Secrets::default().with_credential("slack", "xoxb-very-secret");
        let shown = format!("{secrets:?} {:?}", secrets.credential("slack"));
        assert!(!shown.contains("xoxb-very-secret"), "{shown}");
        assert!(shown.contains("slack"));
    }

    #[test]
    fn scrub_replaces_credentials_inside_strings_and_keys() {
        let secrets = Secrets::default()
            .with_credential("api", "k3y\"value")
            .with_credential("hook", "s3cret");
        let mut echoed = serde_json::json!({
            "headers": {"authorization": "Bearer k3y\"value", "x": "plain"},
            "query": {"s": "s3cret"},
            "raw": "{\"token\":\"k3y\\\"value\"}",
            "s3cret": [1, true, null, "a s3cret b"],
        });
        secrets.scrub(&mut echoed);
        assert_eq!(
            echoed,
            serde_json::json!({
                "headers": {"authorization": "Bearer [redacted]", "x": "plain"},
                "query": {"s": "[redacted]"},
                "raw": "{\"token\":\"[redacted]\"}",
                "[redacted]": [1, true, null, "a [redacted] b"],
            })
        );
        let mut text = "HTTP 400: echo s3cret".to_owned();
        secrets.scrub_text(&mut text);
        assert_eq!(text, "HTTP 400: echo [redacted]");
    }

    #[test]
    fn empty_secrets_never_match() {
        assert!(!Secret::new("").matches(b""));
        assert!(Secret::new("abc").matches(b"abc"));
        assert!(!Secret::new("abc").matches(b"abd"));
    }

    #[test]
    fn credential_files_readable_by_others_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("warden-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("credentials");
        std::fs::write(&file, "okta: abc\n# comment\nslack: \"xoxb\"\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(read_file(&file, true), Err(Error::TooOpen { .. })));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let read = read_file(&file, true).unwrap();
        assert_eq!(
            read,
            vec![
                ("okta".into(), "abc".into()),
                ("slack".into(), "xoxb".into())
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
