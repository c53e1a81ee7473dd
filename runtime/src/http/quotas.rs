//! The plan's quotas over HTTP: the rate quotas' refusal (429
//! `quota-exhausted`, made by the authentication middleware through
//! [`AppState::quotas`]) and `GET /usage`, each quota of the caller's plan
//! with what the tenant used of it.
//!
//! `GET /usage` is open to every member and API key of the tenant (no
//! permission: what the plan allows and how much is left is what any
//! caller needs to pace itself), is not counted against the rate quotas
//! and is answered when they are used up, so a tenant at its limit can
//! see when it resets.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ApiError, AppState};
use crate::app_spec::{Period, QuotaLimit};
use crate::auth::Principal;
use crate::quota::{QuotaState, Window};
use crate::repo::Table;

impl AppState {
    /// This process's reservations of rate quotas.
    pub(crate) fn quotas(&self) -> &crate::quota::Quotas {
        &self.inner.quotas
    }

    /// Gives back the calls of the tenants' rate quotas (`api_calls =
    /// "1000/month"`) that this process reserved and did not spend, so
    /// the next process starts where this one stopped. `serve` does it
    /// once it has stopped serving; a binary of your own that serves
    /// [`App::router`](super::App::router) calls it the same way
    /// (without it, each quota and tenant served keeps at most one block
    /// of calls counted as used until its window ends). Calls that could
    /// not be given back stay counted, and the last error is returned.
    ///
    /// ```no_run
    /// # async fn stopped(state: rookery::AppState) {
    /// // The server has stopped: give back what it reserved.
    /// if let Err(e) = state.release_quotas().await {
    ///     eprintln!("unspent quota calls not given back: {e}");
    /// }
    /// # }
    /// ```
    pub async fn release_quotas(&self) -> Result<(), crate::db::DbError> {
        self.inner.quotas.release(&self.inner.db).await
    }

    /// Moves the rate quotas' clock by `seconds` (windows roll over
    /// without waiting).
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn test_shift_quota_clock(&self, seconds: i64) {
        self.inner.quotas.shift(seconds);
    }
}

impl ApiError {
    /// The 429 of a rate quota used up at `now`.
    pub(crate) fn quota_exhausted(state: QuotaState, now: DateTime<Utc>) -> Self {
        Self::QuotaExhausted {
            quota: state.quota.to_owned(),
            limit: state.limit,
            period: state.period,
            window_start: state.window.start,
            resets_at: state.window.end,
            retry_after: state.window.reset_in(now),
        }
    }
}

/// The router of `GET /usage`, authenticated apart from the other
/// routes (see the module's documentation).
pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/usage", get(usage))
}

/// `GET /usage`.
#[derive(Debug, Serialize)]
struct Usage {
    plan: &'static str,
    quotas: Vec<QuotaUsage>,
}

/// One quota of the plan.
#[derive(Debug, Serialize)]
struct QuotaUsage {
    name: &'static str,
    /// `rate` (calls per window) or `count` (what exists now).
    kind: &'static str,
    used: u64,
    limit: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    window_start: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resets_at: Option<DateTime<Utc>>,
}

/// The members quota: active members plus pending invitations, as the
/// invitation route counts them.
const MEMBERS_USED: &str = "SELECT (SELECT count(*) FROM memberships WHERE tenant_id = $1 AND status = 'active') \
     + (SELECT count(*) FROM invitations WHERE tenant_id = $1 AND accepted_at IS NULL AND expires_at > $2)";

async fn usage(State(state): State<AppState>, principal: Principal) -> Result<Json<Usage>, ApiError> {
    let plan = principal.info.plan;
    let now = state.quotas().now();
    let mut tx = state.db().begin(principal.tenant).await?;
    let mut quotas = Vec::with_capacity(plan.quotas.len());
    for quota in plan.quotas {
        let entry = match quota.limit {
            QuotaLimit::PerPeriod(limit, period) => {
                let window = Window::of(period, now);
                let reserved = tx.quota_used(quota.name, window.start).await?;
                let unspent = state.quotas().unspent(principal.tenant, quota.name, window.start);
                QuotaUsage {
                    name: quota.name,
                    kind: "rate",
                    used: reserved.saturating_sub(unspent),
                    limit,
                    period: Some(period_name(period)),
                    window_start: Some(window.start),
                    resets_at: Some(window.end),
                }
            }
            QuotaLimit::Count(limit) => {
                let used = if quota.name == "members" {
                    let (n,): (i64,) = tx.sql(MEMBERS_USED).bind(now).fetch_one().await?;
                    n
                } else {
                    let mut n = 0;
                    for def in state.models().iter().filter(|m| m.quota == Some(quota.name)) {
                        n += Table::new(&mut tx, def).count().await?;
                    }
                    n
                };
                QuotaUsage {
                    name: quota.name,
                    kind: "count",
                    used: u64::try_from(used).unwrap_or(0),
                    limit,
                    period: None,
                    window_start: None,
                    resets_at: None,
                }
            }
        };
        quotas.push(entry);
    }
    tx.finish_read();
    Ok(Json(Usage {
        plan: plan.name,
        quotas,
    }))
}

/// How a period is written in the spec, the answers and the problems.
pub(crate) fn period_name(period: Period) -> &'static str {
    match period {
        Period::Second => "second",
        Period::Minute => "minute",
        Period::Hour => "hour",
        Period::Day => "day",
        Period::Month => "month",
    }
}
