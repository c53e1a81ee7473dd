//! Rate limiting: fixed windows aligned to unix time, per tenant (API
//! requests), per client address (sign-in routes) and per account
//! (failed password checks).
//!
//! In process by default; with `REDIS_URL`, one window per key shared by
//! every instance (`shared`, counted by one atomic script in Redis's
//! clock), and this process's window again while Redis is unavailable
//! (each instance then allows the whole limit: fail open, never a 500).
//! Fixed windows, because they are what the `RateLimit-Policy` header
//! (`q` requests per `w` seconds) describes, because the in-process and
//! the shared limiter then behave the same, and because giving back a
//! sign-in attempt is one decrement.
//!
//! Keys are explicit tenant ids, never an ambient "current tenant".
//! Responses carry `RateLimit-Policy` and `RateLimit`
//! (draft-ietf-httpapi-ratelimit-headers) and, when refused, `Retry-After`.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::model::TenantId;
use crate::shared::{Count, Counter, Redis};

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

impl RateDecision {
    /// The decision for a shared counter at `count`.
    pub(crate) fn of(count: Count, limit: u64, window: u64) -> Self {
        Self {
            allowed: count.used <= limit,
            limit,
            remaining: limit.saturating_sub(count.used),
            reset: count.reset,
            window,
        }
    }
}

/// A key a limiter counts, and how Redis names it.
pub(crate) trait Limited: Eq + Hash + Copy {
    /// Its shared counter.
    fn counter(&self) -> Counter<'_>;
}

impl Limited for TenantId {
    fn counter(&self) -> Counter<'_> {
        Counter::Api(*self)
    }
}

impl Limited for IpAddr {
    fn counter(&self) -> Counter<'_> {
        Counter::SignIn(*self)
    }
}

impl Limited for [u8; 32] {
    fn counter(&self) -> Counter<'_> {
        Counter::Account(self)
    }
}

/// The current unix time in seconds.
pub(crate) fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
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

impl<K: Limited> RateLimiter<K> {
    /// [`RateLimiter::check`], in the window every instance shares when
    /// there is a Redis, in this process's when there is none or it is
    /// unavailable.
    pub(crate) async fn count(&self, redis: Option<&Redis>, key: K, limit: u64, window: u64) -> RateDecision {
        if let Some(redis) = redis
            && let Ok(count) = Box::pin(redis.count(key.counter(), window.max(1), 1)).await
        {
            return RateDecision::of(count, limit, window.max(1));
        }
        self.check(key, limit, window, unix_now())
    }

    /// [`RateLimiter::refund`] of a request [`RateLimiter::count`] counted,
    /// in the same place.
    pub(crate) async fn give_back(&self, redis: Option<&Redis>, key: K, window: u64) {
        if let Some(redis) = redis
            && Box::pin(redis.count(key.counter(), window.max(1), -1)).await.is_ok()
        {
            return;
        }
        self.refund(key, window, unix_now());
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
