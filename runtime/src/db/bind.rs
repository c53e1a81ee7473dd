//! Binding [`Value`]s to statements and decoding rows, per dialect.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Postgres, Row, Sqlite};
use uuid::Uuid;

use crate::model::{DecodeError, FieldType, KeyKind, Value};

/// A parameter: its value and the column type it is bound to (so that a
/// `NULL` is sent with the right type).
#[derive(Debug, Clone)]
pub(crate) struct Bind {
    pub(crate) value: Value,
    pub(crate) ty: FieldType,
}

impl Bind {
    pub(crate) fn new(value: Value, ty: FieldType) -> Self {
        Self { value, ty }
    }
}

pub(crate) fn bind_pg<'q>(
    mut query: Query<'q, Postgres, PgArguments>,
    binds: Vec<Bind>,
) -> Query<'q, Postgres, PgArguments> {
    for Bind { value, ty } in binds {
        query = match value {
            Value::Null => match storage(ty) {
                Storage::Text => query.bind(None::<String>),
                Storage::Int => query.bind(None::<i32>),
                Storage::BigInt => query.bind(None::<i64>),
                Storage::Decimal => query.bind(None::<Decimal>),
                Storage::Bool => query.bind(None::<bool>),
                Storage::Date => query.bind(None::<NaiveDate>),
                Storage::DateTime => query.bind(None::<DateTime<Utc>>),
                Storage::Uuid => query.bind(None::<Uuid>),
                Storage::Json => query.bind(None::<serde_json::Value>),
            },
            Value::Bool(v) => query.bind(v),
            Value::Int(v) => query.bind(v),
            Value::BigInt(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::Decimal(v) => query.bind(v),
            Value::Date(v) => query.bind(v),
            Value::DateTime(v) => query.bind(v),
            Value::Uuid(v) => query.bind(v),
            Value::Json(v) => query.bind(sqlx::types::Json(v)),
            Value::Bytes(v) => query.bind(v),
        };
    }
    query
}

pub(crate) fn bind_sqlite<'q>(
    mut query: Query<'q, Sqlite, SqliteArguments>,
    binds: Vec<Bind>,
) -> Query<'q, Sqlite, SqliteArguments> {
    for Bind { value, .. } in binds {
        query = match value {
            Value::Null => query.bind(None::<String>),
            Value::Bool(v) => query.bind(v),
            Value::Int(v) => query.bind(v),
            Value::BigInt(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::Decimal(v) => query.bind(v.to_string()),
            Value::Date(v) => query.bind(v.format("%Y-%m-%d").to_string()),
            Value::DateTime(v) => query.bind(format_datetime(v)),
            Value::Uuid(v) => query.bind(v.hyphenated().to_string()),
            Value::Json(v) => query.bind(v.to_string()),
            Value::Bytes(v) => query.bind(v),
        };
    }
    query
}

/// SQLite stores instants as RFC 3339 text with microseconds, so text
/// order is time order.
/// Now, to the microsecond: what both dialects keep of an instant, so an
/// answer that shows what it wrote (a key's `created_at`, a deletion's
/// `erase_after`) agrees with every later read of it.
pub(crate) fn now() -> DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(Utc::now(), 6)
}

