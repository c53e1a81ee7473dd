//! Revoked access tokens: per member of a tenant, a cutoff time (unix
//! milliseconds); a token of that member issued at or before it is refused.
//!
//! Access tokens are not looked up anywhere (that is what makes them
//! cheap), so removing a member or changing their role (`invalidate`)
//! records a cutoff instead. Kept in process, and with Redis in a set
//! every instance reads: each request learns in its one Redis round trip
//! whether the set changed (its generation), and an instance that sees a
//! new generation reads the set before it answers. A cutoff matters for
//! one access token lifetime (`ROOKERY_ACCESS_TOKEN_TTL`): every token it
//! refuses has expired by then.
//!
//! While Redis is down, an instance still refuses every token it knows
//! revoked (all revocations made before the outage that it read, and its
//! own); revocations made on other instances meanwhile reach it when Redis
//! is back.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use crate::model::{TenantId, UserId};
use crate::shared::Redis;

/// The revocations this instance knows.
#[derive(Debug)]
pub(crate) struct Revocations {
    /// Seconds a cutoff matters: the access token lifetime.
    keep: i64,
    /// Whether any cutoff is kept (requests skip the lock when not).
    any: AtomicBool,
    cutoffs: RwLock<HashMap<(TenantId, UserId), i64>>,
    /// The shared generation read last (0: none).
    generation: AtomicU64,
    /// One read of the shared set at a time.
    reading: tokio::sync::Mutex<()>,
}

impl Revocations {
    /// None yet; cutoffs matter for `keep` seconds.
    pub(crate) fn new(keep: i64) -> Self {
        Self {
            keep,
            any: AtomicBool::new(false),
            cutoffs: RwLock::default(),
            generation: AtomicU64::new(0),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// Seconds a cutoff matters.
    pub(crate) fn keep(&self) -> i64 {
        self.keep
    }

    /// Refuses `user`'s tokens for `tenant` issued at or before `cutoff`
    /// (unix milliseconds; a later cutoff wins). Drops cutoffs that no
    /// longer matter.
    pub(crate) fn insert(&self, tenant: TenantId, user: UserId, cutoff: i64) {
        let oldest = chrono::Utc::now().timestamp_millis() - self.keep * 1000;
        let mut cutoffs = self.cutoffs.write().unwrap_or_else(|e| e.into_inner());
        cutoffs.retain(|_, at| *at >= oldest);
        if cutoff >= oldest {
            let at = cutoffs.entry((tenant, user)).or_insert(cutoff);
            *at = (*at).max(cutoff);
        }
        self.any.store(!cutoffs.is_empty(), Relaxed);
    }

    /// Whether a token of `user` for `tenant` issued at `iat` (unix
    /// milliseconds) is refused.
    pub(crate) fn refuses(&self, tenant: TenantId, user: UserId, iat: i64) -> bool {
        self.any.load(Relaxed)
            && self
                .cutoffs
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&(tenant, user))
                .is_some_and(|cutoff| iat <= *cutoff)
    }

    /// The shared generation these include.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// Reads the shared set when its generation is not `seen` yet (one
    /// request reads, the others wait for it). When Redis fails, the
    /// generation stays and a later request reads again.
    pub(crate) async fn read(&self, redis: &Redis, seen: u64) {
        let _turn = self.reading.lock().await;
        if self.generation() == seen {
            return;
        }
        let Ok((generation, revocations)) = redis.revocations().await else {
            return;
        };
        for r in revocations {
            self.insert(r.tenant, r.user, r.cutoff);
        }
        self.generation.store(generation, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_tokens_issued_until_the_cutoff_of_that_member_only() {
        let revocations = Revocations::new(900);
        let (tenant, user) = (TenantId::new_v7(), UserId::new_v7());
        let now = chrono::Utc::now().timestamp_millis();
        assert!(!revocations.refuses(tenant, user, now));
        revocations.insert(tenant, user, now);
        assert!(revocations.refuses(tenant, user, now));
        assert!(revocations.refuses(tenant, user, now - 10));
        assert!(!revocations.refuses(tenant, user, now + 1), "issued after the cutoff");
        assert!(!revocations.refuses(tenant, UserId::new_v7(), now), "another member");
        assert!(
            !revocations.refuses(TenantId::new_v7(), user, now),
            "the same user elsewhere"
        );
        revocations.insert(tenant, user, now - 100);
        assert!(revocations.refuses(tenant, user, now), "the later cutoff wins");
    }

    #[test]
    fn cutoffs_older_than_a_token_lifetime_are_dropped() {
        let revocations = Revocations::new(60);
        let (tenant, user) = (TenantId::new_v7(), UserId::new_v7());
        let now = chrono::Utc::now().timestamp_millis();
        revocations.insert(tenant, user, now - 61_000);
        assert!(!revocations.refuses(tenant, user, now - 70_000));
        assert!(!revocations.any.load(Relaxed));
    }
}
