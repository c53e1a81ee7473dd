//! The windows of rate quotas: UTC calendar hours, days and months.

use chrono::{DateTime, Datelike as _, NaiveDate, TimeZone as _, Timelike as _, Utc};

use crate::app_spec::Period;

/// One window of a rate quota: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// When it began (the key of its count).
    pub start: DateTime<Utc>,
    /// When the next one begins (the reset).
    pub end: DateTime<Utc>,
}

impl Window {
    /// The window of `period` that contains `now`: the UTC calendar hour,
    /// day or month (seconds and minutes, which the checker refuses for
    /// quotas, are aligned to Unix time as the rate limit's are).
    pub(crate) fn of(period: Period, now: DateTime<Utc>) -> Self {
        let day = now.date_naive();
        let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
        match period {
            Period::Hour => {
                let start = midnight(day) + chrono::TimeDelta::hours(i64::from(now.hour()));
                Self {
                    start,
                    end: start + chrono::TimeDelta::hours(1),
                }
            }
            Period::Day => {
                let start = midnight(day);
                Self {
                    start,
                    end: start + chrono::TimeDelta::days(1),
                }
            }
            Period::Month => {
                let first = day.with_day(1).unwrap_or(day);
                let next = first
                    .checked_add_months(chrono::Months::new(1))
                    .unwrap_or(NaiveDate::MAX);
                Self {
                    start: midnight(first),
                    end: midnight(next),
                }
            }
            Period::Second | Period::Minute => {
                let length = i64::try_from(period.seconds()).unwrap_or(1);
                let secs = now.timestamp().div_euclid(length) * length;
                let start = DateTime::from_timestamp(secs, 0).unwrap_or(now);
                Self {
                    start,
                    end: start + chrono::TimeDelta::seconds(length),
                }
            }
        }
    }

    /// Whole seconds from `now` until it ends, at least 1 while it lasts.
    pub(crate) fn reset_in(&self, now: DateTime<Utc>) -> u64 {
        let millis = u64::try_from((self.end - now).num_milliseconds()).unwrap_or(0);
        millis.div_ceil(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("an instant")
    }

    #[test]
    fn windows_are_utc_calendar_periods() {
        let now = at("2024-02-29T13:45:10.5Z");
        let month = Window::of(Period::Month, now);
        assert_eq!(
            (month.start, month.end),
            (at("2024-02-01T00:00:00Z"), at("2024-03-01T00:00:00Z"))
        );
        assert_eq!((month.end - month.start).num_days(), 29);
        let day = Window::of(Period::Day, now);
        assert_eq!(
            (day.start, day.end),
            (at("2024-02-29T00:00:00Z"), at("2024-03-01T00:00:00Z"))
        );
        let hour = Window::of(Period::Hour, now);
        assert_eq!(
            (hour.start, hour.end),
            (at("2024-02-29T13:00:00Z"), at("2024-02-29T14:00:00Z"))
        );
        assert_eq!(hour.reset_in(now), 14 * 60 + 50);
        let december = Window::of(Period::Month, at("2023-12-31T23:59:59Z"));
        assert_eq!(december.end, at("2024-01-01T00:00:00Z"));
        // The last instant of a window is in it; the end is the next one's.
        assert_eq!(Window::of(Period::Day, at("2024-03-01T00:00:00Z")).start, day.end);
        assert_eq!(hour.reset_in(at("2024-02-29T13:59:59.9Z")), 1);
    }
}
