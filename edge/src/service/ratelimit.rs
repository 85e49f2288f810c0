//! Rate limiting by GCRA (generic cell rate algorithm): one timestamp of state per key, smooth
//! spacing, and an exact `Retry-After`. The state is held by a Durable Object per key on Workers
//! (`wasm::limiter`) and in memory natively; the arithmetic is here, once.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateRule {
    /// Requests allowed per window (the burst size).
    pub limit: u32,
    pub window_secs: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateDecision {
    pub allowed: bool,
    pub remaining: u32,
    /// Seconds until a request would be allowed (0 when allowed).
    pub retry_after_secs: u64,
}

/// Applies one request at `now_ms` to the theoretical arrival time `tat_ms` (0 for a new key).
/// Returns the decision and the new state to keep.
pub fn gcra(rule: RateRule, tat_ms: i64, now_ms: i64) -> (RateDecision, i64) {
    let limit = rule.limit.max(1) as i64;
    let window = rule.window_secs.max(1) as i64 * 1000;
    let interval = window / limit;
    let tat = tat_ms.max(now_ms);
    let new_tat = tat + interval;
    let allow_at = new_tat - window;
    if allow_at > now_ms {
        let wait_ms = allow_at - now_ms;
        let retry = ((wait_ms + 999) / 1000) as u64;
        return (
            RateDecision {
                allowed: false,
                remaining: 0,
                retry_after_secs: retry,
            },
            tat_ms,
        );
    }
    let remaining = ((window - (new_tat - now_ms)) / interval.max(1)).max(0) as u32;
    (
        RateDecision {
            allowed: true,
            remaining,
            retry_after_secs: 0,
        },
        new_tat,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_of_limit_then_refuses() {
        let rule = RateRule {
            limit: 3,
            window_secs: 60,
        };
        let mut tat = 0;
        for i in 0..3 {
            let (d, t) = gcra(rule, tat, 1_000_000);
            assert!(d.allowed, "request {i}");
            tat = t;
        }
        let (d, t) = gcra(rule, tat, 1_000_000);
        assert!(!d.allowed);
        assert_eq!(t, tat, "a refused request does not consume");
        assert_eq!(d.retry_after_secs, 20);
    }

    #[test]
    fn recovers_one_request_per_interval() {
        let rule = RateRule {
            limit: 2,
            window_secs: 10,
        };
        let (_, t) = gcra(rule, 0, 0);
        let (_, t) = gcra(rule, t, 0);
        assert!(!gcra(rule, t, 4_999).0.allowed);
        assert!(gcra(rule, t, 5_000).0.allowed);
    }

    #[test]
    fn remaining_counts_down() {
        let rule = RateRule {
            limit: 5,
            window_secs: 5,
        };
        let (d, _) = gcra(rule, 0, 10_000);
        assert_eq!(d.remaining, 4);
    }
}
