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

use super::{resolve_plain, Key, Node, NodeKind, Resolved};
use crate::diagnostic::{did_you_mean, Code, Diagnostic, Span};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use std::cell::RefCell;
use std::fmt;

/// Deserializes `T` from `node`. Diagnostics (including every unknown key) are appended to
/// `diagnostics`; `None` means `T` could not be built, and a diagnostic says why.
pub fn from_node<T: DeserializeOwned>(node: &Node, diagnostics: &mut Vec<Diagnostic>) -> Option<T> {
    let sink = RefCell::new(Vec::new());
    let result = T::deserialize(NodeDeserializer {
        node,
        sink: &sink,
        unknown: None,
    });
    diagnostics.extend(sink.into_inner());
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            diagnostics.push(error.into_diagnostic(node.span));
            None
        }
    }
}

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

const SPANNED: &str = "$warden::Spanned";
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

/// A mapping kept in source order with each key's position: headers, inputs, query parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Entries<V>(pub Vec<(Spanned<String>, V)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<V> Entries<V> {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k.value == key).map(|(_, v)| v)
    }

    /// The entries in source order.
    pub fn iter(&self) -> std::slice::Iter<'_, (Spanned<String>, V)> {
        self.0.iter()
    }

    /// The keys in source order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + Clone {
        self.0.iter().map(|(k, _)| k.value.as_str())
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, V: de::Deserialize<'de>> de::Deserialize<'de> for Entries<V> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: de::Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Entries<V>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

impl<V: schemars::JsonSchema> schemars::JsonSchema for Entries<V> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "additionalProperties": generator.subschema_for::<V>(),
        })
    }
}

/// Builds a deserialization error with its own code and hint, for types whose mistakes deserve a
/// specific code (a duration, a regex). Only [`from_node`] understands the encoding.
pub fn coded<E: de::Error>(code: Code, message: impl fmt::Display, hint: impl fmt::Display) -> E {
    E::custom(format_args!(
        "\u{1}{}\u{1}{message}\u{1}{hint}",
        code.as_str()
    ))
}

/// The deserialization error: a diagnostic still looking for its position.
#[derive(Debug)]
pub struct Error {
    code: Code,
    message: String,
    hint: Option<String>,
    span: Option<Span>,
}

impl Error {
    fn new(code: Code, message: String, hint: Option<String>) -> Self {
        Error {
            code,
            message,
            hint,
            span: None,
        }
    }

    /// The innermost node that sees an error first claims it.
    fn at(mut self, span: Span) -> Self {
        self.span.get_or_insert(span);
        self
    }

    fn into_diagnostic(self, fallback: Span) -> Diagnostic {
        Diagnostic::new(self.code, self.span.unwrap_or(fallback), self.message)
            .with_hint_opt(self.hint)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        let text = msg.to_string();
        if let Some(rest) = text.strip_prefix('\u{1}') {
            let mut parts = rest.splitn(3, '\u{1}');
            let code = parts.next().unwrap_or_default();
            let message = parts.next().unwrap_or_default().to_owned();
            let hint = parts.next().filter(|h| !h.is_empty()).map(str::to_owned);
            if let Some(code) = Code::ALL.iter().find(|c| c.as_str() == code) {
                return Error::new(*code, message, hint);
            }
        }
        Error::new(Code::InvalidValue, text, None)
    }

    fn invalid_type(unexpected: de::Unexpected, expected: &dyn de::Expected) -> Self {
        Error::new(
            Code::InvalidValue,
            format!(
                "expected {expected}, found {}",
                describe_unexpected(&unexpected)
            ),
            None,
        )
    }

    fn invalid_value(unexpected: de::Unexpected, expected: &dyn de::Expected) -> Self {
        Error::new(
            Code::InvalidValue,
            format!(
                "invalid value {}, expected {expected}",
                describe_unexpected(&unexpected)
            ),
            None,
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let hint = did_you_mean(variant, expected.iter().copied())
            .unwrap_or_else(|| format!("expected one of: {}", expected.join(", ")));
        Error::new(
            Code::InvalidValue,
            format!("unknown value `{variant}`"),
            Some(hint),
        )
    }

    fn missing_field(field: &'static str) -> Self {
        Error::new(
            Code::MissingKey,
            format!("missing required key `{field}`"),
            Some(format!("add `{field}:`")),
        )
    }
}

/// Serde names primitive types the Rust way (`u32`, `f64`); users read YAML.
fn plain_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => "a boolean (true or false)".to_owned(),
        other => other.to_owned(),
    }
}

