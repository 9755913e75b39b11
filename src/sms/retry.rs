//! How hard delivery tries: retries, backoff with jitter, the shopper's
//! whole wait, and the limits of one provider call.

use std::time::Duration;

use rand::Rng;

use crate::sms::http::CallTimeouts;

/// How hard the delivery chain (delivery.rs) tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Extra attempts per provider after a transient failure.
    pub max_retries: u32,
    /// Backoff before retry `n` (from 0) is `base_delay * 2^n`, capped at
    /// `max_delay`, then scaled by a random factor in `[0.5, 1.0]` so that
    /// many gateways retrying one provider do not hit it in step.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The shopper's whole wait across every attempt and provider.
    pub budget: Duration,
    /// Limits of one provider call.
    pub timeouts: CallTimeouts,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(2),
            budget: Duration::from_secs(10),
            timeouts: CallTimeouts {
                connect: Duration::from_secs(2),
                total: Duration::from_secs(5),
            },
        }
    }
}

impl RetryPolicy {
    /// The un-jittered delay before retry number `retry` (0-based).
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(16));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    pub(super) fn jittered_backoff(&self, retry: u32) -> Duration {
        self.backoff_ceiling(retry)
            .mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }
}
