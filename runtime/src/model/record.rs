//! The stored row of a model.

use std::ops::Deref;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Id, TenantId, TenantModel};

/// A stored row: the implicit columns around the model's own fields.
///
/// ```no_run
/// # #[derive(Debug, Clone, rookery::TenantModel)]
/// # #[rookery(id = "bigint", permissions(read = "notes.read", write = "notes.write"))]
/// # pub struct Note { pub body: String }
/// # async fn f(db: &rookery::Db, tenant: rookery::TenantId, id: NoteId) -> Result<(), rookery::RepoError> {
/// let mut tx = db.begin(tenant).await?;
/// if let Some(note) = tx.repo::<Note>().get(id).await? {
///     println!("{} written {}: {}", note.id, note.created_at, note.data.body);
/// }
/// tx.finish_read();
/// # Ok(()) }
/// ```
///
/// Serialises as one flat JSON object: `id`, `tenant_id`, `created_at`,
/// `updated_at`, then the model's fields.
#[derive(Debug, Clone, Serialize)]
#[serde(bound = "")]
pub struct Record<M: TenantModel> {
    /// Row id.
    pub id: Id<M>,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// When the row was created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// When the row was last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// The model's own fields.
    #[serde(flatten)]
    pub data: M,
}

impl<M: TenantModel> Deref for Record<M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.data
    }
}

/// Serialises an instant exactly as chrono does (RFC 3339, `Z`, fraction
/// in 0, 3, 6 or 9 digits), without going through `core::fmt`: every row
/// of every list carries two, and chrono's formatter cost more than the
/// rest of the row's serialisation. Years outside 0–9999 and leap seconds
/// are left to chrono.
pub(super) fn rfc3339<S: serde::Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    use chrono::{Datelike as _, Timelike as _};
    let nanos = at.nanosecond();
    if !(0..=9999).contains(&at.year()) || nanos >= 1_000_000_000 {
        return at.serialize(serializer);
    }
    let mut buf = [0u8; 30];
    let mut len = 0;
    let mut put = |value: u32, digits: u32, sep: Option<u8>| {
        for i in (0..digits).rev() {
            buf[len] = b'0' + u8::try_from(value / 10u32.pow(i) % 10).unwrap_or(0);
            len += 1;
        }
        if let Some(sep) = sep {
            buf[len] = sep;
            len += 1;
        }
    };
    put(at.year().unsigned_abs(), 4, Some(b'-'));
    put(at.month(), 2, Some(b'-'));
    put(at.day(), 2, Some(b'T'));
    put(at.hour(), 2, Some(b':'));
    put(at.minute(), 2, Some(b':'));
    match nanos {
        0 => put(at.second(), 2, Some(b'Z')),
        n if n % 1_000_000 == 0 => {
            put(at.second(), 2, Some(b'.'));
            put(n / 1_000_000, 3, Some(b'Z'));
        }
        n if n % 1_000 == 0 => {
            put(at.second(), 2, Some(b'.'));
            put(n / 1_000, 6, Some(b'Z'));
        }
        n => {
            put(at.second(), 2, Some(b'.'));
            put(n, 9, Some(b'Z'));
        }
    }
    // Only ASCII digits and separators were written.
    serializer.serialize_str(std::str::from_utf8(&buf[..len]).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone as _, Utc};

    fn fast(at: DateTime<Utc>) -> String {
        super::rfc3339(&at, serde_json::value::Serializer)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn timestamps_serialise_exactly_as_chrono_does() {
        let base = Utc.with_ymd_and_hms(2026, 11, 26, 15, 53, 53).unwrap();
        let mut cases = vec![
            base,
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-5, 3, 1, 0, 0, 0).unwrap(),
            Utc.timestamp_opt(1_483_228_799, 1_500_000_000).unwrap(),
        ];
        for nanos in [
            1,
            999,
            1_000,
            120_000,
            1_000_000,
            7_000_000,
            123_456_789,
            999_999_999,
            500_000_000,
        ] {
            cases.push(base + chrono::Duration::nanoseconds(nanos));
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = i64::try_from(x % 253_402_300_799).unwrap();
            let nanos = u32::try_from((x >> 20) % 1_000_000_000).unwrap();
            let nanos = [nanos, nanos / 1000 * 1000, nanos / 1_000_000 * 1_000_000, 0][usize::try_from(x % 4).unwrap()];
            cases.push(Utc.timestamp_opt(secs, nanos).unwrap());
        }
        for at in cases {
            assert_eq!(fast(at), serde_json::to_value(at).unwrap().as_str().unwrap(), "{at:?}");
        }
    }
}
