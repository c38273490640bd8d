//! A serde `Deserializer` over a [`Node`] tree that collects diagnostics instead of stopping.
//!
//! Two things set it apart from a plain YAML deserializer:
//! - **Unknown keys are collected, not fatal.** Story structs do not use
//!   `deny_unknown_fields`; serde then asks for an unknown key's value with
//!   `deserialize_ignored_any`, and at that point this deserializer knows the key, its position
//!   and the struct's field list, so it records "unknown key, did you mean …" and carries on.
//!   Every unknown key in a file is reported in one pass.
//! - **Positions survive.** [`Spanned<T>`] asks for a magic struct name; this deserializer answers
//!   with the node's line and column. Other errors (a wrong type, a missing key) are tagged with the
//!   position of the innermost node that raised them.
//!
//! A type can report its own coded error (a bad duration is `W040`, not a generic `W005`)
//! through [`coded`].
//!
//! The parts: `deserializer` (a node's value for what serde asks, wrong types, unknown keys),
//! `access` (lists, mappings and keys handed to serde's visitors), `error` ([`Error`] and
//! [`coded`]), `spanned` ([`Spanned`]) and `entries` ([`Entries`]).

mod access;
mod deserializer;
mod entries;
mod error;
mod spanned;

pub use entries::Entries;
pub use error::{coded, Error};
pub use spanned::Spanned;

use super::Node;
use crate::diagnostic::Diagnostic;
use deserializer::NodeDeserializer;
use serde::de::DeserializeOwned;
use std::cell::RefCell;

/// Deserializes `T` from `node`. Diagnostics (including every unknown key) are appended to
/// `diagnostics`; `None` means `T` could not be built, and a diagnostic says why.
pub fn from_node<T: DeserializeOwned>(node: &Node, diagnostics: &mut Vec<Diagnostic>) -> Option<T> {
    let sink = RefCell::new(Vec::new());
    let result = T::deserialize(NodeDeserializer::new(node, &sink));
    diagnostics.extend(sink.into_inner());
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            diagnostics.push(error.into_diagnostic(node.span));
            None
        }
    }
}

#[cfg(test)]
mod tests;
