//! [`Event`]: the JSON tree of the ingest hot path, cheap to build and to read.
//!
//! `serde_json::Value` (with `preserve_order`) gives every object a hash table and every key and
//! string its own allocation; parsing into it dominates ingest. An [`Event`] borrows every string
//! the JSON text holds without escapes, and keeps an object as a list of fields scanned in order
//! (event objects are small, and rule lookups are case-insensitive scans anyway).
//!
//! The evaluator reads both through [`JsonNode`], [`normalize`](super::normalize::normalize)
//! writes to both, and [`Event::to_value`] turns a matched event into the `Value` that is stored,
//! with the same keys in the same order. [`parse`] agrees with `serde_json::from_str::<Value>` on
//! every text: the same errors, the same numbers, and a repeated key keeps its first position and
//! its last value, as `serde_json`'s map does.

mod read;

use super::eval::{JsonNode, JsonObject, View};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::fmt;

/// A JSON value borrowing its strings from the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` reads it.
    Number(Number),
    /// A string: borrowed unless it had escapes.
    String(Cow<'a, str>),
    /// A list.
    Array(Vec<Event<'a>>),
    /// An object: its fields in document order, each key once.
    Object(Vec<Field<'a>>),
}

/// An object's field: its key (borrowed unless it had escapes) and value.
pub type Field<'a> = (Cow<'a, str>, Event<'a>);

/// Parses one JSON document, borrowing from `text`.
pub fn parse(text: &str) -> Result<Event<'_>, serde_json::Error> {
    // The fast reader takes what events are made of; `serde_json` reads whatever it declines,
    // errors included.
    match read::read(text) {
        Some(event) => Ok(event),
        None => serde_json::from_str(text),
    }
}

/// Adds a field to the object whose fields start at `start`: a repeated key keeps its first
/// position and takes the last value, as `serde_json`'s map does. `seen` holds one bit per key
/// shape (length and last byte) so that the search for a repeat runs on almost no key.
#[inline(always)]
fn add_parsed_field<'a>(
    fields: &mut Vec<Field<'a>>,
    start: usize,
    seen: &mut u64,
    key: Cow<'a, str>,
    value: Event<'a>,
) {
    let last = key.as_bytes().last().copied().unwrap_or(0);
    let bit = 1 << ((key.len() * 31 + usize::from(last)) % 64);
    if *seen & bit != 0 {
        if let Some(field) = fields[start..].iter_mut().find(|(k, _)| *k == key) {
            field.1 = value;
            return;
        }
    }
    *seen |= bit;
    fields.push((key, value));
}

impl Event<'_> {
    /// The event as a `serde_json::Value`, keys in the same order.
    pub fn to_value(&self) -> Value {
        match self {
            Event::Null => Value::Null,
            Event::Bool(b) => Value::Bool(*b),
            Event::Number(n) => Value::Number(n.clone()),
            Event::String(s) => Value::String(s.clone().into_owned()),
            Event::Array(items) => Value::Array(items.iter().map(Event::to_value).collect()),
            Event::Object(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (key, value) in fields.iter() {
                    map.insert(key.clone().into_owned(), value.to_value());
                }
                Value::Object(map)
            }
        }
    }
}

impl<'a> JsonNode for Event<'a> {
    type Object = [Field<'a>];

    fn view(&self) -> View<'_, Self> {
        match self {
            Event::Null => View::Null,
            Event::Bool(b) => View::Bool(*b),
            Event::Number(n) => View::Number(n),
            Event::String(s) => View::String(s),
            Event::Array(items) => View::Array(items.as_slice()),
            Event::Object(fields) => View::Object(fields.as_slice()),
        }
    }

    fn to_value(&self) -> Value {
        Event::to_value(self)
    }
}

impl<'a> JsonObject for [Field<'a>] {
    type Node = Event<'a>;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &Event<'a>)> {
        self.iter().map(|(k, v)| (&**k, v))
    }

    fn get(&self, key: &str) -> Option<&Event<'a>> {
        self.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Reading through serde: what [`parse`] falls back on for a text the fast reader declines, with
/// the same values as `serde_json::Value`'s own visitor.
impl<'de> Deserialize<'de> for Event<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Event<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Event<'de>, E> {
        Ok(Event::Null)
    }

    fn visit_none<E>(self) -> Result<Event<'de>, E> {
        Ok(Event::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Event<'de>, D::Error> {
        Event::deserialize(deserializer)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Event<'de>, E> {
        Ok(Event::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Event<'de>, E> {
        Ok(Event::Number(i.into()))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Event<'de>, E> {
        Ok(Event::Number(u.into()))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Event<'de>, E> {
        // As `serde_json::Value` does: a float JSON cannot hold is null.
        Ok(Number::from_f64(f).map_or(Event::Null, Event::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Event<'de>, E> {
        Ok(Event::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Event<'de>, E> {
        Ok(Event::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Event<'de>, E> {
        Ok(Event::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Event<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Event::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event<'de>, A::Error> {
        let mut fields = Vec::new();
        let mut seen = 0;
        while let Some(Key(key)) = map.next_key()? {
            let value = map.next_value()?;
            add_parsed_field(&mut fields, 0, &mut seen, key, value);
        }
        Ok(Event::Object(fields))
    }
}

/// An object key, borrowed unless it had escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s)))
    }
}

#[cfg(test)]
mod tests;
