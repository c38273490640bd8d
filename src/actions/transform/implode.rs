//! `mode: implode`: gathers the events of one explode back into a list.
//!
//! State, per group (`guid`): `{"size": <declared size>, "items": {"<index>": item, ...}}` while
//! collecting, then `{"done": true, "size": n}` once emitted. Items are keyed by index so a
//! redelivered event replaces its earlier copy instead of counting twice.

use serde_json::{json, Map, Value};

/// The most items a group collects: an explode never emits more, so a larger declared size is a
/// mistake, and its group is only ever flushed (partially) at the timeout.
pub const MAX_ITEMS: u64 = 20_000;

/// Adds `item` at `index` to a group that expects `size` items, and returns the state to store
/// next with the imploded event once every index has arrived.
///
/// A completed group remembers only that it is done, so a late redelivery or a timeout after
/// completion emits nothing a second time. Indexes outside `0..size` cannot belong to the group
/// and are ignored. A missing or malformed state starts the group afresh.
pub fn implode_add(
    state: Option<Value>,
    index: u64,
    item: Value,
    size: u64,
) -> (Value, Option<Value>) {
    let mut group = read(state);
    if is_done(&group) {
        return (Value::Object(group), None);
    }
    let previous = group.insert("size".into(), size.into());
    if index >= size.min(MAX_ITEMS) {
        return (Value::Object(group), None);
    }
    let mut items = take_items(&mut group);
    if previous.and_then(|p| p.as_u64()).is_some_and(|p| p > size) {
        // The declared size shrank: items beyond it no longer belong and must not count.
        items.retain(|k, _| k.parse::<u64>().is_ok_and(|i| i < size));
    }
    items.insert(index.to_string(), item);
    if (items.len() as u64) < size {
        group.insert("items".into(), Value::Object(items));
        return (Value::Object(group), None);
    }
    let items = ordered(items);
    (
        finished(size),
        Some(json!({ "items": items, "size": size })),
    )
}

/// Ends a group at its timeout: emits whatever arrived, marked `partial`, so a lost event delays
/// the list rather than losing it. Emits nothing when the group already completed or nothing
/// arrived; either way the group is done afterwards.
pub fn implode_flush(state: Option<Value>) -> (Value, Option<Value>) {
    let mut group = read(state);
    let size = group.get("size").and_then(Value::as_u64).unwrap_or(0);
    if is_done(&group) {
        return (Value::Object(group), None);
    }
    let items = take_items(&mut group);
    if items.is_empty() {
        return (finished(size), None);
    }
    let event = json!({ "items": ordered(items), "size": size, "partial": true });
    (finished(size), Some(event))
}

fn read(state: Option<Value>) -> Map<String, Value> {
    match state {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn is_done(group: &Map<String, Value>) -> bool {
    group.get("done").and_then(Value::as_bool) == Some(true)
}

/// Takes the group's items out, treating anything malformed as none.
fn take_items(group: &mut Map<String, Value>) -> Map<String, Value> {
    match group.remove("items") {
        Some(Value::Object(items)) => items,
        _ => Map::new(),
    }
}

/// The items in index order; keys that are not indexes (a hand-edited state) are dropped.
fn ordered(items: Map<String, Value>) -> Vec<Value> {
    let mut indexed: Vec<(u64, Value)> = items
        .into_iter()
        .filter_map(|(k, v)| k.parse().ok().map(|i| (i, v)))
        .collect();
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, v)| v).collect()
}

