//! Without the `redis` feature: a handle that cannot exist, so every
//! caller's `Option<Redis>` is `None` and the in-process answers apply.
//! (`Config::from_env` refuses `REDIS_URL` in such a build.)

#[cfg(feature = "testing")]
use super::Stats;
use super::{Checked, Count, Counter, Revocations, Unavailable};
use crate::model::{TenantId, UserId};

/// No Redis in this build.
#[derive(Debug, Clone)]
pub(crate) enum Redis {}

/// Why no handle can be made.
#[derive(Debug, thiserror::Error)]
#[error("this build has no Redis support: enable rookery's `redis` feature")]
pub(crate) struct NotBuilt;

#[allow(clippy::unused_async)]
impl Redis {
    pub(crate) fn new(_url: &str, _prefix: &str) -> Result<Self, NotBuilt> {
        Err(NotBuilt)
    }
    #[cfg(feature = "testing")]
    pub(crate) fn stats(&self) -> Stats {
        match *self {}
    }
    pub(crate) fn is_down(&self) -> bool {
        match *self {}
    }
    pub(crate) async fn count(&self, _: Counter<'_>, _: u64, _: i8) -> Result<Count, Unavailable> {
        match *self {}
    }
    pub(crate) async fn check(&self, _: TenantId, _: u64) -> Result<Checked, Unavailable> {
        match *self {}
    }
    pub(crate) async fn facts_version(&self, _: TenantId) -> Result<u64, Unavailable> {
        match *self {}
    }
    pub(crate) async fn revocations(&self) -> Result<Revocations, Unavailable> {
        match *self {}
    }
    pub(crate) async fn bump_facts(&self, _: TenantId) {
        match *self {}
    }
    pub(crate) async fn revoke(&self, _: TenantId, _: UserId, _: i64, _: i64) {
        match *self {}
    }
    pub(crate) async fn reconnect(&self) -> bool {
        match *self {}
    }
}
