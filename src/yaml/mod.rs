//! YAML with exact positions, for every file a user writes (stories, integration templates,
//! rules).
//!
//! `saphyr-parser` events are built into a [`Node`] tree that keeps each node's line and column
//! ([`parse`]). Parsing is bounded: source size, nesting depth and the number of nodes after alias
//! expansion all have limits, so a hostile file ("billion laughs") is rejected in microseconds
//! rather than exhausting memory. Plain scalars keep their text and are resolved lazily with the
//! YAML 1.2 core schema ([`resolve_plain`]: `yes` is a string, `0o17` an integer), so a field that
//! wants a string gets exactly what was written.
//!
//! The parts: `parse` (events to a tree, tags, duplicate and merge keys), `limits` (what a
//! document may cost, aliases included), `scalar` (core-schema resolution), `node` (the tree and
//! what readers ask of it). [`de`] deserializes typed structs from a tree while collecting
//! diagnostics.

pub mod de;
mod limits;
mod node;
mod parse;
mod scalar;

pub use de::{from_node, Entries, Spanned};
pub use limits::{source_too_large, MAX_DEPTH, MAX_EXPANDED_BYTES, MAX_NODES, MAX_SOURCE_BYTES};
pub use node::{Key, Node, NodeKind};
pub use parse::parse;
pub use scalar::{resolve_plain, Resolved};

#[cfg(test)]
mod tests;
