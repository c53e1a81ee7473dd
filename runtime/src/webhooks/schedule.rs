//! When to try a failed delivery again, and when to give up on an
//! endpoint. Pure functions: the job that delivers calls them with what
//! it stored and a random sample, so they are tested without a clock.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::outcome::DeliveryOutcome;

/// The delay before each attempt, the first immediately: Svix's schedule
/// (the Standard Webhooks spec's example, stopped at 10 hours). Eight
/// attempts over about 27.5 hours.
pub const SCHEDULE: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// Each delay is stretched or shrunk by up to this fraction, so endpoints
/// that failed together are not all retried in the same second.
pub const JITTER: f64 = 0.1;

/// The longest `Retry-After` honoured; a longer one waits this long.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// An endpoint failing without a single delivery for this long is
/// disabled (and its owner told).
pub const DISABLE_AFTER: TimeDelta = TimeDelta::days(5);

/// How long to wait before the next attempt after `attempts` attempts
/// (1 or more) failed, or `None` when the schedule is spent. `sample` is
/// uniform in `[0, 1)` (e.g. `rand::random()`), the jitter's draw. A
/// `retry_after` the endpoint asked for, capped at [`RETRY_AFTER_CAP`],
/// is waited at least.
pub fn next_retry(attempts: u32, retry_after: Option<Duration>, sample: f64) -> Option<Duration> {
    let base = *SCHEDULE.get(usize::try_from(attempts).ok()?)?;
    let factor = 1.0 + JITTER * (2.0 * sample.clamp(0.0, 1.0) - 1.0);
    let jittered = base.mul_f64(factor);
    Some(jittered.max(retry_after.unwrap_or_default().min(RETRY_AFTER_CAP)))
}

/// How an endpoint stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointHealth {
    /// It just took a delivery.
    Healthy,
    /// It has failed every attempt since `since` (keep this to pass back
    /// in next time).
    Failing {
        /// The first failure of the current run.
        since: DateTime<Utc>,
    },
    /// Stop delivering to it, and tell its owner why.
    Disable {
        /// Why.
        reason: DisableReason,
    },
}

/// Why an endpoint is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisableReason {
    /// It answered `410 Gone`.
    Gone,
    /// It failed every attempt for [`DISABLE_AFTER`], since `since`.
    FailingSince {
        /// The first failure of the run.
        since: DateTime<Utc>,
    },
}

/// The endpoint's health after `outcome` at `now`, given when its current
/// run of failures began (`None`: its last attempt succeeded, or it is
/// new).
pub fn endpoint_health(
    failing_since: Option<DateTime<Utc>>,
    outcome: &DeliveryOutcome,
    now: DateTime<Utc>,
) -> EndpointHealth {
    if outcome.gone() {
        return EndpointHealth::Disable {
            reason: DisableReason::Gone,
        };
    }
    if outcome.delivered() {
        return EndpointHealth::Healthy;
    }
    let since = failing_since.unwrap_or(now);
    if now - since >= DISABLE_AFTER {
        EndpointHealth::Disable {
            reason: DisableReason::FailingSince { since },
        }
    } else {
        EndpointHealth::Failing { since }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeDelta, TimeZone as _, Utc};

    use super::{DisableReason, EndpointHealth, SCHEDULE, endpoint_health, next_retry};
    use crate::webhooks::outcome::{DeliveryError, DeliveryOutcome};

    #[test]
    fn the_schedule_backs_off_for_hours_then_stops() {
        let middle: Vec<Duration> = (1..8).map(|n| next_retry(n, None, 0.5).unwrap()).collect();
        assert_eq!(middle, SCHEDULE[1..]);
        assert_eq!(next_retry(8, None, 0.5), None, "eight attempts in all");
        assert_eq!(next_retry(u32::MAX, None, 0.5), None);
        let total: Duration = SCHEDULE.iter().sum();
        assert!(total > Duration::from_secs(27 * 3600), "{total:?}");
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let five_min = Duration::from_secs(300);
        assert_eq!(next_retry(2, None, 0.0).unwrap(), five_min.mul_f64(0.9));
        assert_eq!(next_retry(2, None, 0.999_999).unwrap().as_secs(), 329);
        assert_eq!(
            next_retry(2, None, 7.0).unwrap(),
            five_min.mul_f64(1.1),
            "a bad sample is clamped"
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_an_hour() {
        assert_eq!(
            next_retry(1, Some(Duration::from_secs(120)), 0.5).unwrap(),
            Duration::from_secs(120)
        );
        assert_eq!(
            next_retry(1, Some(Duration::from_secs(86_400)), 0.5).unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(next_retry(6, Some(Duration::from_secs(1)), 0.5).unwrap(), SCHEDULE[6]);
    }

    fn outcome(status: Option<u16>, error: Option<DeliveryError>) -> DeliveryOutcome {
        DeliveryOutcome {
            status,
            latency: Duration::ZERO,
            error,
            response: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn an_endpoint_failing_for_five_days_or_gone_is_disabled() {
        let t0 = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let ok = outcome(Some(200), None);
        let failed = outcome(Some(500), Some(DeliveryError::Status { status: 500 }));
        let gone = outcome(Some(410), Some(DeliveryError::Status { status: 410 }));
        assert_eq!(endpoint_health(Some(t0), &ok, t0), EndpointHealth::Healthy);
        assert_eq!(
            endpoint_health(None, &failed, t0),
            EndpointHealth::Failing { since: t0 }
        );
        let later = t0 + TimeDelta::days(4);
        assert_eq!(
            endpoint_health(Some(t0), &failed, later),
            EndpointHealth::Failing { since: t0 }
        );
        assert_eq!(
            endpoint_health(Some(t0), &failed, t0 + TimeDelta::days(5)),
            EndpointHealth::Disable {
                reason: DisableReason::FailingSince { since: t0 }
            }
        );
        assert_eq!(
            endpoint_health(None, &gone, t0),
            EndpointHealth::Disable {
                reason: DisableReason::Gone
            }
        );
    }
}
