//! Field rules: defaults, required fields, lengths and ranges.
//!
//! Checked before any SQL runs, so a bad request never reaches the
//! database; every broken rule is reported at once.

use std::borrow::Cow;

use chrono::Datelike as _;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::RepoError;
use crate::model::{FieldDef, FieldType, KeyKind, ModelDef, Value};

/// One broken field rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field (JSON name).
    pub field: String,
    /// A stable code: `required`, `too_long`, `too_short`, `too_small`, `too_large`, `out_of_range`, `too_precise`, `invalid`.
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

/// What a value holding U+0000 is told: PostgreSQL cannot store it in
/// `text` or `jsonb`, so no dialect accepts it.
const NUL: &str = "must not contain the NUL character (U+0000)";

/// Whether a JSON document holds U+0000 in any string or key.
fn json_has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(json_has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        _ => false,
    }
}

/// The field error for the first top-level key of JSON object `body`
/// whose key or value holds U+0000, for request types that are not models
/// (the identity routes). A body with no `\u0000` escape outside an
/// escaped backslash is passed by one scan without parsing; JSON can
/// carry U+0000 only as that escape.
pub(crate) fn nul_field(body: &[u8]) -> Option<FieldError> {
    let mut i = 0;
    let mut escaped_nul = false;
    while i < body.len() {
        if body[i] == b'\\' {
            if body[i + 1..].starts_with(b"u0000") {
                escaped_nul = true;
                break;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    if !escaped_nul {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    let (key, _) = map.iter().find(|(k, v)| k.contains('\0') || json_has_nul(v))?;
    Some(FieldError::new(key, "invalid", format!("{key} {NUL}")))
}

/// Whether `text` is written as a decimal number: `-`, digits, optionally
/// `.` and digits, optionally an exponent.
fn decimal_syntax(text: &str) -> bool {
    fn digits(s: &str) -> (usize, &str) {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        (n, &s[n..])
    }
    let (n, rest) = digits(text.strip_prefix('-').unwrap_or(text));
    if n == 0 {
        return false;
    }
    let rest = match rest.strip_prefix('.') {
        Some(fraction) => match digits(fraction) {
            (0, _) => return false,
            (_, rest) => rest,
        },
        None => rest,
    };
    match rest.strip_prefix(['e', 'E']) {
        Some(exp) => {
            let (n, rest) = digits(exp.strip_prefix(['+', '-']).unwrap_or(exp));
            n > 0 && rest.is_empty()
        }
        None => rest.is_empty(),
    }
}

/// What a decimal field's JSON value `raw` needs before the typed parse:
/// nothing (`Ok(None)`: a string held exactly, or no decimal at all, left
/// to the parse), its text as a JSON string (`Ok(Some(..))`: a JSON
/// number, read from its text so no digit is lost, never as a binary
/// float), or a refusal: more digits than [`Decimal`] stores exactly (28
/// after the point, 96 bits in all), which rust_decimal's own parse would
/// round silently.
fn decimal_token(field: &FieldDef, raw: &str) -> Result<Option<String>, FieldError> {
    let (text, quoted) = match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(text) => (text, true),
        None => (raw, false),
    };
    if !decimal_syntax(text) {
        return Ok(None);
    }
    let scientific = text.contains(['e', 'E']);
    let exact = match Decimal::from_str_exact(text) {
        Ok(d) => Some(d),
        Err(_) if scientific => Decimal::from_scientific(text).ok(),
        Err(_) => None,
    };
    let Some(exact) = exact else {
        let message = format!(
            "{} has more digits than a decimal stores exactly (at most 28 after the point, 96 bits in all)",
            field.name
        );
        return Err(FieldError::new(field.name, "too_precise", message));
    };
    if quoted {
        return Ok(None);
    }
    // Digits as written (`12.50` keeps its scale); an exponent is applied.
    let digits = if scientific { exact.to_string() } else { text.to_owned() };
    Ok(Some(format!("\"{digits}\"")))
}

/// The decimal fields of JSON object `body` (a create or an update of
/// `def`), read from their JSON text before serde turns them into
/// [`Decimal`]s: every one too precise is an error; a JSON number is
/// accepted exactly, by giving the typed parse a body where it is written
/// as a string (`Ok(Some(body))`; `Ok(None)`: `body` as it is). Only a
/// model with decimal fields pays for this scan, which borrows from `body`
/// and skips every other value unparsed; a body that does not parse is
/// left to the typed parse that follows. No other type's reading changes.
pub(crate) fn exact_decimals(def: &ModelDef, body: &[u8]) -> Result<Option<Vec<u8>>, Vec<FieldError>> {
    if !def.fields.iter().any(|f| matches!(f.ty, FieldType::Decimal)) {
        return Ok(None);
    }
    let mut errors = Vec::new();
    let mut numbers = Vec::new();
    let scan = DecimalScan {
        def,
        body,
        errors: &mut errors,
        numbers: &mut numbers,
    };
    let _ = serde_json::Deserializer::from_slice(body).deserialize_map(scan);
    if !errors.is_empty() {
        return Err(errors);
    }
    if numbers.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(body.len() + 2 * numbers.len());
    let mut at = 0;
    for (range, text) in numbers {
        out.extend_from_slice(&body[at..range.start]);
        out.extend_from_slice(text.as_bytes());
        at = range.end;
    }
    out.extend_from_slice(&body[at..]);
    Ok(Some(out))
}

struct DecimalScan<'a> {
    def: &'a ModelDef,
    body: &'a [u8],
    errors: &'a mut Vec<FieldError>,
    /// Where in `body` a JSON number of a decimal field is, and its text
    /// as a JSON string.
    numbers: &'a mut Vec<(std::ops::Range<usize>, String)>,
}

impl<'de> Visitor<'de> for DecimalScan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key()? {
            let decimal = self
                .def
                .fields
                .iter()
                .find(|f| matches!(f.ty, FieldType::Decimal) && f.name == key);
            match decimal {
                Some(field) => {
                    let raw: &RawValue = map.next_value()?;
                    match decimal_token(field, raw.get()) {
                        Ok(None) => {}
                        Ok(Some(text)) => {
                            // `raw` borrows from `body`: its offset there.
                            let start = (raw.get().as_ptr() as usize).wrapping_sub(self.body.as_ptr() as usize);
                            let range = start..start + raw.get().len();
                            if self.body.get(range.clone()) == Some(raw.get().as_bytes()) {
                                self.numbers.push((range, text));
                            }
                        }
                        Err(error) => self.errors.push(error),
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// An object key, borrowed from the body unless it holds escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Parses the text form of a value of type `ty`: spec defaults, query
/// filters and cursors all use it.
pub(crate) fn parse_text(ty: FieldType, text: &str) -> Result<Value, String> {
    let bad = |what: &str| format!("`{text}` is not a valid {what}");
    if text.contains('\0') {
        return Err(NUL.to_owned());
    }
    match ty {
        FieldType::String | FieldType::Text | FieldType::Email | FieldType::Url => Ok(Value::Text(text.to_owned())),
        FieldType::Enum(values) => {
            if values.contains(&text) {
                Ok(Value::Text(text.to_owned()))
            } else {
                Err(format!("`{text}` is not one of {}", values.join(", ")))
            }
        }
        FieldType::Int => text.parse().map(Value::Int).map_err(|_| bad("int")),
        FieldType::BigInt => text.parse().map(Value::BigInt).map_err(|_| bad("bigint")),
        FieldType::Decimal => Decimal::from_str_exact(text)
            .map(Value::Decimal)
            .map_err(|_| bad("decimal (at most 28 digits after the point, 96 bits in all)")),
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
        FieldType::Json => match serde_json::from_str(text) {
            Ok(json) if json_has_nul(&json) => Err(NUL.to_owned()),
            Ok(json) => Ok(Value::Json(json)),
            Err(_) => Err(bad("JSON document")),
        },
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
        Value::Text(s) if s.contains('\0') => {
            errors.push(FieldError::new(field.name, "invalid", format!("{} {NUL}", field.name)));
        }
        Value::Json(json) if json_has_nul(json) => {
            errors.push(FieldError::new(field.name, "invalid", format!("{} {NUL}", field.name)));
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
            let format = match field.ty {
                FieldType::Email if !super::formats::is_email(s) => Some("must be an email address"),
                FieldType::Url if !super::formats::is_url(s) => Some("must be an absolute http or https URL"),
                _ => None,
            };
            if let Some(rule) = format {
                errors.push(FieldError::new(field.name, "invalid", format!("{} {rule}", field.name)));
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

    fn test_def() -> ModelDef {
        *crate::model::fixtures::model("things", Vec::new())
    }

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
    fn decimals_are_exact_or_refused() {
        static AMOUNT: FieldDef = FieldDef::new("amount", "amount", FieldType::Decimal);
        let code = |raw: &str| decimal_token(&AMOUNT, raw).err().map(|e| e.code);
        let places_28 = format!("\"0.{}\"", "1".repeat(28));
        let places_29 = format!("\"0.{}\"", "1".repeat(29));
        let digits_29 = format!("\"{}\"", "9".repeat(29));
        let digits_30 = format!("\"{}\"", "1".repeat(30));
        for (raw, expected) in [
            ("\"12.50\"", None),
            ("\"-0.001\"", None),
            ("\"9.7e-7\"", None),
            (places_28.as_str(), None),
            ("\"79228162514264337593543950335\"", None),
            (places_29.as_str(), Some("too_precise")),
            (digits_29.as_str(), Some("too_precise")),
            (digits_30.as_str(), Some("too_precise")),
            ("\"2.5e-28\"", Some("too_precise")),
            ("12.5", None),
            ("0.1234567890123456789012345678901", Some("too_precise")),
            ("\"twelve\"", None),
            ("null", None),
            ("\"1.\"", None),
        ] {
            assert_eq!(code(raw), expected, "{raw}");
        }
        assert!(parse_text(FieldType::Decimal, places_29.trim_matches('"')).is_err());
        assert!(parse_text(FieldType::Decimal, places_28.trim_matches('"')).is_ok());
    }

    #[test]
    fn decimal_scan_reads_only_decimal_fields_of_the_top_level() {
        static FIELDS: [FieldDef; 2] = [
            FieldDef::new("amount", "amount", FieldType::Decimal),
            FieldDef::new("meta", "meta", FieldType::Json),
        ];
        let def = ModelDef {
            fields: &FIELDS,
            ..test_def()
        };
        let body = br#"{"meta": {"amount": 1.5}, "am\u006funt": 2.5, "amount": "1.25"}"#;
        let body = std::str::from_utf8(body)
            .unwrap()
            .replace("2.5", &format!("0.{}", "1".repeat(29)));
        let fields: Vec<_> = exact_decimals(&def, body.as_bytes())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["amount"], "the escaped key is the field too");
        assert_eq!(exact_decimals(&def, br#"{"amount": "1.25"}"#), Ok(None));
        assert_eq!(exact_decimals(&def, b"{not json"), Ok(None));
    }

    #[test]
    fn decimal_numbers_become_their_exact_text() {
        static FIELDS: [FieldDef; 2] = [
            FieldDef::new("amount", "amount", FieldType::Decimal),
            FieldDef::new("count", "count", FieldType::Int),
        ];
        let def = ModelDef {
            fields: &FIELDS,
            ..test_def()
        };
        let rewrite = |body: &str| {
            exact_decimals(&def, body.as_bytes())
                .unwrap()
                .map(|b| String::from_utf8(b).unwrap())
        };
        assert_eq!(
            rewrite(r#"{"count": 2, "amount": 12.50}"#).as_deref(),
            Some(r#"{"count": 2, "amount": "12.50"}"#)
        );
        // More digits than an f64 holds, kept.
        assert_eq!(
            rewrite(r#"{"amount":-0.1234567890123456789}"#).as_deref(),
            Some(r#"{"amount":"-0.1234567890123456789"}"#)
        );
        assert_eq!(rewrite(r#"{"amount": 1.5e2}"#).as_deref(), Some(r#"{"amount": "150"}"#));
        assert_eq!(
            rewrite(r#"{"amount": "1.5", "count": 1.5}"#),
            None,
            "other types are left alone"
        );
    }

    #[test]
    fn nul_is_found_in_values_and_keys_but_not_in_escaped_backslashes() {
        assert_eq!(nul_field(br#"{"a": "x", "b": ["\u0000"]}"#).unwrap().field, "b");
        assert_eq!(nul_field(br#"{"a\u0000": 1}"#).unwrap().field, "a\0");
        assert!(nul_field(br#"{"a": "\\u0000"}"#).is_none());
        assert!(nul_field(br#"{"a": "\\\u0000"}"#).is_some());
        assert!(nul_field(br#"{"a": "u0000"}"#).is_none());
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
            fields: &FIELDS,
            ..test_def()
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
