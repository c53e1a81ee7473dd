//! The request's deadline, as seen by the database layer.
//!
//! The HTTP layer runs each API request inside [`scope`] with the instant
//! `ROOKERY_REQUEST_TIMEOUT` allows. Every statement, and every wait for a
//! connection, that would start after that instant fails with
//! [`DbError::Timeout`]; the handler's error drops its transaction, which
//! rolls back. A `COMMIT` is never cut short: a request either commits all
//! it wrote or nothing, and its client is told which.
//!
//! A step already running is not interrupted: that would take a timer per
//! statement on the hot path (here) or `statement_timeout`'s timer per
//! statement (in PostgreSQL), and neither showed a clear enough effect in
//! this machine's noisy side-by-side runs to justify the cost. Waiting for
//! a pooled connection gives up after 10 s; set `statement_timeout` on the
//! database role to bound a single statement.

use std::future::Future;

use tokio::time::Instant;

use super::DbError;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `f` with `deadline` as the limit of its database work.
pub(crate) async fn scope<F: Future>(deadline: Instant, f: F) -> F::Output {
    DEADLINE.scope(deadline, f).await
}

/// Runs one database step within the current request's deadline (no limit
/// outside a request).
pub(crate) async fn within<T, E>(step: impl Future<Output = Result<T, E>>) -> Result<T, DbError>
where
    DbError: From<E>,
{
    let Ok(deadline) = DEADLINE.try_with(|d| *d) else {
        return step.await.map_err(DbError::from);
    };
    if Instant::now() >= deadline {
        return Err(DbError::Timeout);
    }
    step.await.map_err(DbError::from)
}
