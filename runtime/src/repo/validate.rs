//! Field rules: defaults, required fields, lengths and ranges.
//!
//! Checked before any SQL runs, so a bad request never reaches the
//! database; every broken rule is reported at once.

use chrono::Datelike as _;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use super::RepoError;
use crate::model::{FieldDef, FieldType, KeyKind, ModelDef, Value};

/// One broken field rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field (JSON name).
    pub field: String,
    /// A stable code: `required`, `too_long`, `too_short`, `too_small`, `too_large`, `out_of_range`, `invalid`.
    pub code: &'static str,
    /// A sentence for humans.
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }
}

/// Parses the text form of a value of type `ty`: spec defaults, query
/// filters and cursors all use it.
pub(crate) fn parse_text(ty: FieldType, text: &str) -> Result<Value, String> {
    let bad = |what: &str| format!("`{text}` is not a valid {what}");
    match ty {
        FieldType::String | FieldType::Text => Ok(Value::Text(text.to_owned())),
        FieldType::Enum(values) => {
            if values.contains(&text) {
                Ok(Value::Text(text.to_owned()))
            } else {
                Err(format!("`{text}` is not one of {}", values.join(", ")))
            }
        }
        FieldType::Int => text.parse().map(Value::Int).map_err(|_| bad("int")),
        FieldType::BigInt => text.parse().map(Value::BigInt).map_err(|_| bad("bigint")),
        FieldType::Decimal => text.parse().map(Value::Decimal).map_err(|_| bad("decimal")),
        FieldType::Bool => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(bad("bool (true or false)")),
        },
        FieldType::Date => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Value::Date)
            .map_err(|_| bad("date")),
        FieldType::DateTime => DateTime::parse_from_rfc3339(text)
            .map(|d| Value::DateTime(d.with_timezone(&Utc)))
            .map_err(|_| bad("RFC 3339 datetime")),
        FieldType::Uuid => uuid::Uuid::parse_str(text).map(Value::Uuid).map_err(|_| bad("uuid")),
        FieldType::Json => serde_json::from_str(text)
            .map(Value::Json)
            .map_err(|_| bad("JSON document")),
        FieldType::Ref(target) => match target.key {
            KeyKind::BigInt => text.parse().map(Value::BigInt).map_err(|_| bad("id")),
            KeyKind::Uuid => uuid::Uuid::parse_str(text).map(Value::Uuid).map_err(|_| bad("id")),
        },
    }
}

/// The text form of a value (inverse of [`parse_text`]).
pub(crate) fn to_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(v) => v.to_string(),
        Value::Int(v) => v.to_string(),
        Value::BigInt(v) => v.to_string(),
        Value::Text(v) => v.clone(),
        Value::Decimal(v) => v.to_string(),
        Value::Date(v) => v.format("%Y-%m-%d").to_string(),
        Value::DateTime(v) => v.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        Value::Uuid(v) => v.to_string(),
        Value::Json(v) => v.to_string(),
        Value::Bytes(v) => v.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

fn check_rules(field: &FieldDef, value: &Value, errors: &mut Vec<FieldError>) {
    match value {
        Value::Null if !field.optional => {
            errors.push(FieldError::new(
                field.name,
                "required",
                format!("{} must not be null", field.name),
            ));
        }
        Value::Text(s) => {
            let len = s.chars().count();
            if let Some(max) = field.max_len
                && len > max as usize
            {
                errors.push(FieldError::new(
                    field.name,
                    "too_long",
                    format!("{} must be at most {max} characters (got {len})", field.name),
                ));
            }
            if let Some(min) = field.min
                && (len as i64) < min
            {
                errors.push(FieldError::new(
                    field.name,
                    "too_short",
                    format!("{} must be at least {min} characters", field.name),
                ));
            }
        }
        Value::Int(v) => check_range(field, Decimal::from(*v), errors),
        Value::BigInt(v) => check_range(field, Decimal::from(*v), errors),
        Value::Decimal(v) => check_range(field, *v, errors),
        // Years 1–9999: what RFC 3339 and PostgreSQL's ISO text output share
        // (the one-message reads decode that text; BC dates have none).
        Value::Date(d) if !(1..=9999).contains(&d.year()) => errors.push(year_range(field)),
        Value::DateTime(t) if !(1..=9999).contains(&t.year()) => errors.push(year_range(field)),
        _ => {}
    }
}

/// `min` and `max` of a number, compared exactly (an `i64` bound is an
/// exact `Decimal`).
fn check_range(field: &FieldDef, n: Decimal, errors: &mut Vec<FieldError>) {
    if let Some(min) = field.min
        && n < Decimal::from(min)
    {
        errors.push(FieldError::new(
            field.name,
            "too_small",
            format!("{} must be at least {min}", field.name),
        ));
    }
    if let Some(max) = field.max
        && n > Decimal::from(max)
    {
        errors.push(FieldError::new(
            field.name,
            "too_large",
            format!("{} must be at most {max}", field.name),
        ));
    }
}

fn year_range(field: &FieldDef) -> FieldError {
    FieldError::new(
        field.name,
        "out_of_range",
        format!("{} must be in the years 1 to 9999", field.name),
    )
}