fn finished(size: u64) -> Value {
    json!({ "done": true, "size": size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_completes_when_every_index_arrives_in_any_order() {
        let (state, out) = implode_add(None, 2, json!("c"), 3);
        assert_eq!(out, None);
        let (state, out) = implode_add(Some(state), 0, json!("a"), 3);
        assert_eq!(out, None);
        let (state, out) = implode_add(Some(state), 1, json!("b"), 3);
        assert_eq!(out, Some(json!({"items": ["a", "b", "c"], "size": 3})));
        assert_eq!(state, json!({"done": true, "size": 3}));
    }

    #[test]
    fn a_redelivered_index_replaces_rather_than_counts() {
        let (state, _) = implode_add(None, 0, json!("old"), 2);
        let (state, out) = implode_add(Some(state), 0, json!("new"), 2);
        assert_eq!(out, None);
        let (_, out) = implode_add(Some(state), 1, json!("b"), 2);
        assert_eq!(out, Some(json!({"items": ["new", "b"], "size": 2})));
    }

    #[test]
    fn adds_after_completion_emit_nothing() {
        let (state, out) = implode_add(None, 0, json!("a"), 1);
        assert!(out.is_some());
        let (state, out) = implode_add(Some(state), 0, json!("a"), 1);
        assert_eq!(out, None);
        assert_eq!(state, json!({"done": true, "size": 1}));
    }

    #[test]
    fn an_index_outside_the_size_is_ignored() {
        let (state, out) = implode_add(None, 5, json!("x"), 2);
        assert_eq!(out, None);
        let (state, _) = implode_add(Some(state), 0, json!("a"), 2);
        let (_, out) = implode_add(Some(state), 1, json!("b"), 2);
        assert_eq!(out, Some(json!({"items": ["a", "b"], "size": 2})));
    }

    #[test]
    fn flush_emits_what_arrived_as_partial() {
        let (state, _) = implode_add(None, 3, json!("d"), 4);
        let (state, _) = implode_add(Some(state), 1, json!("b"), 4);
        let (state, out) = implode_flush(Some(state));
        assert_eq!(
            out,
            Some(json!({"items": ["b", "d"], "size": 4, "partial": true}))
        );
        let (_, out) = implode_add(Some(state.clone()), 0, json!("a"), 4);
        assert_eq!(out, None, "a flushed group is done");
        assert_eq!(implode_flush(Some(state)).1, None);
    }

    #[test]
    fn flush_after_completion_or_of_nothing_emits_nothing() {
        let (state, _) = implode_add(None, 0, json!("a"), 1);
        assert_eq!(implode_flush(Some(state)).1, None);
        let (state, out) = implode_flush(None);
        assert_eq!(out, None);
        assert_eq!(state["done"], true);
    }

    #[test]
    fn items_sort_by_number_not_text() {
        let mut state = None;
        for i in (0..12).rev() {
            let (next, out) = implode_add(state, i, json!(i), 12);
            state = Some(next);
            if let Some(event) = out {
                let expected: Vec<u64> = (0..12).collect();
                assert_eq!(event["items"], json!(expected));
            }
        }
        assert_eq!(state.unwrap()["done"], true);
    }

    #[test]
    fn items_beyond_a_shrunken_size_do_not_count() {
        let (state, _) = implode_add(None, 2, json!("c"), 3);
        let (state, out) = implode_add(Some(state), 0, json!("a"), 2);
        assert_eq!(out, None);
        let (_, out) = implode_add(Some(state), 1, json!("b"), 2);
        assert_eq!(out, Some(json!({"items": ["a", "b"], "size": 2})));
    }

    #[test]
    fn a_size_beyond_the_maximum_never_completes_but_flushes() {
        let (state, out) = implode_add(None, 0, json!("a"), MAX_ITEMS + 1);
        assert_eq!(out, None);
        let (_, out) = implode_add(Some(state.clone()), MAX_ITEMS, json!("z"), MAX_ITEMS + 1);
        assert_eq!(out, None);
        let (_, out) = implode_flush(Some(state));
        assert_eq!(out.unwrap()["items"], json!(["a"]));
    }

    #[test]
    fn a_malformed_state_starts_afresh() {
        for bad in [json!(null), json!([1]), json!({"items": 3})] {
            let (_, out) = implode_add(Some(bad), 0, json!("a"), 1);
            assert_eq!(out, Some(json!({"items": ["a"], "size": 1})));
        }
    }
}
