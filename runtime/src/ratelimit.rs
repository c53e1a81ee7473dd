//! Per-tenant rate limiting: a fixed window per tenant, in process.
//!
//! Keys are explicit tenant ids, never an ambient "current tenant".
//! Responses carry `RateLimit-Policy` and `RateLimit`
//! (draft-ietf-httpapi-ratelimit-headers) and, when refused, `Retry-After`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use crate::model::TenantId;

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateDecision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Requests allowed per window.
    pub limit: u64,
    /// Requests left in this window.
    pub remaining: u64,
    /// Seconds until the window resets.
    pub reset: u64,
    /// Window length in seconds.
    pub window: u64,
}

/// In-process fixed-window counters, one per key: a tenant for API
/// requests, a client address for the sign-in routes.
#[derive(Debug)]
pub(crate) struct RateLimiter<K = TenantId> {
    windows: Mutex<HashMap<K, (u64, u64)>>,
}

impl<K> Default for RateLimiter<K> {
    fn default() -> Self {
        Self {
            windows: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Copy> RateLimiter<K> {
    /// Counts one request of `key` against `limit` per `window` seconds
    /// at unix time `now` (windows are aligned to unix time). Counters of
    /// past windows are dropped as the map grows, so memory stays bounded
    /// by the keys seen in one window.
    pub(crate) fn check(&self, key: K, limit: u64, window: u64, now: u64) -> RateDecision {
        let window = window.max(1);
        let number = now / window;
        let reset = window - now % window;
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() >= 100_000 {
            windows.retain(|_, (n, _)| *n == number);
        }
        let entry = windows.entry(key).or_insert((number, 0));
        if entry.0 != number {
            *entry = (number, 0);
        }
        entry.1 += 1;
        let used = entry.1;
        RateDecision {
            allowed: used <= limit,
            limit,
            remaining: limit.saturating_sub(used),
            reset,
            window,
        }
    }

    /// Gives back one request counted by [`RateLimiter::check`] in the
    /// window of `now` (the sign-in limiter counts an attempt up front, so
    /// concurrent guesses cannot overrun it, and refunds it when the
    /// password was right).
    pub(crate) fn refund(&self, key: K, window: u64, now: u64) {
        let number = now / window.max(1);
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = windows.get_mut(&key)
            && entry.0 == number
        {
            entry.1 = entry.1.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_tenant_and_resets_per_window() {
        let limiter = RateLimiter::default();
        let (a, b) = (TenantId::new_v7(), TenantId::new_v7());
        let decisions: Vec<bool> = (0..4).map(|_| limiter.check(a, 3, 10, 100).allowed).collect();
        assert_eq!(decisions, [true, true, true, false]);
        assert!(
            limiter.check(b, 3, 10, 100).allowed,
            "another tenant has its own window"
        );
        let next = limiter.check(a, 3, 10, 110);
        assert!(next.allowed);
        assert_eq!((next.remaining, next.reset), (2, 10));
        assert_eq!(limiter.check(a, 3, 10, 115).reset, 5);
    }

    #[test]
    fn refunds_within_the_window_only() {
        let limiter = RateLimiter::default();
        let a = TenantId::new_v7();
        assert!(limiter.check(a, 1, 10, 100).allowed);
        limiter.refund(a, 10, 101);
        assert!(
            limiter.check(a, 1, 10, 102).allowed,
            "the refunded request is free again"
        );
        limiter.refund(a, 10, 111); // a later window: nothing to give back
        assert!(!limiter.check(a, 1, 10, 103).allowed);
    }
}
