//! The in-process count of API requests and active members, per tenant,
//! UTC day and member, and its flush into the usage tables.
//!
//! A request costs one lock of one of [`SHARDS`] small maps (picked by the
//! tenant and member, so one busy tenant's members spread over them) and
//! one map update: no database write, no allocation once its tenant and
//! member have an entry since the last flush, nothing that names the
//! tenant outside this process's memory.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::NaiveDate;

use crate::db::{Db, DbError};
use crate::model::{TenantId, UserId};

/// How many maps the counts are spread over.
const SHARDS: usize = 16;

/// What one count is of: a tenant's requests on a day (days since the
/// Unix epoch, UTC) by a member (`None`: API keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) tenant: TenantId,
    pub(crate) day: u32,
    pub(crate) user: Option<UserId>,
}

impl Key {
    /// The ids' random bits (the low 62 bits of a v7 or v4 UUID), mixed
    /// with the day: the server made every id, so no client can choose
    /// keys that collide.
    fn bits(&self) -> u64 {
        let low = |id: uuid::Uuid| id.as_u64_pair().1;
        low(self.tenant.0) ^ self.user.map_or(0, |u| low(u.0).rotate_left(29)) ^ u64::from(self.day)
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.bits());
    }
}

/// The hasher of [`Key`]s: [`Key::bits`] (already random) times an odd
/// constant, which spreads them into the top bits the map's tags use;
/// not SipHash over 40 bytes on every request.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(5) ^ n;
    }
}

type Counts = HashMap<Key, u64, std::hash::BuildHasherDefault<KeyHasher>>;

/// One shard, on a cache line of its own so shards locked on different
/// cores do not share one.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(Mutex<Counts>);

/// Requests and active members counted since the last flush.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    shards: [Shard; SHARDS],
}

/// Today, as days since the Unix epoch (UTC).
fn today() -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    u32::try_from(secs / 86_400).unwrap_or(u32::MAX)
}

/// Day `day` since the Unix epoch as a date.
pub(crate) fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_days(chrono::Days::new(u64::from(day))))
        .unwrap_or(NaiveDate::MAX)
}

impl Tally {
    /// Counts one request of `tenant` by `user` (`None`: an API key), today.
    pub(crate) fn count(&self, tenant: TenantId, user: Option<UserId>) {
        self.add(
            Key {
                tenant,
                day: today(),
                user,
            },
            1,
        );
    }

    fn add(&self, key: Key, n: u64) {
        // Bits the map's buckets do not use pick the shard.
        let shard = &self.shards[(key.bits() >> 32) as usize % SHARDS];
        let mut map = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = map.entry(key).or_insert(0);
        *count = count.saturating_add(n);
    }

    /// Everything counted so far, sorted; the tally is empty after.
    fn take(&self) -> Vec<(Key, u64)> {
        let mut taken = Vec::new();
        for shard in &self.shards {
            let map = std::mem::take(&mut *shard.0.lock().unwrap_or_else(PoisonError::into_inner));
            taken.extend(map);
        }
        taken.sort_unstable();
        taken
    }

    /// Counts `entries` again (a flush that could not write them).
    fn restore(&self, entries: &[(Key, u64)]) {
        for &(key, n) in entries {
            self.add(key, n);
        }
    }

    /// Writes the counts into the usage tables, adding to what is there:
    /// one writing transaction per tenant, one statement per day for its
    /// requests and one for its members. A tenant's counts that could not
    /// be written stay counted for the next flush (the error is logged and
    /// the last one returned); when the database cannot be reached at all,
    /// the flush stops at the first tenant and keeps everything. Counts of
    /// a tenant deleted meanwhile are dropped.
    pub(crate) async fn flush(&self, db: &Db) -> Result<(), DbError> {
        let taken = self.take();
        let mut tenants = taken.chunk_by(|a, b| a.0.tenant == b.0.tenant);
        let mut refused = None;
        while let Some(entries) = tenants.next() {
            let tenant = entries[0].0.tenant;
            let Err(e) = write(db, tenant, entries).await else {
                continue;
            };
            match Failure::of(&e) {
                Failure::TenantGone => tracing::debug!(%tenant, "usage of a deleted tenant dropped"),
                Failure::Refused => {
                    tracing::warn!(%tenant, error = %e, "usage counts not written; kept for the next flush");
                    self.restore(entries);
                    refused = Some(e);
                }
                Failure::Unreachable => {
                    self.restore(entries);
                    let mut kept = 1;
                    for rest in tenants {
                        self.restore(rest);
                        kept += 1;
                    }
                    tracing::warn!(tenants = kept, error = %e, "usage counts not written; kept for the next flush");
                    return Err(e);
                }
            }
        }
        refused.map_or(Ok(()), Err)
    }
}

