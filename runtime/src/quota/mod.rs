//! Rate quotas: a plan's `api_calls = "1000/month"` (also `/hour`, `/day`),
//! counted per tenant in UTC calendar windows and enforced on every API
//! request the authentication middleware admits (`GET /usage` excepted,
//! so a tenant at its limit can still see when it resets).
//!
//! **Durable, and never over the limit.** The count of a (tenant, quota,
//! window) is a row of `rookery_quota_windows` (`db/quota.rs`). A process
//! does not write it on every request: it *reserves* a block of calls with
//! one conditional increment (`used + n <= limit`, committed on its own)
//! and spends the block in memory, one lock of one of [`SHARDS`] maps per
//! request. Blocks follow the tenant's rate (doubled when the last one
//! lasted under a second, halved when it lasted longer, so a busy tenant
//! costs a process about one reservation a second) and shrink as the
//! window fills (never more than a 32nd of what is left, nor
//! [`MAX_BLOCK`]), down to one call, which is exact; a reservation
//! that would pass the limit changes nothing and is retried for one call,
//! and when even that is refused the window is full: the process refuses
//! the tenant's calls (429) from memory until the window ends or the plan's
//! limit changes. Since every call spent was first reserved in the row,
//! the calls served across every process sharing the database never pass
//! the limit, whatever the concurrency. The price is the other way: calls
//! reserved and not spent count as used. [`Quotas::release`] gives them
//! back (`serve` does when it stops gracefully); a process that dies
//! keeps them counted, at most one block per quota and tenant it served
//! (about a second or two of that tenant's calls to it, and never more
//! than a 32nd of what was left),
//! and while several processes serve one tenant, one may refuse while
//! another still holds a few calls of its block.
//!
//! **No tenant-wide lock on the request path.** A request that finds calls
//! in its process's block takes nothing but the shard lock. Only a refill
//! takes the (tenant, quota)'s async lock, so that concurrent requests of
//! one process wait for one reservation instead of each making one.
//!
//! Keys carry the tenant explicitly; every statement is the tenant's own
//! (`$1`, row-level security on PostgreSQL).

mod window;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

pub(crate) use window::Window;

use crate::app_spec::{Period, PlanDef, QuotaLimit};
use crate::db::{Db, DbError};
use crate::model::TenantId;

/// How many maps the leases are spread over.
const SHARDS: usize = 16;

/// The largest block one reservation takes.
pub(crate) const MAX_BLOCK: u64 = 1 << 16;

/// A refill sooner than this after the last one doubles the block; a later
/// one halves it: blocks follow the tenant's rate, about one reservation
/// a second per busy tenant and process.
const REFILL_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The calls to reserve next: double the `last` block when it lasted less
/// than [`REFILL_EVERY`] (`quick`), else half of it, and never more than a
/// 32nd of what was left when `seen` of `limit` were reserved (by every
/// process) at the last look, nor [`MAX_BLOCK`]; at least 1.
fn block(last: u64, quick: bool, limit: u64, seen: u64) -> u64 {
    let wanted = if quick { last.saturating_mul(2) } else { last / 2 };
    wanted.min(limit.saturating_sub(seen) / 32).clamp(1, MAX_BLOCK)
}

/// A rate quota's state after one call: what the refusal and `GET /usage`
/// report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QuotaState {
    /// The quota's name.
    pub quota: &'static str,
    /// Calls allowed per window.
    pub limit: u64,
    /// The window's period.
    pub period: Period,
    /// The window.
    pub window: Window,
}

/// One (tenant, quota)'s reservation in this process.
#[derive(Debug)]
struct Lease {
    /// The window it is of.
    window: DateTime<Utc>,
    /// The limit it was reserved under.
    limit: u64,
    /// Calls reserved and not spent yet.
    left: u64,
    /// The window's count (every process's reservations) at the last
    /// reservation.
    seen: u64,
    /// The last reservation found the window full.
    exhausted: bool,
    /// The last reservation's size and when it was made.
    last_block: u64,
    refilled_at: Option<std::time::Instant>,
    /// Held while a reservation is made.
    refill: Arc<tokio::sync::Mutex<()>>,
}

impl Lease {
    fn new(window: DateTime<Utc>, limit: u64) -> Self {
        Self {
            window,
            limit,
            left: 0,
            seen: 0,
            exhausted: false,
            last_block: 0,
            refilled_at: None,
            refill: Arc::default(),
        }
    }

    /// Brings the lease to `window` and `limit`: a new window starts empty;
    /// a higher limit lifts a refusal; a lower one drops the unspent calls
    /// (they stay counted), so the new limit applies at once.
    fn update(&mut self, window: DateTime<Utc>, limit: u64) {
        if self.window != window {
            self.window = window;
            self.left = 0;
            self.seen = 0;
            self.exhausted = false;
        }
        if limit > self.limit {
            self.exhausted = false;
        } else if limit < self.limit {
            self.left = 0;
        }
        self.limit = limit;
    }

