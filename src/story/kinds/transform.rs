//! `transform`: Tines' Event Transform modes. `options.mode` picks one; each mode has its own
//! options.

use super::check::{check_non_empty, out_of_range, CheckContext};
use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::story::value::{Duration, Dynamic, Pattern, Template};
use crate::yaml::{from_node, Node, NodeKind, Spanned};
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
    /// The regular expression; every match (or its first capture group) is collected. Tines'
    /// `regexp` is accepted.
    #[serde(alias = "regexp")]
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
    /// Emit what has arrived after this long even if items are missing. Default `1h`. Tines'
    /// `seconds` is accepted.
    #[serde(alias = "seconds")]
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
    /// How long to hold each event. Give this or `until`. Tines' `seconds` is accepted.
    #[serde(alias = "seconds")]
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
    /// Releases per interval, 1 to 10,000. Tines' older `capacity` is accepted.
    #[serde(alias = "capacity")]
    pub runs_per_interval: Spanned<u32>,
    /// Events released together per release. Only 1 (the default: each event on its own) is
    /// supported today.
    pub events_per_run: Option<Spanned<u32>>,
    /// A template whose value gives each key its own budget. Tines' `throttle_key` is accepted.
    #[serde(alias = "throttle_key")]
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

    /// Reads `options:` by its `mode`: the mode picks the struct, so each mode's unknown keys
    /// and type errors are reported against that mode's own fields. `message_only` (Tines'
    /// export name) reads as `message`.
    pub fn read(options: &Node, d: &mut Vec<Diagnostic>) -> Option<TransformOptions> {
        let Some(entries) = options.as_map() else {
            d.push(Diagnostic::new(
                Code::InvalidValue,
                options.span,
                format!(
                    "expected transform options (a mapping), found {}",
                    options.describe()
                ),
            ));
            return None;
        };
        let Some((_, mode_node)) = entries.iter().find(|(k, _)| k.name == "mode") else {
            d.push(
                Diagnostic::new(
                    Code::MissingKey,
                    options.span,
                    "missing required key `mode`",
                )
                .with_hint(format!("add `mode:`, one of {}", MODES.join(", "))),
            );
            return None;
        };
        let mode = mode_node.as_str().unwrap_or_default();
        let mode = if mode == "message_only" {
            "message"
        } else {
            mode
        };
        if !MODES.contains(&mode) {
            let hint = did_you_mean(mode, MODES.iter().copied())
                .unwrap_or_else(|| format!("expected one of: {}", MODES.join(", ")));
            d.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    mode_node.span,
                    format!("unknown transform mode `{mode}`"),
                )
                .with_hint(hint),
            );
            return None;
        }
        // `mode` is not a field of the mode's struct: read the rest without it.
        let rest = Node {
            kind: NodeKind::Map(
                entries
                    .iter()
                    .filter(|(k, _)| k.name != "mode")
                    .cloned()
                    .collect(),
            ),
            span: options.span,
        };
        Some(match mode {
            "message" => TransformOptions::Message(from_node(&rest, d)?),
            "extract" => TransformOptions::Extract(from_node(&rest, d)?),
            "explode" => TransformOptions::Explode(from_node(&rest, d)?),
            "implode" => TransformOptions::Implode(from_node(&rest, d)?),
            "deduplicate" => TransformOptions::Deduplicate(from_node(&rest, d)?),
            "delay" => TransformOptions::Delay(from_node(&rest, d)?),
            "throttle" => TransformOptions::Throttle(from_node(&rest, d)?),
            _ => unreachable!("checked against MODES above"),
        })
    }

    /// Checks what the types cannot, per mode: at least one matcher, ranges, and the pairs of
    /// options of which exactly one must be given.
    pub fn check(&self, cx: &CheckContext, d: &mut Vec<Diagnostic>) {
        match self {
            TransformOptions::Extract(e) => {
                check_non_empty(&e.matchers, "extract", "matcher", d);
            }
            TransformOptions::Explode(e) => {
                if let Some(limit) = &e.limit {
                    if !(1..=20_000).contains(&limit.value) {
                        d.push(out_of_range(limit, "limit", "1..=20000"));
                    }
                }
            }
            TransformOptions::Deduplicate(e) => match (&e.lookback, &e.period) {
                (Some(_), Some(period)) => d.push(
                    Diagnostic::new(
                        Code::InvalidOption,
                        period.span,
                        "give `lookback` or `period`, not both",
                    )
                    .with_hint("`lookback` counts past events; `period` is a time window"),
                ),
                (None, None) => d.push(Diagnostic::new(
                    Code::InvalidOption,
                    e.path.span,
                    "deduplicate needs `lookback` (past events) or `period` (a time window)",
                )),
                (Some(lookback), None) if !(1..=1000).contains(&lookback.value) => {
                    d.push(out_of_range(lookback, "lookback", "1..=1000"))
                }
                _ => {}
            },
            TransformOptions::Delay(e) => match (&e.duration, &e.until) {
                (Some(duration), Some(_)) => d.push(Diagnostic::new(
                    Code::InvalidOption,
                    duration.span,
                    "give `duration` or `until`, not both",
                )),
                (None, None) => d.push(Diagnostic::new(
                    Code::MissingKey,
                    cx.at,
                    "delay needs `duration` or `until`",
                )),
                _ => {}
            },
            TransformOptions::Throttle(e) => {
                if !(1..=10_000).contains(&e.runs_per_interval.value) {
                    d.push(out_of_range(
                        &e.runs_per_interval,
                        "runs_per_interval",
                        "1..=10000",
                    ));
                }
                if let Some(n) = &e.events_per_run {
                    if n.value != 1 {
                        d.push(
                            Diagnostic::new(
                                Code::InvalidOption,
                                n.span,
                                "`events_per_run` above 1 (several events released as one list) is not supported yet",
                            )
                            .with_hint("leave it out (one event per release), or gather released events with an implode"),
                        );
                    }
                }
            }
            TransformOptions::Message(_) | TransformOptions::Implode(_) => {}
        }
    }
}