/// Why a tenant's counts were not written.
enum Failure {
    /// Its row in `tenants` is gone (a foreign key refused the counts).
    TenantGone,
    /// The database refused a statement: the connection works, the next
    /// tenant may be written.
    Refused,
    /// No connection, or it broke: the next tenant would fail the same way.
    Unreachable,
}

impl Failure {
    fn of(e: &DbError) -> Self {
        match e {
            DbError::Sqlx(sqlx::Error::Database(db)) if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation => {
                Self::TenantGone
            }
            DbError::Sqlx(sqlx::Error::Database(_)) => Self::Refused,
            _ => Self::Unreachable,
        }
    }
}

/// One tenant's counts, sorted by day then member, in its transaction.
async fn write(db: &Db, tenant: TenantId, entries: &[(Key, u64)]) -> Result<(), DbError> {
    let mut tx = db.begin_write(tenant).await?;
    for day in entries.chunk_by(|a, b| a.0.day == b.0.day) {
        let requests = day.iter().map(|(_, n)| n).sum();
        let members: Vec<UserId> = day.iter().filter_map(|(key, _)| key.user).collect();
        tx.add_usage(date(day[0].0.day), requests, &members).await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::{Tally, date};
    use crate::model::{TenantId, UserId};

    #[test]
    fn counts_add_up_per_tenant_day_and_member() {
        let tally = Tally::default();
        let (a, b) = (TenantId::new_v7(), TenantId::new_v7());
        let (ann, bob) = (UserId::new_v7(), UserId::new_v7());
        for _ in 0..3 {
            tally.count(a, Some(ann));
        }
        tally.count(a, Some(bob));
        tally.count(a, None);
        tally.count(b, Some(ann));
        let taken = tally.take();
        let of = |t: TenantId| -> Vec<(Option<UserId>, u64)> {
            taken
                .iter()
                .filter(|(k, _)| k.tenant == t)
                .map(|(k, n)| (k.user, *n))
                .collect()
        };
        let mut a_counts = of(a);
        a_counts.sort();
        let mut expected = vec![(None, 1), (Some(ann), 3), (Some(bob), 1)];
        expected.sort();
        assert_eq!(a_counts, expected);
        assert_eq!(of(b), vec![(Some(ann), 1)]);
        assert!(tally.take().is_empty(), "a take empties the tally");
        // What a failed flush puts back is counted with what came since.
        tally.restore(&taken);
        tally.count(b, Some(ann));
        assert_eq!(
            tally
                .take()
                .iter()
                .filter(|(k, _)| k.tenant == b)
                .map(|(_, n)| n)
                .sum::<u64>(),
            2
        );
    }

    #[test]
    fn one_tenants_members_spread_over_every_shard() {
        let tally = Tally::default();
        let tenant = TenantId::new_v7();
        for _ in 0..1000 {
            tally.count(tenant, Some(UserId::new_v7()));
        }
        let used = tally.shards.iter().filter(|s| !s.0.lock().unwrap().is_empty()).count();
        assert_eq!(used, super::SHARDS);
        assert_eq!(tally.take().len(), 1000);
    }

    #[test]
    fn days_are_utc_dates_from_the_epoch() {
        assert_eq!(date(0).to_string(), "1970-01-01");
        assert_eq!(date(19_723).to_string(), "2024-01-01");
        let before = chrono::Utc::now().date_naive();
        let today = date(super::today());
        let after = chrono::Utc::now().date_naive();
        assert!(today == before || today == after, "{today}");
    }
}
