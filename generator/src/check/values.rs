//! Text forms of default values: dates, instants, UUIDs, decimals.

use std::cmp::Ordering;

use toml::value::Datetime;

/// `YYYY-MM-DD`, a real calendar day.
pub(super) fn is_date(text: &str) -> bool {
    text.parse::<Datetime>().is_ok_and(|d| is_date_value(&d))
}

/// A TOML local date (no time, no offset) that exists in the calendar.
pub(super) fn is_date_value(value: &Datetime) -> bool {
    match (value.date, value.time, value.offset) {
        (Some(date), None, None) => day_exists(date.year, date.month, date.day),
        _ => false,
    }
}

/// An RFC 3339 instant: date, time and offset.
pub(super) fn is_datetime(text: &str) -> bool {
    text.parse::<Datetime>().is_ok_and(|d| is_datetime_value(&d))
}

/// A TOML offset date-time that exists in the calendar.
pub(super) fn is_datetime_value(value: &Datetime) -> bool {
    match (value.date, value.time, value.offset) {
        (Some(date), Some(_), Some(_)) => day_exists(date.year, date.month, date.day),
        _ => false,
    }
}

fn day_exists(year: u16, month: u8, day: u8) -> bool {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hexadecimal.
pub(super) fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `-12.50`, `3`: optional sign, digits, optional fraction; at most 28
/// digits, what the runtime's `Decimal` holds exactly.
pub(super) fn is_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    digits(whole) && digits(fraction) && whole.len() + fraction.len() <= 28
}

/// The largest magnitude of a decimal's `min` or `max`: 2^53, the integers
/// a floating-point number holds exactly (SQLite's CHECK compares decimals
/// as REAL).
pub(crate) const DECIMAL_BOUND_LIMIT: u64 = 1 << 53;

/// How the decimal `text` (valid per [`is_decimal`]) compares with the
/// integer `bound`, exactly.
pub(super) fn decimal_cmp(text: &str, bound: i64) -> Ordering {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    // At most 28 digits: fits an i128.
    let whole: i128 = whole.parse().unwrap_or(i128::MAX);
    let has_fraction = fraction.bytes().any(|b| b != b'0');
    // |value| = whole + f with 0 <= f < 1, compared with |bound| on the
    // value's side of zero.
    let magnitude = |target: i128| match whole.cmp(&target) {
        Ordering::Equal if has_fraction => Ordering::Greater,
        other => other,
    };
    let bound = i128::from(bound);
    if negative {
        magnitude(-bound).reverse()
    } else {
        magnitude(bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms() {
        assert!(is_date("2024-02-29"));
        assert!(!is_date("2023-02-29"));
        assert!(!is_date("2024-13-01"));
        assert!(!is_date("2024-01-01T00:00:00Z"));
        assert!(is_datetime("2024-01-01T10:00:00Z"));
        assert!(is_datetime("2024-01-01T10:00:00.5+02:00"));
        assert!(!is_datetime("2024-01-01T10:00:00"));
        assert!(!is_datetime("yesterday"));
        assert!(is_uuid("0190b1a2-7c3d-7def-8abc-0123456789ab"));
        assert!(!is_uuid("0190b1a2-7c3d-7def-8abc-0123456789a"));
        assert!(!is_uuid("0190b1a2x7c3d-7def-8abc-0123456789ab"));
        assert!(is_decimal("12.50"));
        assert!(is_decimal("-3"));
        assert!(!is_decimal("1."));
        assert!(!is_decimal(".5"));
        assert!(!is_decimal("1e3"));
        assert!(!is_decimal(""));
        assert!(is_decimal("1234567890123456.789012345678"));
        assert!(!is_decimal("1234567890123456.7890123456789"));
    }

    #[test]
    fn decimals_compare_exactly_with_integers() {
        use Ordering::{Equal, Greater, Less};
        for (text, bound, expect) in [
            ("10", 10, Equal),
            ("10.000", 10, Equal),
            ("10.001", 10, Greater),
            ("9.999", 10, Less),
            ("9.5", 10, Less),
            ("-0.5", 0, Less),
            ("-0.0", 0, Equal),
            ("0.5", 0, Greater),
            ("-3", -3, Equal),
            ("-3.5", -3, Less),
            ("-2.5", -3, Greater),
            ("-2.5", 5, Less),
            ("2.5", -5, Greater),
            ("9999999999999999999999999999", i64::MAX, Greater),
        ] {
            assert_eq!(decimal_cmp(text, bound), expect, "{text} vs {bound}");
        }
    }
}
