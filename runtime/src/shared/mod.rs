//! State shared by every instance of an app: a Redis client (`REDIS_URL`).
//!
//! Level 1, beside `db`: I/O that knows key layouts and scripts but not
//! what the numbers mean (the levels above decide that). Every call is
//! one atomic Lua script or command, one round trip.
//!
//! **Keys** start with the app's prefix (`ROOKERY_REDIS_PREFIX`, default
//! the app's name); per-tenant keys carry the tenant id explicitly
//! (tenancy invariant 6):
//!
//! | key | type | what |
//! | --- | --- | --- |
//! | `<prefix>:rl:api:<tenant>` | hash `n`, `c` | the tenant's API requests in window number `n` |
//! | `<prefix>:rl:sign-in:<address>` | hash | sign-in requests of a client address |
//! | `<prefix>:rl:account:<sha256 hex>` | hash | failed password checks of an account |
//! | `<prefix>:facts:<tenant>` | string | version of the tenant's facts (slug, plan) |
//! | `<prefix>:revoked` | sorted set | `<tenant>:<user>` scored by the cutoff (unix ms): tokens issued until then are refused |
//! | `<prefix>:revoked:generation` | string | changes whenever the set does |
//!
//! **Unavailable:** a call that fails marks Redis down and answers
//! [`Unavailable`] at once; while down, calls answer [`Unavailable`]
//! without trying, the caller falls back to its in-process answer, and a
//! background probe reconnects at most once a second. One log line when
//! Redis goes down, one when it is back; [`Stats`] counts the rest.
//! Writes that must reach the other instances (invalidations) are kept,
//! at most 1024, and sent when Redis is back.

#[cfg(feature = "redis")]
mod client;
#[cfg(feature = "redis")]
mod keys;
#[cfg(feature = "redis")]
mod script;
#[cfg(feature = "redis")]
pub(crate) use client::Redis;

#[cfg(not(feature = "redis"))]
mod off;
#[cfg(not(feature = "redis"))]
pub(crate) use off::Redis;

use std::net::IpAddr;

use crate::model::TenantId;

/// Redis could not answer; the caller uses its in-process fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unavailable;

/// What a counter counts.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(
    not(feature = "redis"),
    allow(dead_code, reason = "only Redis reads counters' names")
)]
pub(crate) enum Counter<'a> {
    /// A tenant's API requests.
    Api(TenantId),
    /// Sign-in requests of a client address.
    SignIn(IpAddr),
    /// Failed password checks of an account (SHA-256 of its email).
    Account(&'a [u8; 32]),
}

/// A counter after one count, in Redis's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Count {
    /// Counted in the current window, this one included.
    pub used: u64,
    /// Seconds until the window ends.
    pub reset: u64,
}

/// One API request's shared state, read in the same script that counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checked {
    /// The tenant's request counter (`used` 0 when nothing was counted).
    pub count: Count,
    /// The version of the tenant's facts (0: never changed).
    pub facts: u64,
    /// The generation of the revocations (0: none yet).
    pub revocations: u64,
}

/// One revocation in the shared set: `user`'s tokens for `tenant` issued
/// up to `cutoff` (unix milliseconds) are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Revocation {
    /// The tenant.
    pub tenant: TenantId,
    /// The member.
    pub user: crate::model::UserId,
    /// The cutoff.
    pub cutoff: i64,
}

/// The shared revocations and the generation they make up.
pub(crate) type Revocations = (u64, Vec<Revocation>);

/// How often Redis failed the runtime, since start-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(
    not(any(feature = "redis", feature = "testing")),
    allow(dead_code, reason = "read by the Redis client and by tests")
)]
pub(crate) struct Stats {
    /// Calls answered by an in-process fallback because Redis failed or was down.
    pub fallbacks: u64,
    /// Times Redis went from reachable to down.
    pub outages: u64,
    /// Whether Redis is down now.
    pub down: bool,
}
