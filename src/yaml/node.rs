//! The [`Node`] tree and what readers ask of it: shapes, scalars, keys, JSON.

use super::scalar::{resolve_plain, Resolved};
use crate::diagnostic::{Code, Diagnostic, Span};

/// A YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub kind: NodeKind,
    /// Where the node starts in the source.
    pub span: Span,
}

/// The content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A plain (unquoted) scalar, resolved on use with the YAML 1.2 core schema.
    Plain(String),
    /// A quoted or block scalar, or one tagged `!!str`: always a string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order. Keys are scalars; duplicates were reported and dropped.
    Map(Vec<(Key, Node)>),
}

/// A mapping key: its text and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key's text.
    pub name: String,
    /// Where the key is.
    pub span: Span,
}

impl Node {
    /// The node's entries when it is a mapping.
    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The node's items when it is a list.
    pub fn as_list(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The node's items when it is a list; otherwise [`Node::wrong_shape`]'s diagnostic, for the
    /// caller to add a hint to and report. `expected` may say more than "a list", e.g. "a list of
    /// match expressions".
    pub fn expect_list(&self, name: &str, expected: &str) -> Result<&[Node], Diagnostic> {
        self.as_list()
            .ok_or_else(|| self.wrong_shape(name, expected))
    }

    /// "`name` must be `expected`, found …" at this node: the value under the key `name` has the
    /// wrong shape (a list, a mapping, a scalar).
    pub fn wrong_shape(&self, name: &str, expected: &str) -> Diagnostic {
        Diagnostic::new(
            Code::InvalidValue,
            self.span,
            format!("`{name}` must be {expected}, found {}", self.describe()),
        )
    }

    /// The node's text when it is a string scalar (plain scalars that resolve to strings too).
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            NodeKind::Plain(s) => match resolve_plain(s) {
                Resolved::Str(s) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    /// The value under `key` when the node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The node is null (an explicit `null`/`~` or an empty value).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Plain(s) if resolve_plain(s) == Resolved::Null)
    }

    /// A short description of the node's type for messages: "a string", "a mapping", …
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Str(_) => "a string",
            NodeKind::Plain(s) => match resolve_plain(s) {
                Resolved::Null => "null",
                Resolved::Bool(_) => "a boolean",
                Resolved::Int(_) => "an integer",
                Resolved::Float(_) => "a number",
                Resolved::Str(_) => "a string",
            },
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// Converts to JSON, resolving plain scalars; non-finite floats become null as JSON has none.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Plain(s) => match resolve_plain(s) {
                Resolved::Null => Value::Null,
                Resolved::Bool(b) => Value::Bool(b),
                Resolved::Int(i) => Value::from(i),
                Resolved::Float(f) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
                Resolved::Str(s) => Value::String(s.to_owned()),
            },
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}
