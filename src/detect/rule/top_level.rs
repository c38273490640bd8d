//! What reading a rule file and a `scheduled_query` file share: the file is a mapping whose keys
//! are read one by one (so one mistake does not hide the others), a required key that is absent
//! is reported at the mapping that lacks it, and a file is accepted only when nothing was
//! reported, with every diagnostic sorted by position.

use super::Compiler;
use crate::diagnostic::{sort_and_dedup, Code, Diagnostic};
use crate::yaml::{self, Key, Node};

/// Parses `source`, requires its top level to be a mapping (else an error naming `expected`,
/// e.g. `a rule`, with `hint`), and hands the mapping's entries to `read`. `Ok` is what `read`
/// made when no diagnostic was reported; `Err` is every diagnostic, sorted by position.
pub(in crate::detect) fn check_file<T>(
    source: &str,
    expected: &str,
    hint: &str,
    read: impl FnOnce(&mut Compiler, &Node, &[(Key, Node)]) -> Option<T>,
) -> Result<T, Vec<Diagnostic>> {
    let mut d = Vec::new();
    let file = yaml::parse(source, &mut d).and_then(|root| {
        let Some(entries) = root.as_map() else {
            d.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    root.span,
                    format!("expected {expected} (a mapping), found {}", root.describe()),
                )
                .with_hint(hint),
            );
            return None;
        };
        read(&mut Compiler::new(&mut d), &root, entries)
    });
    sort_and_dedup(&mut d);
    match file {
        Some(file) if d.is_empty() => Ok(file),
        _ => Err(d),
    }
}

/// A missing required key, reported at the mapping that lacks it.
pub(in crate::detect) fn missing(node: &Node, key: &str, hint: &str) -> Diagnostic {
    Diagnostic::new(
        Code::MissingKey,
        node.span,
        format!("missing required key `{key}`"),
    )
    .with_hint(hint.to_owned())
}

/// Whether the mapping `node` has `key`; reports it [`missing`] when not.
pub(in crate::detect) fn require(c: &mut Compiler, node: &Node, key: &str, hint: &str) -> bool {
    let present = node.get(key).is_some();
    if !present {
        c.push(missing(node, key, hint));
    }
    present
}

/// The entry named `name` among a mapping's `entries`.
pub(in crate::detect) fn entry<'n>(
    entries: &'n [(Key, Node)],
    name: &str,
) -> Option<(&'n Key, &'n Node)> {
    entries
        .iter()
        .find(|(k, _)| k.name == name)
        .map(|(k, v)| (k, v))
}
