//! After authentication, what may have changed elsewhere: whether the
//! access token was revoked, whether the tenant's facts are still current,
//! and the tenant's rate limit.
//!
//! Without Redis this is all in process. With Redis it is one script per
//! request (`shared`): it counts the request in the window every instance
//! shares and reads, in the same step, the version of the tenant's facts
//! and the generation of the revocations. A different version reloads the
//! facts; a new generation reads the revocations; both before the request
//! is answered, so a change made on one instance holds on the next request
//! to any other. When Redis is unavailable the request is counted in this
//! process's window (fail open: a tenant may then get its limit from each
//! instance) and the caches fall back to short lifetimes.

use super::{Actor, AuthError, Principal, Verifier};
use crate::ratelimit::{RateDecision, unix_now};
use crate::shared::Redis;

/// A caller whose credential verified, before [`Verifier::admit`].
#[derive(Debug)]
pub(crate) struct Authenticated {
    /// Who calls.
    pub principal: Principal,
    /// When the access token was issued (unix milliseconds); `None` for an
    /// API key, which is read from the database on every request.
    pub issued_at: Option<i64>,
    /// The shared version the tenant's facts were read at.
    pub version: Option<u64>,
    /// An API key's last use, as its row said (`None` for a token).
    pub last_use: Option<super::api_key::LastUse>,
    /// An API key's creator's role (its key), which caps the key's: checked
    /// again when the tenant's facts (its custom roles) are reloaded.
    pub creator_role: Option<String>,
}

/// A caller let in, and the rate-limit decision to report (or refuse with).
#[derive(Debug)]
pub(crate) struct Admitted {
    /// Who calls, with current tenant facts.
    pub principal: Principal,
    /// The tenant's rate limit after this request, when it has one.
    pub decision: Option<RateDecision>,
    /// An API key's last use, as its row said (`None` for a token): the
    /// HTTP layer records this one when it is stale.
    pub last_use: Option<super::api_key::LastUse>,
}

/// What the revocation check reads of a caller.
fn revoked(verifier: &Verifier<'_>, principal: &Principal, issued_at: Option<i64>) -> bool {
    match (principal.actor, issued_at) {
        (Actor::User(user), Some(iat)) => verifier.revocations.refuses(principal.tenant, user, iat),
        _ => false,
    }
}

const REVOKED: &str = "the token was revoked: refresh it or sign in again";

impl Verifier<'_> {
    /// Requests per window for `principal`'s tenant: `RATE_LIMIT_MAX`, else
    /// its plan's `rate_limit`.
    pub(crate) fn limit(&self, principal: &Principal) -> Option<(u64, u64)> {
        self.config.rate_limit_override.or_else(|| {
            principal
                .info
                .plan
                .rate_limit
                .map(|r| (u64::from(r.requests), r.period.seconds()))
        })
    }

    /// Refuses a revoked token (401), brings the tenant's facts up to date
    /// and counts the request against the tenant's rate limit (the caller
    /// refuses with 429 when the decision says so).
    pub(crate) async fn admit(&self, authenticated: Authenticated) -> Result<Admitted, AuthError> {
        let Authenticated {
            mut principal,
            issued_at,
            version,
            last_use,
            creator_role,
        } = authenticated;
        // Known here already: refused before it costs the tenant a request.
        if revoked(self, &principal, issued_at) {
            return Err(AuthError::Unauthorized(REVOKED));
        }
        let shared = match self.redis {
            // Boxed: without Redis, the request's future stays as small as it was.
            Some(redis) => Box::pin(self.shared(redis, &mut principal, version)).await?,
            None => None,
        };
        if revoked(self, &principal, issued_at) {
            return Err(AuthError::Unauthorized(REVOKED));
        }
        // An API key's role is capped by its creator's, both as the facts
        // say now (a custom role of either may have changed).
        if let Some(creator) = creator_role {
            let creator = crate::rbac::by_key(self.spec, &principal.info.roles, &creator)
                .ok_or(AuthError::Unauthorized("invalid API key"))?;
            if !crate::rbac::can_grant(&creator, &principal.role) {
                return Err(AuthError::Unauthorized("the key's creator no longer holds its role"));
            }
        }
        let decision = match shared {
            Some(decision) => decision,
            None => self
                .limit(&principal)
                .map(|(max, window)| self.limiter.check(principal.tenant, max, window, unix_now())),
        };
        Ok(Admitted {
            principal,
            decision,
            last_use,
        })
    }

    /// The Redis step: `None` when Redis is unavailable, else the decision
    /// of the shared window (itself `None` when the tenant has no limit).
    async fn shared(
        &self,
        redis: &Redis,
        principal: &mut Principal,
        version: Option<u64>,
    ) -> Result<Option<Option<RateDecision>>, AuthError> {
        let window = self.limit(principal).map_or(0, |(_, window)| window);
        let Ok(checked) = redis.check(principal.tenant, window).await else {
            return Ok(None);
        };
        if checked.revocations != self.revocations.generation() {
            self.revocations.read(redis, checked.revocations).await;
        }
        if version != Some(checked.facts) {
            let known = self
                .tenants
                .reload(self.db, self.spec, principal.tenant, Some(checked.facts))
                .await?
                .ok_or(AuthError::TenantMismatch("unknown tenant"))?;
            principal.info = known.info;
            // The facts carry the tenant's custom roles: the caller's may
            // have changed (or gone) with them.
            if principal.role.is_custom() {
                principal.role = crate::rbac::by_key(self.spec, &principal.info.roles, principal.role.key())
                    .ok_or(AuthError::Unauthorized(REVOKED))?;
            }
        }
        // A plan change may change the window; the count was of the old one.
        let decision = self
            .limit(principal)
            .filter(|(_, w)| *w == window)
            .map(|(max, w)| RateDecision::of(checked.count, max, w));
        Ok(Some(decision))
    }
}
