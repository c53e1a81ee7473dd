//! Usage analytics per tenant, for the platform's operator: per UTC day,
//! the API requests a tenant made, its active members (those who made one
//! with an access token) and its rows per model.
//!
//! - **Requests and members** are counted by the authentication middleware
//!   once a request is admitted (its tenant and principal known, its rate
//!   limit passed) into this process's [`Tally`]: a lock of one of a few
//!   small maps, no database write. [`flush_every`] (run by `serve`) adds
//!   the counts to the usage tables every [`FLUSH_INTERVAL`] and when
//!   serving stops, one writing transaction per tenant; counts a flush
//!   could not write stay for the next one. Every instance adds its own.
//! - **Rows per model** are counted by a daily job per tenant
//!   ([`count::CountUsage`], in the tenant's transaction), which also
//!   prunes usage older than [`count::RETENTION`].
//! - **Reading** is the operator's: [`Db::usage`](crate::db::Db::usage),
//!   which `<app> usage` prints, as the tables' owner.

mod count;
mod tally;

use std::sync::Arc;
use std::time::Duration;

pub(crate) use count::{Models, register};
pub(crate) use tally::Tally;

use crate::db::Db;

/// How often `serve` writes what it counted.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_secs(60);

/// Writes `tally`'s counts into `db` every `every` until `stop` completes,
/// then once more (the requests served since the last flush).
pub(crate) async fn flush_every(tally: Arc<Tally>, db: Db, every: Duration, stop: impl Future<Output = ()>) {
    let mut stop = std::pin::pin!(stop);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                // A failure is logged, and its counts wait for the next tick.
                let _ = tally.flush(&db).await;
            }
            () = &mut stop => break,
        }
    }
    if tally.flush(&db).await.is_err() {
        tracing::warn!("serving stopped with usage counts the database did not take: they are lost");
    }
}
