//! [`Spanned<T>`]: a value and where it was read. It asks for a magic struct; the node
//! deserializer answers with the line, the column, then the value.

use super::deserializer::{NodeDeserializer, Sink};
use super::error::Error;
use crate::diagnostic::Span;
use crate::yaml::Node;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use std::fmt;

/// A value together with the position it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where the value starts in its file.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Pairs a value with a position.
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// The struct name by which the deserializer recognises a `Spanned<T>`.
pub(super) const SPANNED: &str = "$warden::Spanned";
const SPANNED_FIELDS: &[&str] = &["$line", "$column", "$value"];

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for Spanned<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpannedVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: de::Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value with a position")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
                let line: Option<(String, u32)> = map.next_entry()?;
                let column: Option<(String, u32)> = map.next_entry()?;
                let value: Option<(String, T)> = map.next_entry()?;
                match (line, column, value) {
                    (Some((_, line)), Some((_, column)), Some((_, value))) => {
                        Ok(Spanned::new(value, Span::new(line, column)))
                    }
                    _ => Err(de::Error::custom(
                        "positions are only known when reading YAML",
                    )),
                }
            }
        }
        deserializer.deserialize_struct(
            SPANNED,
            SPANNED_FIELDS,
            SpannedVisitor(std::marker::PhantomData),
        )
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// Feeds a `Spanned<T>` visitor its line, its column, then the value itself.
pub(super) struct SpannedAccess<'a> {
    node: &'a Node,
    sink: Sink<'a>,
    step: usize,
}

impl<'a> SpannedAccess<'a> {
    /// Answers a `Spanned<T>` read from `node`.
    pub(super) fn new(node: &'a Node, sink: Sink<'a>) -> Self {
        SpannedAccess {
            node,
            sink,
            step: 0,
        }
    }
}

impl<'de> de::MapAccess<'de> for SpannedAccess<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match SPANNED_FIELDS.get(self.step) {
            Some(field) => seed.deserialize((*field).into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let step = self.step;
        self.step += 1;
        match step {
            0 => seed.deserialize(self.node.span.line.into_deserializer()),
            1 => seed.deserialize(self.node.span.column.into_deserializer()),
            _ => seed.deserialize(NodeDeserializer::new(self.node, self.sink)),
        }
    }
}
