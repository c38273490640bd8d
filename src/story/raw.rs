//! The outer shape of a story file, read before the per-kind options: the top-level keys and each
//! action's common keys. Options are read separately once the action's kind is known.

use crate::yaml::Spanned;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

/// The top-level keys of a story file.
#[derive(Debug, Deserialize)]
pub struct StoryHeader {
    /// Display name.
    pub name: Spanned<String>,
    /// What the story does.
    pub description: Option<String>,
    /// Credentials the story uses directly, with what each holds.
    pub credentials: Option<crate::yaml::Entries<String>>,
    /// Resources the story uses directly, with what each holds.
    pub resources: Option<crate::yaml::Entries<String>>,
    /// Reading missing event data fails the step instead of rendering empty.
    pub strict_data: Option<bool>,
    /// Read separately, action by action.
    #[allow(dead_code)]
    pub actions: IgnoredAny,
}

/// The keys every action has, whatever its kind.
#[derive(Debug, Deserialize)]
pub struct ActionHeader {
    /// A built-in kind.
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    /// An integration template, `vendor/name`.
    pub uses: Option<Spanned<String>>,
    /// Display name.
    pub name: Option<String>,
    /// What the action does.
    pub description: Option<String>,
    /// The actions it follows.
    pub from: Option<Links>,
    /// Read separately once the kind is known.
    #[allow(dead_code)]
    pub options: Option<IgnoredAny>,
    /// Read separately once the template is known.
    #[allow(dead_code)]
    pub with: Option<IgnoredAny>,
}

/// `from: a` or `from: [a, b.no_match]`.
#[derive(Debug, Default)]
pub struct Links(pub Vec<Spanned<String>>);

impl<'de> Deserialize<'de> for Links {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Look at the shape first; serde's untagged enums would lose positions.
        let value = Spanned::<LinkShape>::deserialize(deserializer)?;
        Ok(match value.value {
            LinkShape::One(s) => Links(vec![Spanned::new(s, value.span)]),
            LinkShape::Many(items) => Links(items),
        })
    }
}

enum LinkShape {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for LinkShape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;
        impl<'de> serde::de::Visitor<'de> for ShapeVisitor {
            type Value = LinkShape;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an action id or a list of action ids")
            }
            fn visit_str<E>(self, s: &str) -> Result<LinkShape, E> {
                Ok(LinkShape::One(s.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<LinkShape, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(LinkShape::Many(items))
            }
        }
        deserializer.deserialize_any(ShapeVisitor)
    }
}
