//! What the evaluator reads an event through: [`JsonNode`], a JSON value seen read-only, implemented
//! for `serde_json::Value` (rule tests, stored events) and for the borrowed
//! [`crate::detect::event::Event`] (the ingest hot path), so both run the same evaluator.

use serde_json::{Map, Number, Value};

/// One JSON value as the evaluator sees it.
pub enum View<'n, N: JsonNode> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(&'n Number),
    /// A string.
    String(&'n str),
    /// A list.
    Array(&'n [N]),
    /// An object.
    Object(&'n N::Object),
}

/// A JSON value the evaluator can read.
pub trait JsonNode: Sized {
    /// The type of its objects.
    type Object: JsonObject<Node = Self> + ?Sized;

    /// What the value is.
    fn view(&self) -> View<'_, Self>;

    /// The value as a `serde_json::Value` (for alert context and messages, never on the hot path).
    fn to_value(&self) -> Value;

    /// The string, when the value is one.
    fn as_str(&self) -> Option<&str> {
        match self.view() {
            View::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, when the value is a list.
    fn as_array(&self) -> Option<&[Self]> {
        match self.view() {
            View::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The object, when the value is one.
    fn as_object(&self) -> Option<&Self::Object> {
        match self.view() {
            View::Object(object) => Some(object),
            _ => None,
        }
    }
}

/// A JSON object the evaluator can read: keys are unique, in document order.
pub trait JsonObject {
    /// The type of its values.
    type Node: JsonNode<Object = Self>;

    /// How many keys it has.
    fn len(&self) -> usize;

    /// Whether it has no key.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its keys and values, in order.
    fn entries(&self) -> impl Iterator<Item = (&str, &Self::Node)>;

    /// The value under exactly `key`.
    fn get(&self, key: &str) -> Option<&Self::Node>;
}

impl JsonNode for Value {
    type Object = Map<String, Value>;

    fn view(&self) -> View<'_, Value> {
        match self {
            Value::Null => View::Null,
            Value::Bool(b) => View::Bool(*b),
            Value::Number(n) => View::Number(n),
            Value::String(s) => View::String(s),
            Value::Array(items) => View::Array(items),
            Value::Object(map) => View::Object(map),
        }
    }

    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl JsonObject for Map<String, Value> {
    type Node = Value;

    fn len(&self) -> usize {
        Map::len(self)
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.iter().map(|(k, v)| (k.as_str(), v))
    }

    fn get(&self, key: &str) -> Option<&Value> {
        Map::get(self, key)
    }
}
