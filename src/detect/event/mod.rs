//! [`Event`]: the JSON tree of the ingest hot path, cheap to build, to read and to drop.
//!
//! `serde_json::Value` (with `preserve_order`) gives every object a hash table and every key and
//! string its own allocation; parsing into it dominates ingest. An [`Event`] borrows every string
//! the JSON text holds without escapes, and keeps an object as a slice of fields scanned in order
//! (event objects are small, and rule lookups are case-insensitive scans anyway). Its lists,
//! objects, numbers and unescaped strings live in the arena of the [`Parser`] that read it: one
//! block reused from event to event, so parsing allocates nothing in the steady state and an
//! event is dropped by resetting the arena (an [`Event`] is `Copy`: it owns nothing).
//!
//! The evaluator reads both trees through [`JsonNode`],
//! [`normalize`](super::normalize::normalize) writes to both (to an [`Event`] through its
//! [`Doc`]), and [`Event::to_value`] turns a matched event into the `Value` that is stored, with
//! the same keys in the same order. [`Parser::parse`] agrees with `serde_json::from_str::<Value>`
//! on every text: the same errors, the same numbers, and a repeated key keeps its first position
//! and its last value, as `serde_json`'s map does.

mod read;

use super::eval::{JsonNode, JsonObject, View};
use bumpalo::Bump;
use serde_json::{Map, Number, Value};

/// A JSON value borrowing its strings from the text it was parsed from, and everything else from
/// its parser's arena.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` reads it.
    Number(&'a Number),
    /// A string: borrowed from the text unless it had escapes.
    String(&'a str),
    /// A list.
    Array(&'a [Event<'a>]),
    /// An object: its fields in document order, each key once.
    Object(&'a [Field<'a>]),
}

/// An object's field: its key and value.
pub type Field<'a> = (&'a str, Event<'a>);

/// Reads JSON texts into [`Doc`]s, reusing one arena: keep one per batch (or thread) of events.
#[derive(Default)]
pub struct Parser {
    arena: Bump,
    /// The reader's stacks, kept empty between texts so that their allocations are reused.
    stacks: read::Stacks,
}

impl Parser {
    /// A parser with an empty arena (it grows to the size of the largest event and stays there).
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Parses one JSON document, borrowing from `text` and from this parser's arena, which the
    /// previous document (now out of reach) gave up.
    pub fn parse<'p>(&'p mut self, text: &'p str) -> Result<Doc<'p>, serde_json::Error> {
        self.arena.reset();
        let arena = &self.arena;
        // The fast reader takes exactly the texts `serde_json` takes; for the rest, `serde_json`
        // gives its own error.
        let root = match read::read(text, arena, &mut self.stacks) {
            Some(root) => root,
            None => from_value(&serde_json::from_str(text)?, arena),
        };
        Ok(Doc { root, arena })
    }
}

/// A parsed event: its tree, and the arena [`normalize`](super::normalize::normalize) adds to.
#[derive(Debug, Clone, Copy)]
pub struct Doc<'a> {
    root: Event<'a>,
    arena: &'a Bump,
}

impl<'a> Doc<'a> {
    /// The event.
    pub fn root(&self) -> &Event<'a> {
        &self.root
    }

    /// The event as a `serde_json::Value`, keys in the same order.
    pub fn to_value(&self) -> Value {
        self.root.to_value()
    }

    pub(crate) fn arena(&self) -> &'a Bump {
        self.arena
    }

    pub(crate) fn set_root(&mut self, root: Event<'a>) {
        self.root = root;
    }
}

/// `value` copied into `arena`: for a text only `serde_json` reads, should there be one.
fn from_value<'a>(value: &Value, arena: &'a Bump) -> Event<'a> {
    match value {
        Value::Null => Event::Null,
        Value::Bool(b) => Event::Bool(*b),
        Value::Number(n) => Event::Number(arena.alloc(n.clone())),
        Value::String(s) => Event::String(arena.alloc_str(s)),
        Value::Array(items) => Event::Array(
            arena.alloc_slice_fill_iter(items.iter().map(|item| from_value(item, arena))),
        ),
        Value::Object(map) => Event::Object(
            arena.alloc_slice_fill_iter(
                map.iter()
                    .map(|(k, v)| (&*arena.alloc_str(k), from_value(v, arena))),
            ),
        ),
    }
}

impl Event<'_> {
    /// The event as a `serde_json::Value`, keys in the same order.
    pub fn to_value(&self) -> Value {
        match *self {
            Event::Null => Value::Null,
            Event::Bool(b) => Value::Bool(b),
            Event::Number(n) => Value::Number(n.clone()),
            Event::String(s) => Value::String(s.to_owned()),
            Event::Array(items) => Value::Array(items.iter().map(Event::to_value).collect()),
            Event::Object(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (key, value) in fields {
                    map.insert((*key).to_owned(), value.to_value());
                }
                Value::Object(map)
            }
        }
    }
}

impl<'a> JsonNode for Event<'a> {
    type Object = [Field<'a>];

    fn view(&self) -> View<'_, Self> {
        match *self {
            Event::Null => View::Null,
            Event::Bool(b) => View::Bool(b),
            Event::Number(n) => View::Number(n),
            Event::String(s) => View::String(s),
            Event::Array(items) => View::Array(items),
            Event::Object(fields) => View::Object(fields),
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
        self.iter().map(|(k, v)| (*k, v))
    }

    fn get(&self, key: &str) -> Option<&Event<'a>> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests;
