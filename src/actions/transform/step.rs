//! Running a transform step: the stateless modes directly, and the stateful ones (deduplicate,
//! throttle, implode) by reading the action's state, computing with the pure functions of this
//! module's siblings, and handing back a compare-and-set that commits with the step.

use super::{deduplicate, implode_add, implode_flush, throttle_slot};
use super::{delay_until, explode, extract, message};
use crate::actions::{render, render_text, store_error, Effects, Env, Error, Output};
use crate::clock::rfc3339;
use crate::run::{millis, Millis, Wait};
use crate::store::{ActionStates, ClaimedStep, StateWrite};
use crate::story::kinds::transform::{ImplodeOptions, TransformOptions};
use crate::story::{Action, Story};
use crate::template::Context;
use serde_json::{json, Map, Value};
use std::time::Duration;

const DEFAULT_IMPLODE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Where a transform step runs: its story, action and claimed step.
#[derive(Clone, Copy)]
pub struct At<'a> {
    /// The story.
    pub story: &'a Story,
    /// The action.
    pub action: &'a Action,
    /// The step.
    pub step: &'a ClaimedStep,
}

/// Runs a transform. `marks` are the `(guid, index)` of the upstream explode events (see
/// [`explode_marks`]), which implode orders its items by.
pub async fn run<S: ActionStates + Sync>(
    env: &Env<'_, S>,
    at: At<'_>,
    options: &TransformOptions,
    ctx: &Context,
    marks: &[(String, u64)],
    now: Millis,
    effects: &mut Effects,
) -> Result<Output, Error> {
    let released = || Output::Emit(vec![released_event(now)]);
    match options {
        TransformOptions::Message(o) => message(o, ctx).map(|e| Output::Emit(vec![e])),
        TransformOptions::Extract(o) => {
            extract(o, ctx).map(|e| Output::Emit(e.into_iter().collect()))
        }
        TransformOptions::Explode(o) => {
            let guid = format!("{}-{}", at.step.run_id, at.step.id);
            explode(o, ctx, &guid).map(Output::Emit)
        }
        TransformOptions::Delay(o) => {
            if at.step.wait.is_some() {
                return Ok(released());
            }
            let now_ts = jiff::Timestamp::from_millisecond(now)
                .map_err(|e| Error::permanent(e.to_string()))?;
            let until = delay_until(o, ctx, now_ts)?.as_millisecond();
            Ok(if until <= now {
                released()
            } else {
                Output::Wait {
                    until,
                    wait: Wait::Delay,
                }
            })
        }
        TransformOptions::Deduplicate(o) => {
            let key = render("path", &o.path, ctx)?;
            let state = State::load(env, at, "").await?;
            let (new, is_new) = deduplicate(o, state.parsed(), &key, now);
            effects.state_write = Some(state.write(&new));
            Ok(if is_new {
                Output::Emit(vec![deduplicated_event(key)])
            } else {
                Output::Skip
            })
        }
        TransformOptions::Throttle(o) => {
            if at.step.wait.is_some() {
                return Ok(released());
            }
            let key = match &o.key {
                Some(t) => render_text("key", t, ctx)?,
                None => String::new(),
            };
            let state = State::load(env, at, &key).await?;
            let (new, release_at) = throttle_slot(o, state.parsed(), now);
            effects.state_write = Some(state.write(&new));
            Ok(if release_at <= now {
                released()
            } else {
                Output::Wait {
                    until: release_at,
                    wait: Wait::Throttle,
                }
            })
        }
        TransformOptions::Implode(o) => implode(env, at, o, ctx, marks, now, effects).await,
    }
}

/// The event `delay` and `throttle` emit when they release: `{released_at}` (RFC 3339).
pub fn released_event(now: Millis) -> Value {
    json!({ "released_at": rfc3339(now) })
}

/// The event `deduplicate` emits for a key it has not seen: `{key}`, the rendered key.
pub fn deduplicated_event(key: Value) -> Value {
    json!({ "key": key })
}

