//! Changes every instance must hear of at once: a tenant's facts (its plan
//! or slug), and a member's removal or new role.
//!
//! [`Verifier::invalidate`] applies a change in this process and, with
//! Redis, tells the others through it: a new version of the tenant's facts,
//! or a revocation in the shared set (`revoked`). Each instance reads both
//! in the one Redis call of every request (`admit`), so the next request
//! anywhere sees the change; nothing waits for a message. When Redis is
//! down the change is kept and sent when it is back (`shared`); meanwhile
//! other instances keep tenant facts 5 seconds and do not know of the
//! revocation.
//!
//! API keys need none of this: every request reads its key's row.
//!
//! Call it after the change committed: an instance that reads the old
//! facts before the commit must see a new version after it.

// Public under the `testing` feature (the runtime's own tests invalidate),
// crate-internal otherwise.
#![allow(unreachable_pub)]

use super::Verifier;
use crate::model::{TenantId, UserId};

/// A change other instances must hear of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalidation {
    /// The tenant's facts (slug, plan) changed.
    Tenant(TenantId),
    /// The member was removed from the tenant, or their role changed: their
    /// access tokens issued until now are refused (they refresh, which
    /// reads the membership, or sign in again).
    Member {
        /// The tenant.
        tenant: TenantId,
        /// The member.
        user: UserId,
    },
}

impl Verifier<'_> {
    /// Applies `change` here and tells every other instance.
    pub(crate) async fn invalidate(&self, change: Invalidation) {
        match change {
            Invalidation::Tenant(tenant) => {
                self.tenants.forget(tenant);
                if let Some(redis) = self.redis {
                    redis.bump_facts(tenant).await;
                }
            }
            Invalidation::Member { tenant, user } => {
                let cutoff = chrono::Utc::now().timestamp_millis();
                self.revocations.insert(tenant, user, cutoff);
                self.keys.forget(tenant, user);
                if let Some(redis) = self.redis {
                    redis.revoke(tenant, user, cutoff, self.revocations.keep()).await;
                }
            }
        }
    }
}
