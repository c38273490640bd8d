//! Time, injected: the runner asks a [`Clock`], so tests move time forward without sleeping.

use crate::run::{millis, Millis};
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now(&self) -> Millis;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place the wall clock is read for decisions (house rule, `clippy.toml`).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Millis {
        jiff::Timestamp::now().as_millisecond()
    }
}

/// The system time as a timestamp, for what is stamped rather than decided (a batch's
/// `p_parse_time` in the bench).
pub fn system_now() -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(SystemClock.now()).unwrap_or_default()
}

/// A clock that moves only when told (tests).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// Starts at `now`.
    pub fn new(now: Millis) -> ManualClock {
        ManualClock(AtomicI64::new(now))
    }

    /// Moves time forward.
    pub fn advance(&self, by: std::time::Duration) {
        self.0.fetch_add(millis(by), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// The system clock moved ahead by what was skipped: `warden demo` plays a story's delays,
/// retries and timeouts at once instead of waiting them out in real time.
#[derive(Debug, Default)]
pub struct SkippingClock(AtomicI64);

impl SkippingClock {
    /// Moves time forward (and keeps it there).
    pub fn skip(&self, by: std::time::Duration) {
        self.0.fetch_add(millis(by), Ordering::SeqCst);
    }

    /// How far ahead of the system clock it is.
    pub fn ahead(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0.load(Ordering::SeqCst).max(0).unsigned_abs())
    }
}

impl Clock for SkippingClock {
    fn now(&self) -> Millis {
        SystemClock
            .now()
            .saturating_add(self.0.load(Ordering::SeqCst))
    }
}

/// A time as RFC 3339 text, for events and the API.
pub fn rfc3339(millis: Millis) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipping_clock_stays_ahead_by_what_it_skipped() {
        let clock = SkippingClock::default();
        let before = SystemClock.now();
        clock.skip(std::time::Duration::from_secs(600));
        clock.skip(std::time::Duration::from_secs(60));
        assert_eq!(clock.ahead(), std::time::Duration::from_secs(660));
        let now = clock.now();
        assert!(now >= before + 660_000, "{now} vs {before}");
        assert!(now < SystemClock.now() + 661_000);
    }
}
