//! Token buckets: a credential's request budget (VirusTotal's free key: 4 a minute), shared by
//! every run and, through the store, every worker. Pure; the store keeps the buckets.

use crate::run::Millis;
use serde_json::Value;

/// A budget: `requests` per `per` milliseconds, refilled continuously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests per period (the bucket's capacity).
    pub requests: u32,
    /// The period, in milliseconds.
    pub per: Millis,
}

/// A bucket's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Tokens left (fractional while refilling).
    pub tokens: f64,
    /// When `tokens` was computed.
    pub refilled_at: Millis,
    /// The vendor said the budget is spent until then (`X-Rate-Limit-Reset`, a 429).
    pub blocked_until: Millis,
}

/// Takes one token at `now` from `bucket` (a full one if new): the new state, and `Ok` or the
/// time a token will be there.
pub fn take(bucket: Option<Bucket>, limit: Limit, now: Millis) -> (Bucket, Result<(), Millis>) {
    let capacity = f64::from(limit.requests.max(1));
    let per = limit.per.max(1) as f64;
    let mut b = bucket.unwrap_or(Bucket {
        tokens: capacity,
        refilled_at: now,
        blocked_until: 0,
    });
    let elapsed = now.saturating_sub(b.refilled_at).max(0) as f64;
    b.tokens = (b.tokens + elapsed * capacity / per).min(capacity);
    b.refilled_at = now.max(b.refilled_at);
    if b.blocked_until > now {
        return (b, Err(b.blocked_until));
    }
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        return (b, Ok(()));
    }
    let wait = ((1.0 - b.tokens) * per / capacity).ceil() as Millis;
    (b, Err(now.saturating_add(wait.max(1))))
}

/// When a response event (`{status, headers, body}`) says the credential's budget is spent:
/// `X-Rate-Limit-Remaining: 0`, or a 429 with `X-Rate-Limit-Reset` (Okta's headers; epoch
/// seconds). Until then, every request on that credential waits.
pub fn spent_until(response: &Value) -> Option<Millis> {
    let header = |name: &str| response["headers"][name].as_str().map(str::trim);
    let reset: i64 = header("x-rate-limit-reset")?.parse().ok()?;
    let spent = header("x-rate-limit-remaining") == Some("0") || response["status"] == 429;
    spent.then(|| reset.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Millis = 60_000;
    const FOUR_A_MINUTE: Limit = Limit {
        requests: 4,
        per: MINUTE,
    };

    #[test]
    fn four_a_minute_then_one_every_fifteen_seconds() {
        let mut bucket = None;
        for _ in 0..4 {
            let (b, taken) = take(bucket, FOUR_A_MINUTE, 0);
            assert_eq!(taken, Ok(()));
            bucket = Some(b);
        }
        let (b, fifth) = take(bucket, FOUR_A_MINUTE, 0);
        assert_eq!(fifth, Err(15_000));
        let (b, early) = take(Some(b), FOUR_A_MINUTE, 14_999);
        assert!(early.is_err());
        let (_, on_time) = take(Some(b), FOUR_A_MINUTE, 15_000);
        assert_eq!(on_time, Ok(()));
    }

    #[test]
    fn a_vendor_block_wins_over_tokens() {
        let blocked = Bucket {
            tokens: 4.0,
            refilled_at: 0,
            blocked_until: 30_000,
        };
        assert_eq!(take(Some(blocked), FOUR_A_MINUTE, 10).1, Err(30_000));
        assert_eq!(take(Some(blocked), FOUR_A_MINUTE, 30_000).1, Ok(()));
    }

    #[test]
    fn tokens_never_exceed_the_capacity() {
        let (b, _) = take(None, FOUR_A_MINUTE, 0);
        let (b, _) = take(Some(b), FOUR_A_MINUTE, 10 * MINUTE);
        assert_eq!(b.tokens, 3.0);
    }
}