/// Implode keeps one group per `guid` as `{owner, group}`: the first item's step owns the group
/// and waits for the timeout; the item that completes the group emits it and wakes the owner,
/// which then finds nothing left to flush.
async fn implode<S: ActionStates + Sync>(
    env: &Env<'_, S>,
    at: At<'_>,
    o: &ImplodeOptions,
    ctx: &Context,
    marks: &[(String, u64)],
    now: Millis,
    effects: &mut Effects,
) -> Result<Output, Error> {
    if let Some(Wait::Implode { guid }) = &at.step.wait {
        let state = State::load(env, at, guid).await?;
        let mut stored = state.parsed().unwrap_or_else(|| json!({}));
        let (group, event) = implode_flush(stored.get("group").cloned());
        stored["group"] = group;
        effects.state_write = Some(state.write(&stored));
        return Ok(event.map_or(Output::Skip, |e| Output::Emit(vec![e])));
    }
    let guid = render_text("guid_path", &o.guid_path, ctx)?;
    let size = render("size_path", &o.size_path, ctx)?;
    let size = size
        .as_u64()
        .or_else(|| size.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| Error::permanent(format!("`size_path` gave {size}, not a count")))?;
    let item = render("item_path", &o.item_path, ctx)?;
    let state = State::load(env, at, &guid).await?;
    let mut stored = state.parsed().unwrap_or_else(|| json!({}));
    let owner = stored.get("owner").and_then(Value::as_i64);
    // The explode's own `index` for this group orders the items and is stable on redelivery.
    let index = marks
        .iter()
        .find(|(g, _)| *g == guid)
        .map(|(_, i)| *i)
        .ok_or_else(|| {
            Error::permanent(format!(
            "no upstream explode event has guid `{guid}`: point `guid_path` at an explode's `guid`"
        ))
        })?;
    let (group, event) = implode_add(stored.get("group").cloned(), index, item, size);
    stored["group"] = group;
    if owner.is_none() {
        stored["owner"] = json!(at.step.id);
    }
    effects.state_write = Some(state.write(&stored));
    match (event, owner) {
        (Some(event), Some(owner)) => {
            effects.wake_steps.push(owner);
            Ok(Output::Emit(vec![event]))
        }
        (Some(event), None) => Ok(Output::Emit(vec![event])),
        (None, Some(_)) => Ok(Output::Skip),
        (None, None) => Ok(Output::Wait {
            until: now.saturating_add(millis(
                o.timeout.map_or(DEFAULT_IMPLODE_TIMEOUT, |t| t.value),
            )),
            wait: Wait::Implode { guid },
        }),
    }
}

/// `(guid, index)` of every upstream explode event in a step's raw input.
pub fn explode_marks(upstream: &Map<String, Value>) -> Vec<(String, u64)> {
    upstream
        .values()
        .filter_map(|v| {
            Some((
                v.get("guid")?.as_str()?.to_owned(),
                v.get("index")?.as_u64()?,
            ))
        })
        .collect()
}

/// One key of an action's state as read, to be written back with a compare-and-set.
struct State<'a> {
    at: At<'a>,
    key: String,
    stored: Option<String>,
}

impl<'a> State<'a> {
    async fn load<S: ActionStates + Sync>(
        env: &Env<'_, S>,
        at: At<'a>,
        key: &str,
    ) -> Result<State<'a>, Error> {
        let stored = env
            .store
            .action_state(&at.story.id, &at.action.id, key)
            .await
            .map_err(store_error)?;
        Ok(State {
            at,
            key: key.to_owned(),
            stored,
        })
    }

    /// The stored state as JSON; unreadable state counts as none.
    fn parsed(&self) -> Option<Value> {
        self.stored
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
    }

    /// Writes `new` only if the state is still what was read.
    fn write(self, new: &Value) -> StateWrite {
        StateWrite {
            story_id: self.at.story.id.clone(),
            action_id: self.at.action.id.clone(),
            key: self.key,
            expected: self.stored,
            new: new.to_string(),
        }
    }
}