fn describe_unexpected(unexpected: &de::Unexpected) -> String {
    match unexpected {
        de::Unexpected::Str(s) => format!("the string \"{s}\""),
        de::Unexpected::Map => "a mapping".to_owned(),
        de::Unexpected::Seq => "a list".to_owned(),
        de::Unexpected::Unit => "null".to_owned(),
        other => other.to_string(),
    }
}

type Sink<'a> = &'a RefCell<Vec<Diagnostic>>;

/// When a node is a struct's value under a key, what to say if serde ignores it.
#[derive(Clone, Copy)]
struct UnknownKey<'a> {
    key: &'a Key,
    fields: &'static [&'static str],
}

struct NodeDeserializer<'a> {
    node: &'a Node,
    sink: Sink<'a>,
    unknown: Option<UnknownKey<'a>>,
}

impl<'a> NodeDeserializer<'a> {
    fn child(&self, node: &'a Node) -> Self {
        NodeDeserializer {
            node,
            sink: self.sink,
            unknown: None,
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
            NodeKind::Seq(items) => visitor.visit_seq(SeqAccess {
                items: items.iter(),
                parent: &self,
            }),
            NodeKind::Map(entries) => visitor.visit_map(MapAccess {
                entries: entries.iter(),
                value: None,
                parent: &self,
                fields: None,
            }),
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
                .visit_seq(SeqAccess {
                    items: items.iter(),
                    parent: &self,
                })
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
        match &self.node.kind {
            NodeKind::Map(entries) => visitor
                .visit_map(MapAccess {
                    entries: entries.iter(),
                    value: None,
                    parent: &self,
                    fields: None,
                })
                .map_err(|e: Error| e.at(self.node.span)),
            _ => Err(self.wrong_type(&visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == SPANNED {
            return visitor.visit_map(SpannedAccess {
                node: self.node,
                sink: self.sink,
                step: 0,
            });
        }
        match &self.node.kind {
            NodeKind::Map(entries) => visitor
                .visit_map(MapAccess {
                    entries: entries.iter(),
                    value: None,
                    parent: &self,
                    fields: Some(fields),
                })
                .map_err(|e: Error| e.at(self.node.span)),
            _ => Err(self.wrong_type(&visitor)),
        }
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

struct SeqAccess<'a, 'p> {
    items: std::slice::Iter<'a, Node>,
    parent: &'p NodeDeserializer<'a>,
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

struct MapAccess<'a, 'p> {
    entries: std::slice::Iter<'a, (Key, Node)>,
    value: Option<&'a (Key, Node)>,
    parent: &'p NodeDeserializer<'a>,
    /// The struct's field names when deserializing a struct, for unknown-key reports.
    fields: Option<&'static [&'static str]>,
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
            return visitor.visit_map(SpannedAccess {
                node: &node,
                sink: self.sink,
                step: 0,
            });
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

/// Feeds a `Spanned<T>` visitor its line, its column, then the value itself.
struct SpannedAccess<'a> {
    node: &'a Node,
    sink: Sink<'a>,
    step: usize,
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
            _ => seed.deserialize(NodeDeserializer {
                node: self.node,
                sink: self.sink,
                unknown: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Options {
        url: Spanned<String>,
        #[serde(default)]
        retries: u32,
        method: Option<Method>,
        enabled: Option<bool>,
        tags: Option<Vec<String>>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "UPPERCASE")]
    enum Method {
        Get,
        Post,
    }

    fn read<T: DeserializeOwned>(source: &str) -> (Option<T>, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let node = parse(source, &mut diagnostics).unwrap();
        let value = from_node(&node, &mut diagnostics);
        (value, diagnostics)
    }

    #[test]
    fn spanned_values_carry_their_position() {
        let (options, diagnostics) = read::<Options>("retries: 2\nurl: https://x\n");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let options = options.unwrap();
        assert_eq!(options.url.value, "https://x");
        assert_eq!(options.url.span, Span::new(2, 6));
        assert_eq!(options.retries, 2);
    }

    #[test]
    fn every_unknown_key_is_reported_and_the_struct_still_builds() {
        let (options, diagnostics) = read::<Options>("url: x\nmethd: GET\nretires: 3\nbanana: 1\n");
        assert!(options.is_some());
        let messages: Vec<_> = diagnostics
            .iter()
            .map(|d| (d.code, d.span.line, d.hint.clone().unwrap()))
            .collect();
        assert_eq!(
            messages,
            vec![
                (Code::UnknownKey, 2, "did you mean `method`?".to_owned()),
                (Code::UnknownKey, 3, "did you mean `retries`?".to_owned()),
                (
                    Code::UnknownKey,
                    4,
                    "expected one of: url, retries, method, enabled, tags".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn wrong_types_point_at_the_value() {
        let (options, diagnostics) = read::<Options>("url: x\nretries: many\n");
        assert!(options.is_none());
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, Code::InvalidValue);
        assert_eq!(diagnostics[0].span, Span::new(2, 10));
        assert!(
            diagnostics[0].message.contains("found a string"),
            "{}",
            diagnostics[0].message
        );
    }

    #[test]
    fn yaml_1_1_booleans_get_a_hint() {
        let (_, diagnostics) = read::<Options>("url: x\nenabled: yes\n");
        assert_eq!(diagnostics[0].code, Code::InvalidValue);
        assert!(diagnostics[0].hint.as_deref().unwrap().contains("YAML 1.2"));
    }

    #[test]
    fn missing_keys_are_reported() {
        let (_, diagnostics) = read::<Options>("retries: 1\n");
        assert_eq!(diagnostics[0].code, Code::MissingKey);
        assert_eq!(diagnostics[0].message, "missing required key `url`");
    }

    #[test]
    fn unknown_enum_values_suggest_the_closest() {
        let (_, diagnostics) = read::<Options>("url: x\nmethod: GTE\n");
        assert_eq!(diagnostics[0].code, Code::InvalidValue);
        assert_eq!(diagnostics[0].span, Span::new(2, 9));
        assert_eq!(diagnostics[0].hint.as_deref(), Some("did you mean `GET`?"));
    }

    #[test]
    fn plain_scalars_read_as_strings_keep_their_text() {
        let (tags, _) = read::<Vec<String>>("[1.10, 0x1F, true]");
        assert_eq!(tags.unwrap(), vec!["1.10", "0x1F", "true"]);
    }

    #[test]
    fn coded_errors_keep_their_code_and_hint() {
        struct Odd;
        impl<'de> Deserialize<'de> for Odd {
            fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let _ = String::deserialize(d)?;
                Err(coded(Code::BadDuration, "bad duration `x`", "write 5m"))
            }
        }
        let (_, diagnostics) = read::<Vec<Odd>>("- a\n- b\n");
        assert_eq!(diagnostics[0].code, Code::BadDuration);
        assert_eq!(diagnostics[0].message, "bad duration `x`");
        assert_eq!(diagnostics[0].hint.as_deref(), Some("write 5m"));
        assert_eq!(diagnostics[0].span, Span::new(1, 3));
    }

    #[test]
    fn spanned_map_keys_carry_the_key_position() {
        #[derive(Deserialize)]
        struct Wrapper {
            inputs: Entries<String>,
        }
        let (wrapper, diagnostics) = read::<Wrapper>("inputs:\n  ip: 1.2.3.4\n  host: h\n");
        assert!(diagnostics.is_empty());
        let keys: Vec<_> = wrapper
            .unwrap()
            .inputs
            .0
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys[0].value, "ip");
        assert_eq!(keys[0].span, Span::new(2, 3));
        assert_eq!(keys[1].span, Span::new(3, 3));
    }
}