/// Every column value of a create, in field order, or every broken rule.
pub(crate) fn create_values(def: &ModelDef, input: Vec<Option<Value>>) -> Result<Vec<Value>, RepoError> {
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(def.fields.len());
    for (field, value) in def.fields.iter().zip(input) {
        let value = match (value, field.default) {
            (Some(v), _) => v,
            (None, Some(text)) => match parse_text(field.ty, text) {
                Ok(v) => v,
                Err(msg) => {
                    // A bad default is the app's bug, caught by the generator's
                    // checks; still refuse rather than store nonsense.
                    errors.push(FieldError::new(field.name, "invalid", format!("default: {msg}")));
                    Value::Null
                }
            },
            (None, None) if field.optional => Value::Null,
            (None, None) => {
                errors.push(FieldError::new(
                    field.name,
                    "required",
                    format!("{} is required", field.name),
                ));
                Value::Null
            }
        };
        check_rules(field, &value, &mut errors);
        out.push(value);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(RepoError::Invalid(errors))
    }
}

/// The changed fields of an update, or every broken rule.
pub(crate) fn update_values(
    def: &ModelDef,
    changes: Vec<(usize, Value)>,
) -> Result<Vec<(&'static FieldDef, Value)>, RepoError> {
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(changes.len());
    for (idx, value) in changes {
        let Some(field) = super::field_at(def, idx) else {
            continue;
        };
        check_rules(field, &value, &mut errors);
        out.push((field, value));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(RepoError::Invalid(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FieldDef, FieldType};

    #[test]
    fn text_round_trips_for_every_type() {
        let cases = [
            (FieldType::Int, "42"),
            (FieldType::BigInt, "-7"),
            (FieldType::Bool, "true"),
            (FieldType::Decimal, "12.50"),
            (FieldType::Date, "2026-11-26"),
            (FieldType::DateTime, "2026-11-26T10:00:00.000001Z"),
            (FieldType::Uuid, "0192f1a2-7b3c-7d4e-8f90-123456789abc"),
            (FieldType::Enum(&["active", "archived"]), "archived"),
        ];
        for (ty, text) in cases {
            let value = parse_text(ty, text).unwrap();
            assert_eq!(to_text(&value), text, "{ty:?}");
        }
    }

    #[test]
    fn dates_stay_in_the_years_1_to_9999() {
        static DAY: FieldDef = FieldDef::new("day", "day", FieldType::Date);
        static AT: FieldDef = FieldDef::new("at", "at", FieldType::DateTime);
        let mut errors = Vec::new();
        check_rules(&DAY, &parse_text(FieldType::Date, "9999-12-31").unwrap(), &mut errors);
        check_rules(
            &AT,
            &parse_text(FieldType::DateTime, "0001-01-01T00:00:00Z").unwrap(),
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let far = Value::Date(NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap());
        let bc = Value::DateTime(DateTime::<Utc>::MIN_UTC);
        check_rules(&DAY, &far, &mut errors);
        check_rules(&AT, &bc, &mut errors);
        let codes: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(codes, [("day", "out_of_range"), ("at", "out_of_range")]);
    }

    #[test]
    fn decimal_bounds_are_exact() {
        static PRICE: FieldDef = FieldDef {
            min: Some(0),
            max: Some(10),
            ..FieldDef::new("price", "price", FieldType::Decimal)
        };
        let codes = |text: &str| {
            let mut errors = Vec::new();
            check_rules(&PRICE, &parse_text(FieldType::Decimal, text).unwrap(), &mut errors);
            errors.iter().map(|e| e.code).collect::<Vec<_>>()
        };
        for inside in ["0", "0.00", "9.5", "10", "10.000"] {
            assert!(codes(inside).is_empty(), "{inside}");
        }
        assert_eq!(codes("-0.0000000001"), ["too_small"]);
        assert_eq!(codes("10.0000000001"), ["too_large"]);
        assert_eq!(codes("100"), ["too_large"]);
    }

    #[test]
    fn rejects_bad_text() {
        assert!(parse_text(FieldType::Int, "x").is_err());
        assert!(parse_text(FieldType::Bool, "yes").is_err());
        assert!(
            parse_text(FieldType::Enum(&["a"]), "b")
                .unwrap_err()
                .contains("not one of a")
        );
    }

    #[test]
    fn reports_every_broken_rule() {
        static FIELDS: [FieldDef; 2] = [
            FieldDef {
                max_len: Some(3),
                ..FieldDef::new("name", "name", FieldType::String)
            },
            FieldDef {
                min: Some(1),
                max: Some(5),
                ..FieldDef::new("rank", "rank", FieldType::Int)
            },
        ];
        let def = ModelDef {
            name: "thing",
            table: "things",
            path: "things",
            key: crate::model::KeyKind::BigInt,
            fields: &FIELDS,
            permissions: crate::model::Permissions {
                read: "r",
                write: "w",
                delete: "d",
            },
            quota: None,
            audit: false,
            default_sort: crate::model::Sort {
                field: "created_at",
                descending: true,
            },
        };
        let Err(RepoError::Invalid(errors)) =
            create_values(&def, vec![Some(Value::Text("long".into())), Some(Value::Int(9))])
        else {
            panic!("expected invalid input");
        };
        let codes: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(codes, [("name", "too_long"), ("rank", "too_large")]);
        let Err(RepoError::Invalid(errors)) = create_values(&def, vec![None, Some(Value::Int(2))]) else {
            panic!("expected invalid input");
        };
        assert_eq!(errors[0].code, "required");
    }
}
