//! Values as PostgreSQL escape-string literals: the only place the runtime
//! renders a value into SQL text (HOUSE-STYLE, "Runtime"; everywhere else
//! values are bound).
//!
//! A literal is `E'…'` with `\` and `'` doubled, which reads the same
//! whatever `standard_conforming_strings` says, holding the value's
//! canonical text form. It is always read by a parameter whose type
//! `PREPARE` fixed (`message.rs`), so the text never has to carry its own
//! type. A property test (below) checks, on PostgreSQL, that each rendered
//! literal equals the same value bound as a parameter.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike as _, Timelike as _, Utc};

use crate::db::bind::format_datetime;
use crate::model::Value;

/// Why a value has no literal form here (the bound-parameter path takes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NoLiteral {
    /// PostgreSQL text cannot hold a NUL byte; bound, it fails the same way.
    #[error("a text with a NUL byte has no literal form")]
    Nul,
    /// A date or instant outside the years 1–9999, whose text forms
    /// (negative years, `BC`, five digits) are left to the bound path.
    #[error("a date outside the years 1-9999 has no literal form here")]
    FarDate,
}

/// Appends `value` as an escape-string literal in its type's text form
/// (the parameter's type, fixed by `PREPARE`, reads it). On an error
/// `out` may hold part of a literal: the caller drops the message.
pub(crate) fn push_literal(out: &mut String, value: &Value) -> Result<(), NoLiteral> {
    match value {
        Value::Null => out.push_str("NULL"),
        Value::Text(s) => push_escaped(out, s)?,
        Value::Json(v) => push_escaped(out, &v.to_string())?,
        // Digits, signs, hex, `-:.TZ` only below: nothing to escape.
        Value::Bool(v) => out.push_str(if *v { "E't'" } else { "E'f'" }),
        Value::Int(v) => {
            let _ = write!(out, "E'{v}'");
        }
        Value::BigInt(v) => {
            let _ = write!(out, "E'{v}'");
        }
        // sqlx binds every zero as scale 0 (`0.00` is stored as `0`): so
        // does this, or a create and an update would store different text.
        Value::Decimal(v) if v.is_zero() => out.push_str("E'0'"),
        Value::Decimal(v) => {
            let _ = write!(out, "E'{v}'");
        }
        Value::Date(v) if (1..=9999).contains(&v.year()) => {
            let _ = write!(out, "E'{}'", v.format("%Y-%m-%d"));
        }
        Value::DateTime(v) if (1..=9999).contains(&v.year()) => {
            let _ = write!(out, "E'{}'", format_datetime(as_bound(*v)));
        }
        Value::Date(_) | Value::DateTime(_) => return Err(NoLiteral::FarDate),
        Value::Uuid(v) => {
            let _ = write!(out, "E'{}'", v.hyphenated());
        }
        Value::Bytes(v) => {
            // bytea's hex input, `\x…`, with its backslash doubled.
            out.reserve(2 * v.len() + 6);
            out.push_str(r"E'\\x");
            for b in v {
                let _ = write!(out, "{b:02x}");
            }
            out.push('\'');
        }
    }
    Ok(())
}

/// `v` cut to microseconds the way a bound parameter is: sqlx sends the
/// microseconds since 2000-01-01 truncated towards that epoch, so before
/// it a sub-microsecond rest rounds up, not down as printing would.
fn as_bound(v: DateTime<Utc>) -> DateTime<Utc> {
    if v.nanosecond().is_multiple_of(1000) {
        return v;
    }
    let epoch = DateTime::<Utc>::from_naive_utc_and_offset(
        chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("2000-01-01 is a date"),
        Utc,
    );
    match (v - epoch).num_microseconds() {
        Some(us) => epoch + chrono::TimeDelta::microseconds(us),
        None => v,
    }
}

