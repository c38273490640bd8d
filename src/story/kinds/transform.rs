//! `transform`: Tines' Event Transform modes. `options.mode` picks one; each mode has its own
//! options.

use crate::story::value::{Duration, Dynamic, Pattern, Template};
use crate::yaml::Spanned;
use schemars::JsonSchema;
use serde::Deserialize;

/// The transform modes, by their `mode:` name.
pub const MODES: &[&str] = &[
    "message",
    "extract",
    "explode",
    "implode",
    "deduplicate",
    "delay",
    "throttle",
];

/// Options of a `transform` action, one variant per mode.
#[derive(Debug, Clone, PartialEq)]
pub enum TransformOptions {
    /// `mode: message`.
    Message(MessageOptions),
    /// `mode: extract`.
    Extract(ExtractOptions),
    /// `mode: explode`.
    Explode(ExplodeOptions),
    /// `mode: implode`.
    Implode(ImplodeOptions),
    /// `mode: deduplicate`.
    Deduplicate(DeduplicateOptions),
    /// `mode: delay`.
    Delay(DelayOptions),
    /// `mode: throttle`.
    Throttle(ThrottleOptions),
}

/// Builds a new event from a payload template. Always one event (a list when looping).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct MessageOptions {
    /// The event to emit; every string inside is a template.
    pub payload: Dynamic,
    /// A template giving a list or mapping; the payload is rendered once per element, with
    /// `item.value`, `item.index` and `item.key` in scope (Tines' `LOOP`). At most 20,000
    /// elements.
    #[serde(rename = "loop")]
    pub loop_over: Option<Template>,
}

/// Collects regex matches from text into lists.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct ExtractOptions {
    /// What to extract.
    pub matchers: Spanned<Vec<Matcher>>,
    /// Emit an event (with empty lists) even when nothing matches. Default false: no event.
    #[serde(default)]
    pub emit_no_match: bool,
}

/// One extraction.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Matcher {
    /// A template giving the text to search.
    pub path: Template,
    /// The regular expression; every match (or its first capture group) is collected.
    pub regex: Pattern,
    /// The key the list of matches is emitted under.
    pub to: Spanned<String>,
}

/// Emits one event per element of a list.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct ExplodeOptions {
    /// A template giving the list. Anything else emits nothing.
    pub path: Template,
    /// The key each element is emitted under, beside `index`, `size` and `guid`.
    pub to: Spanned<String>,
    /// The most elements exploded. Default 500, at most 20,000.
    pub limit: Option<Spanned<u32>>,
}

/// Gathers exploded events back into one list.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct ImplodeOptions {
    /// A template giving the item to collect from each event.
    pub item_path: Template,
    /// A template giving the explode's `guid`, which groups the items.
    pub guid_path: Template,
    /// A template giving the explode's `size`: the list is emitted when that many arrive.
    pub size_path: Template,
    /// Emit what has arrived after this long even if items are missing. Default `1h`.
    pub timeout: Option<Duration>,
}

/// Drops events already seen.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct DeduplicateOptions {
    /// A template giving the value that identifies a duplicate.
    pub path: Template,
    /// Compare with this many past events (at most 1,000). Give this or `period`.
    pub lookback: Option<Spanned<u32>>,
    /// Compare with events of this recent period. Give this or `lookback`.
    pub period: Option<Duration>,
}

/// Holds each event for a while.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct DelayOptions {
    /// How long to hold each event. Give this or `until`.
    pub duration: Option<Duration>,
    /// A template giving the time to release the event (RFC 3339 or unix seconds). Give this or
    /// `duration`.
    pub until: Option<Template>,
}

/// Lets at most `runs_per_interval` events through per interval, across all runs; the rest wait
/// durably in order.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct ThrottleOptions {
    /// The interval.
    pub interval: ThrottleInterval,
    /// Releases per interval, 1 to 10,000.
    pub runs_per_interval: Spanned<u32>,
    /// Events released together per release. Only 1 (the default: each event on its own) is
    /// supported today.
    pub events_per_run: Option<Spanned<u32>>,
    /// A template whose value gives each key its own budget.
    pub key: Option<Template>,
}

/// A throttle interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ThrottleInterval {
    /// A minute.
    Minute,
    /// An hour.
    Hour,
    /// A day.
    Day,
}

impl TransformOptions {
    /// The mode's name.
    pub fn mode(&self) -> &'static str {
        match self {
            TransformOptions::Message(_) => "message",
            TransformOptions::Extract(_) => "extract",
            TransformOptions::Explode(_) => "explode",
            TransformOptions::Implode(_) => "implode",
            TransformOptions::Deduplicate(_) => "deduplicate",
            TransformOptions::Delay(_) => "delay",
            TransformOptions::Throttle(_) => "throttle",
        }
    }

    /// Calls `f` on every template, with the field it belongs to.
    pub fn each_template<'a>(&'a self, f: &mut dyn FnMut(&'static str, &'a Template)) {
        match self {
            TransformOptions::Message(o) => {
                o.payload.each_template(&mut |t| f("payload", t));
                if let Some(t) = &o.loop_over {
                    f("loop", t);
                }
            }
            TransformOptions::Extract(o) => o.matchers.iter().for_each(|m| f("path", &m.path)),
            TransformOptions::Explode(o) => f("path", &o.path),
            TransformOptions::Implode(o) => {
                f("item_path", &o.item_path);
                f("guid_path", &o.guid_path);
                f("size_path", &o.size_path);
            }
            TransformOptions::Deduplicate(o) => f("path", &o.path),
            TransformOptions::Delay(o) => {
                if let Some(t) = &o.until {
                    f("until", t);
                }
            }
            TransformOptions::Throttle(o) => {
                if let Some(t) = &o.key {
                    f("key", t);
                }
            }
        }
    }
}
