//! The node deserializer: what serde asks for, answered from one [`Node`], with wrong types
//! explained in YAML's words and unknown keys collected instead of failing.

use super::access::{MapAccess, SeqAccess};
use super::error::{plain_expected, Error};
use super::spanned::{SpannedAccess, SPANNED};
use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::yaml::{resolve_plain, Key, Node, NodeKind, Resolved};
use serde::de::{self, IntoDeserializer, Visitor};
use std::cell::RefCell;

/// Where diagnostics that do not stop deserialization (unknown keys) are collected.
pub(super) type Sink<'a> = &'a RefCell<Vec<Diagnostic>>;

/// When a node is a struct's value under a key, what to say if serde ignores it.
#[derive(Clone, Copy)]
pub(super) struct UnknownKey<'a> {
    pub(super) key: &'a Key,
    pub(super) fields: &'static [&'static str],
}

/// Reads one node; `unknown` is set when the node is a struct's value under a key.
pub(super) struct NodeDeserializer<'a> {
    pub(super) node: &'a Node,
    pub(super) sink: Sink<'a>,
    pub(super) unknown: Option<UnknownKey<'a>>,
}

impl<'a> NodeDeserializer<'a> {
    /// Reads `node`, which is no struct's value: ignoring it reports nothing.
    pub(super) fn new(node: &'a Node, sink: Sink<'a>) -> Self {
        NodeDeserializer {
            node,
            sink,
            unknown: None,
        }
    }

    /// Reads `node`, an item or value inside this one.
    pub(super) fn child(&self, node: &'a Node) -> Self {
        NodeDeserializer::new(node, self.sink)
    }

    /// A mapping's entries for `visitor`; `fields` are a struct's, for unknown-key reports.
    fn visit_mapping<'de, V: Visitor<'de>>(
        self,
        visitor: V,
        fields: Option<&'static [&'static str]>,
    ) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Map(entries) => visitor
                .visit_map(MapAccess::new(entries, &self, fields))
                .map_err(|e: Error| e.at(self.node.span)),
            _ => Err(self.wrong_type(&visitor)),
        }
    }

    fn wrong_type(&self, expected: &dyn de::Expected) -> Error {
        let expected = plain_expected(&expected.to_string());
        let mut hint = None;
        if let NodeKind::Plain(text) = &self.node.kind {
            if matches!(
                text.as_str(),
                "yes" | "no" | "on" | "off" | "y" | "n" | "Yes" | "No"
            ) {
                hint = Some(format!(
                    "YAML 1.2 reads `{text}` as a string; write `true` or `false`"
                ));
            }
        }
        Error::new(
            Code::InvalidValue,
            format!("expected {expected}, found {}", self.node.describe()),
            hint,
        )
        .at(self.node.span)
    }
}

macro_rules! forward_integer {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match &self.node.kind {
                NodeKind::Plain(text) => match resolve_plain(text) {
                    Resolved::Int(i) => visitor.visit_i64(i).map_err(|e: Error| e.at(self.node.span)),
                    _ => Err(self.wrong_type(&visitor)),
                },
                _ => Err(self.wrong_type(&visitor)),
            }
        }
    )*};
}

impl<'de, 'a> de::Deserializer<'de> for NodeDeserializer<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let span = self.node.span;
        let result = match &self.node.kind {
            NodeKind::Str(s) => visitor.visit_str(s),
            NodeKind::Plain(text) => match resolve_plain(text) {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Int(i) => visitor.visit_i64(i),
                Resolved::Float(f) => visitor.visit_f64(f),
                Resolved::Str(s) => visitor.visit_str(s),
            },
            NodeKind::Seq(items) => visitor.visit_seq(SeqAccess::new(items, &self)),
            NodeKind::Map(entries) => visitor.visit_map(MapAccess::new(entries, &self, None)),
        };
        result.map_err(|e: Error| e.at(span))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Plain(text) => match resolve_plain(text) {
                Resolved::Bool(b) => visitor
                    .visit_bool(b)
                    .map_err(|e: Error| e.at(self.node.span)),
                _ => Err(self.wrong_type(&visitor)),
            },
            _ => Err(self.wrong_type(&visitor)),
        }
    }

    forward_integer!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let span = self.node.span;
        match &self.node.kind {
            NodeKind::Plain(text) => match resolve_plain(text) {
                Resolved::Int(i) => visitor.visit_i64(i).map_err(|e: Error| e.at(span)),
                Resolved::Float(f) => visitor.visit_f64(f).map_err(|e: Error| e.at(span)),
                _ => Err(self.wrong_type(&visitor)),
            },
            _ => Err(self.wrong_type(&visitor)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let span = self.node.span;
        match &self.node.kind {
            NodeKind::Str(s) => visitor.visit_str(s).map_err(|e: Error| e.at(span)),
            // A plain `123` or `true` where a string is wanted is taken as written.
            NodeKind::Plain(text) if resolve_plain(text) != Resolved::Null => {
                visitor.visit_str(text).map_err(|e: Error| e.at(span))
            }
            _ => Err(self.wrong_type(&visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        Err(self.wrong_type(&visitor))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        Err(self.wrong_type(&visitor))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let span = self.node.span;
        if self.node.is_null() {
            visitor.visit_none().map_err(|e: Error| e.at(span))
        } else {
            visitor.visit_some(self).map_err(|e: Error| e.at(span))
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            visitor.visit_unit()
        } else {
            Err(self.wrong_type(&visitor))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let span = self.node.span;
        visitor
            .visit_newtype_struct(self)
            .map_err(|e: Error| e.at(span))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Seq(items) => visitor
                .visit_seq(SeqAccess::new(items, &self))
                .map_err(|e: Error| e.at(self.node.span)),
            _ => Err(self.wrong_type(&visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.visit_mapping(visitor, None)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == SPANNED {
            return visitor.visit_map(SpannedAccess::new(self.node, self.sink));
        }
        self.visit_mapping(visitor, Some(fields))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Str(s) | NodeKind::Plain(s) => visitor
                .visit_enum(s.as_str().into_deserializer())
                .map_err(|e: Error| e.at(self.node.span)),
            _ => Err(self.wrong_type(&visitor)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // A declared field read as `IgnoredAny` is skipped on purpose, not unknown.
        let unknown = self
            .unknown
            .filter(|u| !u.fields.contains(&u.key.name.as_str()));
        if let Some(UnknownKey { key, fields }) = unknown {
            let hint = did_you_mean(&key.name, fields.iter().copied()).unwrap_or_else(|| {
                if fields.is_empty() {
                    "this mapping takes no keys".to_owned()
                } else {
                    format!("expected one of: {}", fields.join(", "))
                }
            });
            self.sink.borrow_mut().push(
                Diagnostic::new(
                    Code::UnknownKey,
                    key.span,
                    format!("unknown key `{}`", key.name),
                )
                .with_hint(hint),
            );
        }
        visitor.visit_unit()
    }
}