/// `E'…'` with `\` and `'` doubled.
fn push_escaped(out: &mut String, s: &str) -> Result<(), NoLiteral> {
    if s.contains('\0') {
        return Err(NoLiteral::Nul);
    }
    out.reserve(s.len() + 3);
    out.push_str("E'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str(r"\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(())
}

/// The rendered literal of `value` alone (tests).
#[cfg(test)]
pub(crate) fn literal(value: &Value) -> Result<String, NoLiteral> {
    let mut out = String::new();
    push_literal(&mut out, value).map(|()| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_type_in_its_text_form() {
        let at = "1999-12-31T23:59:59.1234567Z".parse::<DateTime<Utc>>().unwrap();
        for (value, expect) in [
            (Value::Null, "NULL"),
            (Value::Text(r"it's \ ok".into()), r"E'it''s \\ ok'"),
            (Value::Bool(true), "E't'"),
            (Value::Int(-20), "E'-20'"),
            (Value::BigInt(i64::MIN), "E'-9223372036854775808'"),
            (Value::Decimal("-1.500".parse().unwrap()), "E'-1.500'"),
            (Value::Decimal("-0.00".parse().unwrap()), "E'0'"),
            (
                Value::Date(chrono::NaiveDate::from_ymd_opt(1, 1, 1).unwrap()),
                "E'0001-01-01'",
            ),
            // Truncated towards 2000 like a bound value: .1234567 → .123457.
            (Value::DateTime(at), "E'1999-12-31T23:59:59.123457Z'"),
            (Value::Json(serde_json::json!({"a": "it's"})), r#"E'{"a":"it''s"}'"#),
            (Value::Bytes(vec![0, 0xab]), r"E'\\x00ab'"),
        ] {
            assert_eq!(literal(&value).as_deref(), Ok(expect), "{value:?}");
        }
    }

    #[test]
    fn refuses_nul_bytes_and_far_dates() {
        assert_eq!(literal(&Value::Text("a\0b".into())), Err(NoLiteral::Nul));
        let far = chrono::NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
        assert_eq!(literal(&Value::Date(far)), Err(NoLiteral::FarDate));
        let bc = chrono::NaiveDate::from_ymd_opt(0, 12, 31).unwrap();
        assert_eq!(
            literal(&Value::DateTime(bc.and_hms_opt(0, 0, 0).unwrap().and_utc())),
            Err(NoLiteral::FarDate)
        );
    }
}

/// The property: on PostgreSQL, every value the renderer accepts, bound
/// as a parameter, equals its rendered literal read as the same type,
/// and both print the same text (which catches a lost decimal scale or
/// microsecond that equality would forgive).
#[cfg(all(test, feature = "testing"))]
mod on_postgres {
    use std::cell::RefCell;

    use chrono::{NaiveDate, NaiveTime};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    use rust_decimal::Decimal;
    use sqlx::{AssertSqlSafe, Connection as _, PgConnection, Row as _};

    use super::*;
    use crate::db::bind::{Bind, bind_pg};
    use crate::db::oneshot::message::pg_type;
    use crate::model::FieldType;

    /// Texts heavy in what escaping must get right.
    fn text() -> impl Strategy<Value = String> {
        let c = prop_oneof![
            4 => any::<char>(),
            1 => Just('\''),
            1 => Just('\\'),
            1 => Just('\n'),
            1 => Just('é'),
            1 => Just('\u{1F600}'),
            1 => Just('\0'),
        ];
        prop::collection::vec(c, 0..24).prop_map(String::from_iter)
    }

    fn json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value as J;
        let leaf = prop_oneof![
            Just(J::Null),
            any::<bool>().prop_map(J::Bool),
            any::<i64>().prop_map(J::from),
            any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(J::Number)),
            // jsonb refuses `\u0000`, bound or not.
            text().prop_map(|s| J::String(s.replace('\0', ""))),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(J::Array),
                prop::collection::btree_map(text().prop_map(|s| s.replace('\0', "")), inner, 0..4)
                    .prop_map(|m| J::Object(m.into_iter().collect())),
            ]
        })
    }

    /// 0001-01-01 (day 1) to 9999-12-31.
    fn date() -> impl Strategy<Value = NaiveDate> {
        (1..=3_652_059i32).prop_map(|n| NaiveDate::from_num_days_from_ce_opt(n).expect("in range"))
    }

    fn value() -> impl Strategy<Value = Bind> {
        let nulls = [
            FieldType::Text,
            FieldType::Int,
            FieldType::BigInt,
            FieldType::Decimal,
            FieldType::Bool,
            FieldType::Date,
            FieldType::DateTime,
            FieldType::Uuid,
            FieldType::Json,
        ];
        prop_oneof![
            3 => text().prop_map(|s| Bind::new(Value::Text(s), FieldType::Text)),
            1 => any::<i32>().prop_map(|v| Bind::new(Value::Int(v), FieldType::Int)),
            1 => any::<i64>().prop_map(|v| Bind::new(Value::BigInt(v), FieldType::BigInt)),
            2 => (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>(), 0..=28u32).prop_map(
                |(lo, mid, hi, neg, scale)| {
                    let d = Decimal::from_parts(lo, mid, hi, neg, scale);
                    Bind::new(Value::Decimal(d), FieldType::Decimal)
                }
            ),
            2 => (any::<i16>(), 0..=6u32).prop_map(|(m, scale)| {
                Bind::new(Value::Decimal(Decimal::new(m.into(), scale)), FieldType::Decimal)
            }),
            1 => any::<bool>().prop_map(|v| Bind::new(Value::Bool(v), FieldType::Bool)),
            1 => date().prop_map(|v| Bind::new(Value::Date(v), FieldType::Date)),
            2 => (date(), 0..86_400u32, 0..1_000_000_000u32).prop_map(|(d, s, ns)| {
                let t = NaiveTime::from_num_seconds_from_midnight_opt(s, ns).expect("in range");
                Bind::new(Value::DateTime(d.and_time(t).and_utc()), FieldType::DateTime)
            }),
            1 => any::<u128>().prop_map(|v| Bind::new(Value::Uuid(uuid::Uuid::from_u128(v)), FieldType::Uuid)),
            2 => json().prop_map(|v| Bind::new(Value::Json(v), FieldType::Json)),
            1 => prop::collection::vec(any::<u8>(), 0..32).prop_map(|v| Bind::new(Value::Bytes(v), FieldType::Text)),
            1 => prop::sample::select(nulls.to_vec()).prop_map(|ty| Bind::new(Value::Null, ty)),
        ]
    }

    /// The edges the generators may miss.
    fn edges() -> Vec<Bind> {
        let at = |s: &str| Value::DateTime(s.parse::<DateTime<Utc>>().unwrap());
        let dec = |s: &str| Value::Decimal(s.parse().unwrap());
        let day = |y, m, d| Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        [
            (Value::Text(String::new()), FieldType::Text),
            (Value::Text("'\\\n\r\t''\\\\é😀".into()), FieldType::Text),
            (Value::Int(i32::MIN), FieldType::Int),
            (Value::BigInt(i64::MIN), FieldType::BigInt),
            (dec("-0.00"), FieldType::Decimal),
            (dec("79228162514264337593543950335"), FieldType::Decimal),
            (dec("-0.0000000000000000000000000001"), FieldType::Decimal),
            (dec("120.50"), FieldType::Decimal),
            (day(1, 1, 1), FieldType::Date),
            (day(9999, 12, 31), FieldType::Date),
            (at("0001-01-01T00:00:00Z"), FieldType::DateTime),
            (at("0001-01-01T00:00:00.0000005Z"), FieldType::DateTime),
            (at("9999-12-31T23:59:59.999999Z"), FieldType::DateTime),
            (at("9999-12-31T23:59:59.9999999Z"), FieldType::DateTime),
            (at("1999-12-31T23:59:59.9999995Z"), FieldType::DateTime),
            (at("2000-01-01T00:00:00.0000005Z"), FieldType::DateTime),
            (
                Value::Json(serde_json::json!({"it's": ["a \\ \"b\"", {"c": "\n'\\''"}], "n": 1.5e300})),
                FieldType::Json,
            ),
            (Value::Bytes(Vec::new()), FieldType::Text),
            (Value::Bytes(vec![0, b'\'', b'\\', 0xff]), FieldType::Text),
        ]
        .into_iter()
        .map(|(v, ty)| Bind::new(v, ty))
        .collect()
    }

    /// Whether `bind`, bound and as a literal, reads the same on `conn`.
    async fn check(conn: &mut PgConnection, bind: Bind) -> Result<(), TestCaseError> {
        let ty = pg_type(&bind);
        let lit = match literal(&bind.value) {
            Ok(lit) => lit,
            Err(NoLiteral::Nul) if matches!(&bind.value, Value::Text(s) if s.contains('\0')) => {
                // The bound path takes it, and PostgreSQL refuses it there.
                let bound = bind_pg(sqlx::query("SELECT $1::text"), vec![bind])
                    .fetch_one(&mut *conn)
                    .await;
                prop_assert!(bound.is_err(), "PostgreSQL took a NUL byte");
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(format!("{:?}: {e}", bind.value))),
        };
        let sql = format!("SELECT $1::{ty} IS NOT DISTINCT FROM {lit}::{ty}, $1::{ty}::text, ({lit}::{ty})::text");
        let value = format!("{:?}", bind.value);
        let row = bind_pg(sqlx::query(AssertSqlSafe(sql)).persistent(false), vec![bind])
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| TestCaseError::fail(format!("{value} as {lit}: {e}")))?;
        let (same, bound, rendered): (Option<bool>, Option<String>, Option<String>) =
            (row.get(0), row.get(1), row.get(2));
        prop_assert_eq!(same, Some(true), "{} as {}: {:?} vs {:?}", value, lit, bound, rendered);
        prop_assert_eq!(bound, rendered, "{} as {}", value, lit);
        Ok(())
    }

    fn admin_url() -> String {
        std::env::var("DATABASE_URL_ADMIN").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    }

    #[test]
    fn every_literal_equals_the_bound_value() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let db = rt.block_on(crate::db::test_cluster::create(&admin_url(), "oneshot_lit"));
        let conn = rt
            .block_on(PgConnection::connect(&db.serving_url))
            .expect("PostgreSQL at DATABASE_URL_ADMIN");
        let conn = RefCell::new(conn);
        for bind in edges() {
            let mut c = conn.borrow_mut();
            if let Err(e) = rt.block_on(check(&mut c, bind)) {
                panic!("{e}");
            }
        }
        let mut runner = TestRunner::new(Config {
            cases: 400,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&value(), |bind| {
            let mut c = conn.borrow_mut();
            rt.block_on(check(&mut c, bind))
        });
        rt.block_on(async {
            let _ = conn.into_inner().close().await;
            db.drop_database().await;
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}
