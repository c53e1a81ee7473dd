//! The request's deadline, as seen by the database layer.
//!
//! The HTTP layer runs each API request inside [`scope`] with the instant
//! `ROOKERY_REQUEST_TIMEOUT` allows. Every statement, and every wait for a
//! connection, then fails with [`DbError::Timeout`] once that instant has
//! passed (checked before it starts, and while it waits); the handler's
//! error drops its transaction, which rolls back. A `COMMIT` is never cut
//! short: a request either commits all it wrote or nothing, and its client
//! is told which.

use std::future::Future;

use tokio::time::Instant;

use super::DbError;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `f` with `deadline` as the limit of its database work.
pub async fn scope<F: Future>(deadline: Instant, f: F) -> F::Output {
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
    match tokio::time::timeout_at(deadline, step).await {
        Ok(result) => result.map_err(DbError::from),
        Err(_) => Err(DbError::Timeout),
    }
}
