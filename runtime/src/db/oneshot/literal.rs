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

