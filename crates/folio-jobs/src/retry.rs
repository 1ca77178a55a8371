//! Retries: only failures marked retryable (internal faults, storage hiccups)
//! are run again, after an exponentially growing delay. A corrupt or hostile
//! input fails the same way every time, so it is failed at once.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in total, the first run included (1 = never retry).
    pub max_attempts: u32,
    /// Delay before the first retry.
    pub base_delay_ms: u64,
    /// Upper bound for any delay.
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay_ms: 2_000,
            max_delay_ms: 5 * 60_000,
        }
    }
}

impl RetryPolicy {
    /// Delay before the next run once `attempts` runs have failed (≥ 1):
    /// base, 2×base, 4×base... capped at `max_delay_ms`.
    pub fn delay(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(32);
        let ms = self
            .base_delay_ms
            .saturating_mul(1u64 << exp)
            .min(self.max_delay_ms);
        Duration::from_millis(ms)
    }

    /// Whether a failure after `attempts` runs should be retried.
    pub fn should_retry(&self, attempts: u32, retryable: bool) -> bool {
        retryable && attempts < self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay_ms: 100,
            max_delay_ms: 1000,
        };
        let d: Vec<u64> = (1..=6).map(|a| p.delay(a).as_millis() as u64).collect();
        assert_eq!(d, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.delay(u32::MAX).as_millis(), 1000);
    }

    #[test]
    fn only_retryable_failures_within_budget() {
        let p = RetryPolicy::default();
        assert!(p.should_retry(1, true));
        assert!(p.should_retry(2, true));
        assert!(!p.should_retry(3, true));
        assert!(!p.should_retry(1, false));
    }
}