    /// Spends one call of the block, if there is one.
    fn spend(&mut self) -> bool {
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        true
    }
}

type Key = (TenantId, &'static str);

#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(Mutex<HashMap<Key, Lease>>);

/// What one call's check came to.
enum Step {
    /// Spent from the block.
    Spent,
    /// The window is full.
    Full,
    /// The block is empty: reserve, under this lock.
    Refill(Arc<tokio::sync::Mutex<()>>),
}

/// What [`Quotas::admit_now`] decided.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Every rate quota allowed the call (or the plan has none).
    Spent,
    /// This quota is used up for its window.
    Full(QuotaState),
    /// The block of the quota at this index is empty: reserve.
    Refill(usize),
}

/// This process's reservations of rate quotas, per tenant and quota.
#[derive(Debug, Default)]
pub(crate) struct Quotas {
    shards: [Shard; SHARDS],
    /// Seconds added to the clock (the runtime's tests move windows).
    #[cfg(feature = "testing")]
    shift: std::sync::atomic::AtomicI64,
}

/// The rate quotas of `plan`: `(name, limit, period)`.
pub(crate) fn rate_quotas(plan: &PlanDef) -> impl Iterator<Item = (&'static str, u64, Period)> + '_ {
    plan.quotas.iter().filter_map(|q| match q.limit {
        QuotaLimit::PerPeriod(limit, period) => Some((q.name, limit, period)),
        QuotaLimit::Count(_) => None,
    })
}

impl Quotas {
    /// The clock windows are read from.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        #[cfg(feature = "testing")]
        let now = now + chrono::TimeDelta::seconds(self.shift.load(std::sync::atomic::Ordering::Relaxed));
        now
    }

    /// Moves the clock by `seconds` (tests only).
    #[cfg(feature = "testing")]
    pub(crate) fn shift(&self, seconds: i64) {
        self.shift.fetch_add(seconds, std::sync::atomic::Ordering::Relaxed);
    }

    fn shard(&self, key: &Key) -> &Mutex<HashMap<Key, Lease>> {
        let bits = key.0.0.as_u64_pair().1 as usize;
        &self.shards[bits % SHARDS].0
    }

    fn step(&self, key: Key, window: DateTime<Utc>, limit: u64) -> Step {
        let mut leases = self.shard(&key).lock().unwrap_or_else(PoisonError::into_inner);
        if leases.len() >= 100_000 {
            // Leases of windows that ended hold nothing to spend.
            let now = self.now();
            leases.retain(|_, l| l.left > 0 && l.window > now - chrono::TimeDelta::days(32));
        }
        let lease = leases.entry(key).or_insert_with(|| Lease::new(window, limit));
        lease.update(window, limit);
        if lease.spend() {
            Step::Spent
        } else if lease.exhausted || limit == 0 {
            Step::Full
        } else {
            Step::Refill(lease.refill.clone())
        }
    }

    /// Counts one call of `tenant` against every rate quota of `plan` from
    /// this process's blocks, with no await: `Spent` when every one
    /// allowed it, `Full` with the quota it passes, or `Refill` with the
    /// index of the first quota whose block is empty (hand that to
    /// [`Quotas::admit_from`]).
    pub(crate) fn admit_now(&self, tenant: TenantId, plan: &PlanDef, now: DateTime<Utc>) -> Admission {
        for (index, (quota, limit, period)) in rate_quotas(plan).enumerate() {
            let window = Window::of(period, now);
            match self.step((tenant, quota), window.start, limit) {
                Step::Spent => {}
                Step::Full => {
                    return Admission::Full(QuotaState {
                        quota,
                        limit,
                        period,
                        window,
                    });
                }
                Step::Refill(_) => return Admission::Refill(index),
            }
        }
        Admission::Spent
    }

    /// Counts one call of `tenant` against the rate quotas of `plan` from
    /// the `from`th on, reserving blocks where this process has none:
    /// `None` when every one allows it, else the quota it passes (the call
    /// is then refused; what it counted against the quotas before that one
    /// stays counted).
    pub(crate) async fn admit_from(
        &self,
        db: &Db,
        tenant: TenantId,
        plan: &PlanDef,
        now: DateTime<Utc>,
        from: usize,
    ) -> Result<Option<QuotaState>, DbError> {
        for (quota, limit, period) in rate_quotas(plan).skip(from) {
            let window = Window::of(period, now);
            if !self.spend(db, (tenant, quota), window.start, limit).await? {
                return Ok(Some(QuotaState {
                    quota,
                    limit,
                    period,
                    window,
                }));
            }
        }
        Ok(None)
    }

    /// Spends one call of `key`'s quota in `window`, reserving a block
    /// first when this process has none: whether the call is allowed.
    async fn spend(&self, db: &Db, key: Key, window: DateTime<Utc>, limit: u64) -> Result<bool, DbError> {
        let refill = match self.step(key, window, limit) {
            Step::Spent => return Ok(true),
            Step::Full => return Ok(false),
            Step::Refill(refill) => refill,
        };
        let _refilling = refill.lock().await;
        // Another request may have refilled while this one waited.
        let sized = match self.step(key, window, limit) {
            Step::Spent => return Ok(true),
            Step::Full => return Ok(false),
            Step::Refill(_) => self.with_lease(key, |l| {
                let quick = l.refilled_at.is_some_and(|at| at.elapsed() < REFILL_EVERY);
                block(l.last_block, quick, limit, l.seen)
            }),
        };
        let mut calls = sized.unwrap_or(1).min(limit);
        loop {
            let reserved = db.reserve_quota(key.0, key.1, window, calls, limit).await?;
            match reserved {
                Some(used) => {
                    self.with_lease(key, |l| {
                        // The window may have ended meanwhile: the calls
                        // stay counted in the one they were reserved in.
                        if l.window == window && l.limit == limit {
                            l.seen = used;
                            l.left += calls - 1;
                            l.last_block = calls;
                            l.refilled_at = Some(std::time::Instant::now());
                        }
                    });
                    return Ok(true);
                }
                None if calls > 1 => calls = 1,
                None => {
                    self.with_lease(key, |l| {
                        if l.window == window && l.limit == limit {
                            l.seen = limit;
                            l.exhausted = true;
                        }
                    });
                    return Ok(false);
                }
            }
        }
    }

    fn with_lease<T>(&self, key: Key, f: impl FnOnce(&mut Lease) -> T) -> Option<T> {
        let mut leases = self.shard(&key).lock().unwrap_or_else(PoisonError::into_inner);
        leases.get_mut(&key).map(f)
    }

    /// Calls this process reserved in `tenant`'s window of `quota` starting
    /// at `window` and has not spent (they are in the row's count).
    pub(crate) fn unspent(&self, tenant: TenantId, quota: &'static str, window: DateTime<Utc>) -> u64 {
        self.with_lease((tenant, quota), |l| if l.window == window { l.left } else { 0 })
            .unwrap_or(0)
    }

    /// Gives every reserved and unspent call back to its window's count,
    /// so a restart loses none: what `serve` does once it stopped serving.
    /// The last error is returned; the calls it could not give back stay
    /// counted.
    pub(crate) async fn release(&self, db: &Db) -> Result<(), DbError> {
        let mut unspent = Vec::new();
        for shard in &self.shards {
            let mut leases = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
            for (key, lease) in leases.iter_mut() {
                if lease.left > 0 {
                    unspent.push((*key, lease.window, lease.left));
                    lease.left = 0;
                }
            }
        }
        let mut outcome = Ok(());
        for ((tenant, quota), window, calls) in unspent {
            if let Err(err) = db.release_quota(tenant, quota, window, calls).await {
                tracing::warn!(error = %err, %tenant, quota, calls, "unspent quota calls not given back");
                outcome = Err(err);
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_follow_the_rate_and_shrink_to_one_near_the_limit() {
        // The first block is one call; quick refills double it.
        assert_eq!(block(0, false, 1_000_000, 0), 1);
        assert_eq!(block(1, true, 1_000_000, 0), 2);
        assert_eq!(block(4096, true, 1_000_000, 0), 8192);
        assert_eq!(block(MAX_BLOCK, true, u64::MAX, 0), MAX_BLOCK);
        // A slow one halves it.
        assert_eq!(block(4096, false, 1_000_000, 0), 2048);
        // Never more than a 32nd of what is left.
        assert_eq!(block(4096, true, 1000, 0), 31);
        assert_eq!(block(64, true, 1000, 990), 1);
        assert_eq!(block(1, true, 5, 0), 1);
        assert_eq!(block(1, true, 5, 5), 1);
    }

    #[test]
    fn a_lease_follows_its_window_and_limit() {
        let (w1, w2) = (Utc::now(), Utc::now() + chrono::TimeDelta::hours(1));
        let mut lease = Lease::new(w1, 10);
        lease.left = 3;
        lease.exhausted = true;
        lease.update(w1, 10);
        assert!(lease.spend());
        assert_eq!(lease.left, 2);
        lease.update(w1, 20);
        assert!(!lease.exhausted, "a higher limit lifts the refusal");
        assert_eq!(lease.left, 2);
        lease.update(w1, 5);
        assert_eq!(lease.left, 0, "a lower limit applies at once");
        lease.left = 4;
        lease.exhausted = true;
        lease.update(w2, 5);
        assert_eq!((lease.left, lease.seen, lease.exhausted), (0, 0, false));
    }
}
