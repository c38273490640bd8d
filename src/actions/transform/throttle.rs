//! `mode: throttle`: spaces events out so that at most `runs_per_interval` are released in any
//! sliding interval.
//!
//! State is `{"slots": [<release time, ms>, ...]}`, ascending: the release times already handed
//! out that can still affect a future one.

use crate::story::kinds::transform::{ThrottleInterval, ThrottleOptions};
use serde_json::{json, Value};

/// The largest `runs_per_interval` honoured. The state holds one slot per release in the last
/// interval, so this bounds it; a larger budget is enforced as this one (stricter, never looser).
pub const MAX_RUNS_PER_INTERVAL: usize = 10_000;

/// Assigns the next event its release time and returns the state to store next.
///
/// The release time is the earliest `t` that is at or after both `now_ms` and the last release
/// handed out (so events leave in arrival order), with fewer than N releases in `(t - interval,
/// t]`. With N releases already in the window, that is the N-th most recent release plus one
/// interval. A sliding window, unlike a fixed one, never lets 2N events through around a window
/// boundary. A missing or malformed state counts as empty.
pub fn throttle_slot(o: &ThrottleOptions, state: Option<Value>, now_ms: i64) -> (Value, i64) {
    let interval = interval_ms(o.interval);
    let budget = (o.runs_per_interval.value as usize).clamp(1, MAX_RUNS_PER_INTERVAL);
    let mut slots = read(state);
    let mut at = now_ms;
    if let Some(&last) = slots.last() {
        at = at.max(last);
    }
    if slots.len() >= budget {
        at = at.max(slots[slots.len() - budget].saturating_add(interval));
    }
    slots.push(at);
    // Every later release is at or after `at`, so a slot at or before `at - interval` can never
    // share a window with one; and only the last `budget` slots are ever consulted.
    let floor = at.saturating_sub(interval);
    slots.retain(|&slot| slot > floor);
    let excess = slots.len().saturating_sub(budget);
    slots.drain(..excess);
    (json!({ "slots": slots }), at)
}

/// The interval's length in milliseconds.
fn interval_ms(interval: ThrottleInterval) -> i64 {
    match interval {
        ThrottleInterval::Minute => 60_000,
        ThrottleInterval::Hour => 3_600_000,
        ThrottleInterval::Day => 86_400_000,
    }
}

fn read(state: Option<Value>) -> Vec<i64> {
    let Some(Value::Object(mut map)) = state else {
        return Vec::new();
    };
    let Some(Value::Array(slots)) = map.remove("slots") else {
        return Vec::new();
    };
    let mut slots: Vec<i64> = slots.iter().filter_map(Value::as_i64).collect();
    slots.sort_unstable();
    slots
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::transform::tests::options;

    const SECOND: i64 = 1_000;
    const MINUTE: i64 = 60 * SECOND;

    /// Feeds arrivals (ms) in order and returns each release time and the final state.
    fn run(o: &ThrottleOptions, arrivals: &[i64]) -> (Vec<i64>, Value) {
        let mut state = None;
        let mut releases = Vec::new();
        for &now in arrivals {
            let (next, at) = throttle_slot(o, state, now);
            assert!(at >= now);
            state = Some(next);
            releases.push(at);
        }
        (releases, state.unwrap_or(Value::Null))
    }

    #[test]
    fn events_within_the_budget_go_at_once() {
        let o: ThrottleOptions = options("interval: minute\nruns_per_interval: 3\n");
        let (releases, _) = run(&o, &[0, SECOND, 2 * SECOND]);
        assert_eq!(releases, [0, SECOND, 2 * SECOND]);
    }

    #[test]
    fn the_third_of_two_per_minute_waits_for_the_first_to_leave_the_window() {
        let o: ThrottleOptions = options("interval: minute\nruns_per_interval: 2\n");
        let (releases, _) = run(&o, &[0, SECOND, 2 * SECOND, 3 * SECOND, 4 * SECOND]);
        assert_eq!(releases, [0, SECOND, MINUTE, MINUTE + SECOND, 2 * MINUTE]);
    }

    #[test]
    fn waiting_events_keep_their_arrival_order() {
        let o: ThrottleOptions = options("interval: minute\nruns_per_interval: 1\n");
        let (releases, _) = run(&o, &[0, 10 * SECOND, 20 * SECOND]);
        assert_eq!(releases, [0, MINUTE, 2 * MINUTE]);
        assert!(releases.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn no_interval_ever_holds_more_than_the_budget() {
        let o: ThrottleOptions = options("interval: hour\nruns_per_interval: 3\n");
        let arrivals: Vec<i64> = (0..40).map(|i| i * 7 * MINUTE / 3).collect();
        let (releases, _) = run(&o, &arrivals);
        let hour = 60 * MINUTE;
        for &end in &releases {
            let in_window = releases
                .iter()
                .filter(|&&r| r > end - hour && r <= end)
                .count();
            assert!(
                in_window <= 3,
                "{in_window} releases in the hour ending {end}"
            );
        }
    }

    #[test]
    fn a_quiet_spell_resets_the_budget() {
        let o: ThrottleOptions = options("interval: day\nruns_per_interval: 1\n");
        let day = 24 * 60 * MINUTE;
        let (releases, state) = run(&o, &[0, 3 * day]);
        assert_eq!(releases, [0, 3 * day]);
        assert_eq!(state, json!({"slots": [3 * day]}));
    }

    #[test]
    fn the_state_keeps_only_slots_that_still_matter() {
        let o: ThrottleOptions = options("interval: minute\nruns_per_interval: 2\n");
        let arrivals: Vec<i64> = (0..100).map(|i| i * SECOND).collect();
        let (_, state) = run(&o, &arrivals);
        assert_eq!(state["slots"].as_array().map(Vec::len), Some(2));
        let (_, state) = run(&o, &[0, 2 * MINUTE]);
        assert_eq!(state, json!({"slots": [2 * MINUTE]}));
    }

    #[test]
    fn a_malformed_state_counts_as_empty() {
        let o: ThrottleOptions = options("interval: minute\nruns_per_interval: 1\n");
        for bad in [
            json!(null),
            json!({"slots": "x"}),
            json!({"slots": ["a", null]}),
        ] {
            assert_eq!(throttle_slot(&o, Some(bad), 5).1, 5);
        }
    }
}
