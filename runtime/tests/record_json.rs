//! The CRUD routes write records from their model's def and values, not
//! through the model's `Serialize`: the bytes must be the same as
//! `Record<M>` and `Page<M>` write, for every field type, null and set,
//! and both key kinds.

#![allow(missing_docs)]

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use rookery::repo::Page;
use rookery::repo::testing::{page_json, record_json};
use rookery::{Decimal, Id, ModelEnum, Record, TenantId, TenantModel, UserId};
use serde_json::json;
use uuid::Uuid;

/// A closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ModelEnum)]
pub enum Phase {
    /// First.
    Draft,
    /// Renamed.
    #[rookery(rename = "in-review")]
    InReview,
}

/// The target of the references, keyed by uuid.
#[derive(Debug, Clone, TenantModel)]
#[rookery(id = "uuid", permissions(read = "r", write = "w"))]
pub struct Target {
    /// Name.
    pub name: String,
}

/// Every field type, required and optional.
#[derive(Debug, Clone, TenantModel)]
#[rookery(id = "bigint", permissions(read = "r", write = "w"))]
pub struct Everything {
    pub string: String,
    #[rookery(text)]
    pub text: Option<String>,
    pub int: i32,
    pub int_opt: Option<i32>,
    pub bigint: i64,
    pub bigint_opt: Option<i64>,
    pub decimal: Decimal,
    pub decimal_opt: Option<Decimal>,
    pub flag: bool,
    pub flag_opt: Option<bool>,
    pub date: NaiveDate,
    pub date_opt: Option<NaiveDate>,
    pub at: DateTime<Utc>,
    pub at_opt: Option<DateTime<Utc>>,
    pub uuid: Uuid,
    pub uuid_opt: Option<Uuid>,
    pub doc: rookery::serde_json::Value,
    pub doc_opt: Option<rookery::serde_json::Value>,
    pub phase: Phase,
    pub phase_opt: Option<Phase>,
    pub target: Id<Target>,
    pub target_opt: Option<Id<Target>>,
    pub user: UserId,
    pub user_opt: Option<UserId>,
}

fn instant(secs: i64, nanos: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, nanos).unwrap()
}

fn record<M: TenantModel>(id: M::Key, data: M, created: DateTime<Utc>) -> Record<M> {
    Record {
        id: Id::new(id),
        tenant_id: TenantId(Uuid::from_u128(0x0192_f1a2_7b3c_7d4e_8f90_1234_5678_9abc)),
        created_at: created,
        updated_at: instant(1_767_225_599, 123_456_789),
        data,
    }
}

/// `value` if `set`.
fn given<T>(set: bool, value: T) -> Option<T> {
    set.then_some(value)
}

fn everything(set: bool, n: i64) -> Everything {
    Everything {
        string: format!("quote \" backslash \\ tab \t nul-free ünïcødé 🦀 {n}"),
        text: given(set, "line\nbreak\u{1f}".to_owned()),
        int: i32::MIN,
        int_opt: given(set, -7),
        bigint: i64::MAX - n,
        bigint_opt: given(set, i64::MIN),
        decimal: "-12345678901234567890.123456789".parse().unwrap(),
        decimal_opt: given(set, "1.50".parse().unwrap()),
        flag: true,
        flag_opt: given(set, false),
        date: NaiveDate::from_ymd_opt(1, 1, 1).unwrap(),
        date_opt: given(set, NaiveDate::from_ymd_opt(9999, 12, 31).unwrap()),
        at: instant(0, 0),
        at_opt: given(set, instant(1_483_228_799, 1_500_000_000)),
        uuid: Uuid::nil(),
        uuid_opt: given(set, Uuid::max()),
        doc: json!({"z": [1, 2.5, null, true, {"nested": "\u{0007}"}], "a": "x"}),
        doc_opt: given(set, json!(null)),
        phase: Phase::InReview,
        phase_opt: given(set, Phase::Draft),
        target: Id::new(Uuid::from_u128(n as u128)),
        target_opt: given(set, Id::new(Uuid::from_u128(u128::MAX))),
        user: UserId(Uuid::from_u128(42)),
        user_opt: given(set, UserId(Uuid::from_u128(43))),
    }
}

#[test]
fn records_are_written_as_their_serialize_writes_them() {
    let created = [
        instant(1, 0),
        instant(2, 7_000_000),
        instant(3, 120_000),
        instant(4, 999_999_999),
    ];
    for (i, at) in created.into_iter().enumerate() {
        for set in [true, false] {
            let n = i64::try_from(i).unwrap();
            let r = record(n + 1, everything(set, n), at);
            assert_eq!(
                record_json(&r),
                serde_json::to_string(&r).unwrap(),
                "set: {set}, at: {at:?}"
            );
        }
    }
    let target = record(Uuid::from_u128(9), Target { name: String::new() }, instant(5, 1));
    assert_eq!(record_json(&target), serde_json::to_string(&target).unwrap());
}

#[test]
fn pages_are_written_as_their_serialize_writes_them() {
    let data: Vec<_> = (0..3)
        .map(|n| record(n, everything(n % 2 == 0, n), instant(n, 0)))
        .collect();
    for next_cursor in [None, Some("eyJ9".to_owned())] {
        for total in [None, Some(0), Some(42)] {
            for len in [0, 1, 3] {
                let page = Page {
                    data: data[..len].to_vec(),
                    next_cursor: next_cursor.clone(),
                    total,
                };
                assert_eq!(
                    page_json(&page),
                    serde_json::to_string(&page).unwrap(),
                    "{len} {next_cursor:?} {total:?}"
                );
            }
        }
    }
}