pub(crate) fn format_datetime(v: DateTime<Utc>) -> String {
    v.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[derive(Debug, Clone, Copy)]
enum Storage {
    Text,
    Int,
    BigInt,
    Decimal,
    Bool,
    Date,
    DateTime,
    Uuid,
    Json,
}

fn storage(ty: FieldType) -> Storage {
    match ty {
        FieldType::String | FieldType::Text | FieldType::Enum(_) | FieldType::Email | FieldType::Url => Storage::Text,
        FieldType::Int => Storage::Int,
        FieldType::BigInt => Storage::BigInt,
        FieldType::Decimal => Storage::Decimal,
        FieldType::Bool => Storage::Bool,
        FieldType::Date => Storage::Date,
        FieldType::DateTime => Storage::DateTime,
        FieldType::Uuid => Storage::Uuid,
        FieldType::Json => Storage::Json,
        FieldType::Ref(target) => match target.key {
            KeyKind::BigInt => Storage::BigInt,
            KeyKind::Uuid => Storage::Uuid,
        },
    }
}

/// A fetched row of either dialect.
#[derive(Debug)]
pub(crate) enum DbRow {
    Postgres(PgRow),
    Sqlite(SqliteRow),
}

impl DbRow {
    /// Decodes column `idx` as a value of type `ty` (`NULL` → [`Value::Null`]).
    pub(crate) fn value(&self, idx: usize, ty: FieldType) -> Result<Value, sqlx::Error> {
        match self {
            Self::Postgres(row) => decode_pg(row, idx, storage(ty)),
            Self::Sqlite(row) => decode_sqlite(row, idx, storage(ty)),
        }
    }
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
    v.map_or(Value::Null, f)
}

fn decode_pg(row: &PgRow, idx: usize, storage: Storage) -> Result<Value, sqlx::Error> {
    Ok(match storage {
        Storage::Text => opt(row.try_get::<Option<String>, _>(idx)?, Value::Text),
        Storage::Int => opt(row.try_get::<Option<i32>, _>(idx)?, Value::Int),
        Storage::BigInt => opt(row.try_get::<Option<i64>, _>(idx)?, Value::BigInt),
        Storage::Decimal => opt(row.try_get::<Option<Decimal>, _>(idx)?, Value::Decimal),
        Storage::Bool => opt(row.try_get::<Option<bool>, _>(idx)?, Value::Bool),
        Storage::Date => opt(row.try_get::<Option<NaiveDate>, _>(idx)?, Value::Date),
        Storage::DateTime => match text_timestamptz(row, idx)? {
            Some(v) => Value::DateTime(v),
            None => opt(row.try_get::<Option<DateTime<Utc>>, _>(idx)?, Value::DateTime),
        },
        Storage::Uuid => opt(row.try_get::<Option<Uuid>, _>(idx)?, Value::Uuid),
        Storage::Json => opt(
            row.try_get::<Option<sqlx::types::Json<serde_json::Value>>, _>(idx)?,
            |j| Value::Json(j.0),
        ),
    })
}

/// A `timestamptz` column of a text-format row (the one-message reads of
/// `oneshot`), read without chrono's format-string parser, which costs more
/// than the rest of the row. `None` hands anything unusual (binary format,
/// `NULL`, another column type, a year outside 0001–9999) to sqlx's decoder.
fn text_timestamptz(row: &PgRow, idx: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    use sqlx::postgres::PgValueFormat;
    use sqlx::{TypeInfo as _, ValueRef as _};
    let raw = row.try_get_raw(idx)?;
    if raw.is_null() || raw.format() != PgValueFormat::Text || raw.type_info().name() != "TIMESTAMPTZ" {
        return Ok(None);
    }
    Ok(raw.as_str().ok().and_then(parse_utc_timestamp))
}

/// Parses PostgreSQL's ISO output of a `timestamptz` in time zone UTC (what
/// every connection uses): `YYYY-MM-DD HH:MM:SS[.f{1,6}]+00`.
fn parse_utc_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let b = s.strip_suffix("+00")?.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        digits
            .iter()
            .try_fold(0u32, |n, d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let micros = match &b[19..] {
        [] => 0,
        [b'.', frac @ ..] if (1..=6).contains(&frac.len()) => {
            num(20..b.len())? * 10u32.pow(u32::try_from(6 - frac.len()).ok()?)
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
    let time = date.and_hms_micro_opt(num(11..13)?, num(14..16)?, num(17..19)?, micros)?;
    Some(time.and_utc())
}

fn corrupt(idx: usize, err: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: idx.to_string(),
        source: Box::new(err),
    }
}

fn decode_sqlite(row: &SqliteRow, idx: usize, storage: Storage) -> Result<Value, sqlx::Error> {
    let text = |row: &SqliteRow| row.try_get::<Option<String>, _>(idx);
    Ok(match storage {
        Storage::Text => opt(text(row)?, Value::Text),
        Storage::Int => opt(row.try_get::<Option<i32>, _>(idx)?, Value::Int),
        Storage::BigInt => opt(row.try_get::<Option<i64>, _>(idx)?, Value::BigInt),
        Storage::Bool => opt(row.try_get::<Option<bool>, _>(idx)?, Value::Bool),
        Storage::Decimal => match text(row)? {
            None => Value::Null,
            Some(s) => Value::Decimal(s.parse().map_err(|e| corrupt(idx, e))?),
        },
        Storage::Date => match text(row)? {
            None => Value::Null,
            Some(s) => Value::Date(NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|e| corrupt(idx, e))?),
        },
        Storage::DateTime => match text(row)? {
            None => Value::Null,
            Some(s) => Value::DateTime(
                DateTime::parse_from_rfc3339(&s)
                    .map_err(|e| corrupt(idx, e))?
                    .with_timezone(&Utc),
            ),
        },
        Storage::Uuid => match text(row)? {
            None => Value::Null,
            Some(s) => Value::Uuid(Uuid::parse_str(&s).map_err(|e| corrupt(idx, e))?),
        },
        Storage::Json => match text(row)? {
            None => Value::Null,
            Some(s) => Value::Json(serde_json::from_str(&s).map_err(|e| corrupt(idx, e))?),
        },
    })
}

impl From<DecodeError> for sqlx::Error {
    fn from(err: DecodeError) -> Self {
        sqlx::Error::Decode(Box::new(err))
    }
}

/// Decodes a `bytea` / `BLOB` column.
pub(crate) fn bytes(row: &DbRow, idx: usize) -> Result<Vec<u8>, sqlx::Error> {
    match row {
        DbRow::Postgres(row) => row.try_get(idx),
        DbRow::Sqlite(row) => row.try_get(idx),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_utc_timestamp;
    use chrono::{DateTime, Utc};

    #[test]
    fn parses_postgres_iso_timestamps_in_utc() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            parse_utc_timestamp("2025-01-01 01:00:01+00"),
            Some(at("2025-01-01T01:00:01Z"))
        );
        assert_eq!(
            parse_utc_timestamp("2026-11-26 15:53:53.5+00"),
            Some(at("2026-11-26T15:53:53.500Z"))
        );
        assert_eq!(
            parse_utc_timestamp("2026-11-26 15:53:53.000123+00"),
            Some(at("2026-11-26T15:53:53.000123Z"))
        );
        for odd in [
            "2026-11-26 15:53:53+01",
            "2026-11-26 15:53:53.1234567+00",
            "2026-11-26 15:53:53.+00",
            "12026-11-26 15:53:53+00",
            "0044-03-15 12:00:00+00 BC",
            "2026-02-30 00:00:00+00",
            "2026-11-26T15:53:53+00",
            "",
        ] {
            assert_eq!(parse_utc_timestamp(odd), None, "{odd}");
        }
    }
}
