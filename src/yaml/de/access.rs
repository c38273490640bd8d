//! What serde's visitors walk: a list's items, a mapping's entries, and a mapping key (which
//! can be read as a `Spanned<String>` with the key's own position).

use super::deserializer::{NodeDeserializer, Sink, UnknownKey};
use super::error::Error;
use super::spanned::{SpannedAccess, SPANNED};
use crate::yaml::{Key, Node, NodeKind};
use serde::de::{self, DeserializeSeed, Visitor};

/// A list's items, each read as a child of `parent`.
pub(super) struct SeqAccess<'a, 'p> {
    items: std::slice::Iter<'a, Node>,
    parent: &'p NodeDeserializer<'a>,
}

impl<'a, 'p> SeqAccess<'a, 'p> {
    pub(super) fn new(items: &'a [Node], parent: &'p NodeDeserializer<'a>) -> Self {
        SeqAccess {
            items: items.iter(),
            parent,
        }
    }
}

impl<'de, 'a> de::SeqAccess<'de> for SeqAccess<'a, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(node) => seed
                .deserialize(self.parent.child(node))
                .map(Some)
                .map_err(|e: Error| e.at(node.span)),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// A mapping's entries; `value` is the entry whose key serde has just read.
pub(super) struct MapAccess<'a, 'p> {
    entries: std::slice::Iter<'a, (Key, Node)>,
    value: Option<&'a (Key, Node)>,
    parent: &'p NodeDeserializer<'a>,
    /// The struct's field names when deserializing a struct, for unknown-key reports.
    fields: Option<&'static [&'static str]>,
}

impl<'a, 'p> MapAccess<'a, 'p> {
    pub(super) fn new(
        entries: &'a [(Key, Node)],
        parent: &'p NodeDeserializer<'a>,
        fields: Option<&'static [&'static str]>,
    ) -> Self {
        MapAccess {
            entries: entries.iter(),
            value: None,
            parent,
            fields,
        }
    }
}

impl<'de, 'a> de::MapAccess<'de> for MapAccess<'a, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some(entry) => {
                self.value = Some(entry);
                seed.deserialize(KeyDeserializer {
                    key: &entry.0,
                    sink: self.parent.sink,
                })
                .map(Some)
                .map_err(|e: Error| e.at(entry.0.span))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let entry = self
            .value
            .take()
            .expect("serde asks for a value after its key");
        seed.deserialize(NodeDeserializer {
            node: &entry.1,
            sink: self.parent.sink,
            unknown: self.fields.map(|fields| UnknownKey {
                key: &entry.0,
                fields,
            }),
        })
        .map_err(|e: Error| e.at(entry.1.span))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// A mapping key; `Spanned<String>` keys get the key's own position.
struct KeyDeserializer<'a> {
    key: &'a Key,
    sink: Sink<'a>,
}

impl<'de> de::Deserializer<'de> for KeyDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(&self.key.name)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == SPANNED {
            let node = Node {
                kind: NodeKind::Str(self.key.name.clone()),
                span: self.key.span,
            };
            return visitor.visit_map(SpannedAccess::new(&node, self.sink));
        }
        let _ = fields;
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}
