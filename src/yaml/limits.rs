//! What one document may cost. Aliases are charged for everything they repeat (nodes, text and
//! nesting), so "billion laughs" stops while counting rather than allocating.

use super::node::{Node, NodeKind};
use crate::diagnostic::{Code, Diagnostic, Span};

/// A step of building: a diagnostic that ends the document, boxed to keep results small.
pub(super) type Built<T> = Result<T, Box<Diagnostic>>;

/// The largest source accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 4 * 1024 * 1024;
/// The deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 64;
/// The most nodes a document may have once aliases are expanded.
pub const MAX_NODES: usize = 250_000;
/// The most scalar bytes a document may hold once aliases are expanded.
pub const MAX_EXPANDED_BYTES: usize = 16 * 1024 * 1024;

/// Refuses a source over [`MAX_SOURCE_BYTES`] before any parsing.
pub(super) fn check_source(source: &str) -> Result<(), Diagnostic> {
    if source.len() <= MAX_SOURCE_BYTES {
        return Ok(());
    }
    Err(source_too_large(source.len() as u64))
}

/// The diagnostic of a source of `len` bytes, over [`MAX_SOURCE_BYTES`].
pub fn source_too_large(len: u64) -> Diagnostic {
    Diagnostic::new(
        Code::YamlLimit,
        Span::new(1, 1),
        format!("file is {len} bytes, more than the {MAX_SOURCE_BYTES}-byte limit"),
    )
    .with_hint("split the file; a story this large is hard to review anyway")
}

/// Refuses a node nested deeper than [`MAX_DEPTH`].
pub(super) fn check_depth(depth: usize, span: Span) -> Built<()> {
    if depth <= MAX_DEPTH {
        return Ok(());
    }
    Err(Box::new(
        Diagnostic::new(
            Code::YamlLimit,
            span,
            format!("nesting deeper than {MAX_DEPTH} levels"),
        )
        .with_hint("flatten the structure"),
    ))
}

/// Nodes and scalar bytes built so far, aliases expanded.
#[derive(Default)]
pub(super) struct Budget {
    nodes: usize,
    bytes: usize,
}

impl Budget {
    /// Charges `nodes` nodes and `bytes` bytes of text built at `span`.
    pub(super) fn count(&mut self, nodes: usize, bytes: usize, span: Span) -> Built<()> {
        self.nodes += nodes;
        self.bytes += bytes;
        if self.nodes > MAX_NODES {
            return Err(limit_error(
                span,
                format!("document expands to more than {MAX_NODES} nodes"),
            ));
        }
        if self.bytes > MAX_EXPANDED_BYTES {
            return Err(limit_error(
                span,
                format!("document expands to more than {MAX_EXPANDED_BYTES} bytes of text"),
            ));
        }
        Ok(())
    }

    /// Charges an alias at `depth` for the anchored node it repeats.
    pub(super) fn repeat(&mut self, anchored: &Anchored, depth: usize, span: Span) -> Built<()> {
        if depth + anchored.height > MAX_DEPTH {
            return Err(limit_error(
                span,
                format!("nesting deeper than {MAX_DEPTH} levels through an alias"),
            ));
        }
        self.count(anchored.nodes, anchored.bytes, span)
    }
}

/// An anchored node and what an alias to it adds: nodes, scalar bytes and nesting depth.
pub(super) struct Anchored {
    pub(super) node: Node,
    nodes: usize,
    bytes: usize,
    height: usize,
}

impl Anchored {
    /// Measures `node` once, when its anchor is defined.
    pub(super) fn new(node: Node) -> Anchored {
        let (nodes, bytes, height) = measure(&node);
        Anchored {
            node,
            nodes,
            bytes,
            height,
        }
    }
}

/// Nodes, scalar bytes and nesting height of the subtree.
fn measure(node: &Node) -> (usize, usize, usize) {
    match &node.kind {
        NodeKind::Plain(s) | NodeKind::Str(s) => (1, s.len(), 0),
        NodeKind::Seq(items) => items.iter().map(measure).fold((1, 0, 0), |acc, m| {
            (acc.0 + m.0, acc.1 + m.1, acc.2.max(m.2 + 1))
        }),
        NodeKind::Map(entries) => {
            entries
                .iter()
                .map(|(k, v)| (k, measure(v)))
                .fold((1, 0, 0), |acc, (k, m)| {
                    (
                        acc.0 + m.0 + 1,
                        acc.1 + m.1 + k.name.len(),
                        acc.2.max(m.2 + 1),
                    )
                })
        }
    }
}

fn limit_error(span: Span, message: String) -> Box<Diagnostic> {
    Box::new(Diagnostic::new(Code::YamlLimit, span, message).with_hint(
        "aliases (`*name`) that repeat large anchors multiply the document; repeat less",
    ))
}
