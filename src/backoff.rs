//! Exponential backoff, pure: the wait before the n-th retry, from a first wait doubling up to a
//! cap, with jitter taken off so many failing callers do not retry in step. The random number
//! comes in as an argument (callers pass `fastrand::f64()`), so every number is unit-tested.
//!
//! Used by the step runner's retries (`engine::machine::backoff`) and the Okta poller's failure
//! loop (`detect::okta_poll`). Panther's alert-delivery retry (`detect::deliver`, a uniform
//! 30–300 s) is Panther's documented behaviour, not a backoff, and stays its own.

use std::time::Duration;

/// How waits grow: `first`, doubling on each further retry up to `cap`, each shortened by up to
/// `spread` of itself according to the jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first retry's wait, before jitter.
    pub first: Duration,
    /// No wait exceeds this.
    pub cap: Duration,
    /// The share of a wait jitter may take off, in `[0, 1]`: 0.5 makes waits of half to all of
    /// the doubled value.
    pub spread: f64,
}

impl Backoff {
    /// The wait before retry number `retry` (0 for the first retry): `first` doubled `retry`
    /// times, at most `cap`, times `1 - spread + spread * jitter`. `jitter` is a random number in
    /// `[0, 1]` (clamped): 1 keeps the whole wait, 0 takes `spread` of it off.
    pub fn wait(&self, retry: u32, jitter: f64) -> Duration {
        let spread = self.spread.clamp(0.0, 1.0);
        self.undiminished(retry)
            .mul_f64((1.0 - spread) + spread * jitter.clamp(0.0, 1.0))
    }

    /// `first` doubled `retry` times, at most `cap`.
    fn undiminished(&self, retry: u32) -> Duration {
        let mut wait = self.first;
        // Doubling stops at the cap (at most ~100 rounds from 1 ns), whatever `retry` is.
        for _ in 0..retry {
            if wait.is_zero() || wait >= self.cap {
                break;
            }
            wait = wait.saturating_mul(2);
        }
        wait.min(self.cap)
    }
}

/// Consecutive failures of a loop that retries until something works: each [`Failures::next`]
/// waits longer, [`Failures::reset`] after a success starts over from [`Backoff::first`].
#[derive(Debug, Clone)]
pub struct Failures {
    backoff: Backoff,
    count: u32,
}

impl Failures {
    /// No failure yet.
    pub fn new(backoff: Backoff) -> Failures {
        Failures { backoff, count: 0 }
    }

    /// Counts a failure and returns the wait before trying again; `jitter` as in
    /// [`Backoff::wait`].
    pub fn next(&mut self, jitter: f64) -> Duration {
        let wait = self.backoff.wait(self.count, jitter);
        self.count = self.count.saturating_add(1);
        wait
    }

    /// A success: the next failure waits [`Backoff::first`] again.
    pub fn reset(&mut self) {
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn backoff(first: u64, cap: u64, spread: f64) -> Backoff {
        Backoff {
            first: Duration::from_secs(first),
            cap: Duration::from_secs(cap),
            spread,
        }
    }

    #[test]
    fn waits_double_from_the_first_up_to_the_cap() {
        let backoff = backoff(1, 300, 0.0);
        let waits: Vec<u64> = (0..11).map(|n| backoff.wait(n, 0.3).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff.wait(u32::MAX, 1.0), 300 * SECOND);
    }

    #[test]
    fn jitter_takes_off_at_most_the_spread() {
        let backoff = backoff(2, 300, 0.25);
        assert_eq!(backoff.wait(0, 1.0), 2 * SECOND);
        assert_eq!(backoff.wait(0, 0.0), Duration::from_millis(1500));
        assert_eq!(backoff.wait(1, 0.5), Duration::from_millis(3500));
        // Out-of-range jitter is clamped rather than trusted.
        assert_eq!(backoff.wait(0, 7.0), 2 * SECOND);
        assert_eq!(backoff.wait(0, -1.0), Duration::from_millis(1500));
    }

    #[test]
    fn a_cap_below_the_first_wait_wins_and_a_zero_first_wait_stays_zero() {
        assert_eq!(backoff(10, 3, 0.0).wait(0, 1.0), 3 * SECOND);
        assert_eq!(backoff(0, 3, 0.0).wait(1_000_000, 1.0), Duration::ZERO);
    }

    #[test]
    fn failures_wait_longer_each_time_until_reset() {
        let mut failures = Failures::new(backoff(2, 5, 0.25));
        assert_eq!(failures.next(1.0), 2 * SECOND);
        assert_eq!(failures.next(1.0), 4 * SECOND);
        assert_eq!(failures.next(1.0), 5 * SECOND);
        assert_eq!(failures.next(0.0), Duration::from_millis(3750));
        failures.reset();
        assert_eq!(failures.next(1.0), 2 * SECOND);
    }
}
