//! A byte budget shared by the decompressions in progress: each ingest request's gzip body is
//! bounded on its own (`IngestLimits::max_decompressed`), and this bounds them together, so four
//! bombs at once cannot take four times the memory. A decompression takes its share as its
//! output grows, waiting a little for others to give theirs back, and fails (the request gets
//! 503) when it cannot.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Bytes shared by every decompression in progress.
#[derive(Debug)]
pub struct DecompressionBudget {
    total: usize,
    used: Mutex<usize>,
    freed: Condvar,
}

impl DecompressionBudget {
    /// How long a decompression waits for bytes before giving up.
    pub const WAIT: Duration = Duration::from_secs(2);

    /// A budget of `total` bytes.
    pub fn new(total: usize) -> Arc<DecompressionBudget> {
        Arc::new(DecompressionBudget {
            total,
            used: Mutex::new(0),
            freed: Condvar::new(),
        })
    }

    /// An empty share, grown with [`Share::grow`], given back when dropped.
    pub fn share(self: &Arc<Self>) -> Share {
        Share {
            budget: self.clone(),
            bytes: 0,
        }
    }

    /// Bytes taken now.
    pub fn in_use(&self) -> usize {
        *self.lock()
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.used.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One decompression's part of a [`DecompressionBudget`].
#[derive(Debug)]
pub struct Share {
    budget: Arc<DecompressionBudget>,
    bytes: usize,
}

impl Share {
    /// Takes `more` bytes, waiting up to `wait` for others to give theirs back. Blocks the
    /// thread: call it from blocking code (decompression runs in `spawn_blocking`). False: not
    /// granted (the share keeps what it had).
    pub fn grow(&mut self, more: usize, wait: Duration) -> bool {
        let budget = &*self.budget;
        if more > budget.total {
            return false;
        }
        let deadline = Instant::now() + wait;
        let mut used = budget.lock();
        while *used + more > budget.total {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            used = budget
                .freed
                .wait_timeout(used, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *used += more;
        self.bytes += more;
        true
    }

    /// Bytes this share holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        if self.bytes > 0 {
            *self.budget.lock() -= self.bytes;
            self.budget.freed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_WAIT: Duration = Duration::ZERO;

    #[test]
    fn shares_together_never_exceed_the_budget() {
        let budget = DecompressionBudget::new(100);
        let mut a = budget.share();
        let mut b = budget.share();
        assert!(a.grow(60, NO_WAIT));
        assert!(!b.grow(50, NO_WAIT), "60 + 50 > 100");
        assert!(b.grow(40, NO_WAIT));
        assert_eq!(budget.in_use(), 100);
        assert!(!a.grow(1, NO_WAIT));
        assert!(
            !budget.share().grow(101, Duration::from_secs(5)),
            "never fits"
        );
        drop(a);
        assert_eq!(budget.in_use(), 40);
        drop(b);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn a_share_waits_for_another_to_be_given_back() {
        let budget = DecompressionBudget::new(100);
        let mut held = budget.share();
        assert!(held.grow(100, NO_WAIT));
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || {
                let mut share = budget.share();
                share.grow(70, Duration::from_secs(30)).then_some(share)
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        let share = waiter
            .join()
            .unwrap()
            .expect("granted once the other was dropped");
        assert_eq!(share.bytes(), 70);
        assert_eq!(budget.in_use(), 70);
    }

    #[test]
    fn a_share_that_cannot_get_its_bytes_in_time_gives_up() {
        let budget = DecompressionBudget::new(100);
        let mut held = budget.share();
        assert!(held.grow(90, NO_WAIT));
        let mut late = budget.share();
        assert!(!late.grow(20, Duration::from_millis(20)));
        assert_eq!(late.bytes(), 0);
        assert_eq!(budget.in_use(), 90);
    }
}
