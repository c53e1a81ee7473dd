//! PostgreSQL statements in one round trip.
//!
//! A tenant-scoped statement must run after `app.tenant_id` is set in its
//! own transaction. An explicit transaction costs three round trips
//! (`BEGIN` + the setting, the statement, the `COMMIT` or `ROLLBACK`);
//! this path sends one instead.
//!
//! A read (a `SELECT` or `WITH` query) is one statement of the extended
//! protocol that sets the tenant itself ([`message::lateral`]):
//!
//! ```sql
//! SELECT rookery_q.* FROM (SELECT set_config('app.tenant_id', $n, true) AS tenant,
//!                                 set_config('transaction_read_only', 'on', true) AS ro) AS rookery_t
//! CROSS JOIN LATERAL (SELECT * FROM (<the read>) AS rookery_s
//!                     WHERE rookery_t.tenant IS NOT NULL OFFSET 0) AS rookery_q
//! ```
//!
//! with bound parameters and binary results, prepared once per connection
//! by sqlx's statement cache: what a read without row-level security
//! costs, plus one `set_config`. Its implicit transaction ends with the
//! statement, and the setting with it. Anything else a read runs, and
//! every write that is a transaction of one statement (a create and its
//! audit row, see `repo`), is one simple-query message:
//!
//! ```sql
//! SET TRANSACTION READ ONLY; SET LOCAL app.tenant_id = '<tenant uuid>';
//! EXECUTE rookery_<hash>(E'<v1>', E'<v2>')
//! BEGIN; SET LOCAL app.tenant_id = '<tenant uuid>'; EXECUTE rookery_<hash>(…); COMMIT
//! ```
//!
//! PostgreSQL runs the statements of a read's message as one implicit
//! transaction, so the setting is in force for the `EXECUTE` and gone when
//! the message ends: a pooled connection never carries a tenant onwards.
//! A read's transaction is read-only, so a write slipped into a read fails
//! instead of committing on its own. A write spells its transaction out:
//! should the connection still be inside a transaction that a cancelled
//! `BEGIN` left behind (sqlx does not roll those back), the `COMMIT` ends
//! it with the write instead of leaving the write uncommitted. When the
//! statement fails, PostgreSQL skips the rest of the message and a
//! write's transaction stays open and failed: the connection sends
//! `ROLLBACK` before anyone else gets it, and a write cut off mid-message
//! closes its connection instead of returning it to the pool (`cache.rs`
//! says what happens to a connection in each state).
//!
//! `rookery_<hash>` is the statement `PREPARE`d on that connection, with
//! explicit parameter types, the first time it is needed there (its plan is
//! cached like any prepared statement's). The name is a hash of the SQL
//! text and the parameter types defined by this code (`message.rs`), so it
//! means the same statement in every process and build. `PREPARE` is
//! session state, and so is sqlx's statement cache: a pooler in
//! transaction mode, which moves a client between server sessions, breaks
//! this path (README, "Connection poolers"). A process prepares at most
//! [`message::MAX_SHAPES`] distinct message statements; past that, and
//! for values that have no literal form here, a statement runs in an
//! explicit transaction with bound parameters instead.
//!
//! The parts: `literal.rs` renders values (the only place the runtime
//! writes a value into SQL text), `message.rs` builds the message, names
//! the statement and wraps a read, `cache.rs` keeps finished connections
//! for the next statement.

mod cache;
mod literal;
mod message;

use futures_util::TryStreamExt as _;
use futures_util::stream::BoxStream;
use sqlx::postgres::{PgConnection, PgQueryResult, PgRow};
use sqlx::{AssertSqlSafe, Connection as _, Either, Executor as _};

pub(crate) use cache::{Cache, Conn, Limits};

/// How many statements sqlx keeps prepared on one connection (its
/// statement cache, where the one-statement reads live): as many as the
/// message path prepares.
pub(crate) const STATEMENTS_PER_CONNECTION: usize = message::MAX_SHAPES;

use super::bind::{Bind, bind_pg};
use crate::model::TenantId;

/// SQLSTATE `invalid_sql_statement_name`: the connection has not prepared
/// this statement yet.
const NOT_PREPARED: &str = "26000";
/// SQLSTATE `feature_not_supported`, which PostgreSQL raises as "cached plan
/// must not change result type" after a migration changed a column's type.
const STALE_PLAN: &str = "0A000";

/// What a one-message statement may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read, in a read-only transaction of its own.
    Read,
    /// Write, in a transaction of its own that commits when it ends.
    Write,
}

/// What a statement returned: its rows and how many rows it changed.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) rows: Vec<PgRow>,
    pub(crate) affected: u64,
}

/// How a statement travels, decided before anything is sent (so that
/// [`Conn`] knows what a drop mid-flight leaves behind).
#[derive(Debug)]
enum Plan {
    /// A read as one statement of the extended protocol that sets the
    /// tenant itself ([`message::lateral`]): bound parameters, binary
    /// results, the statement prepared by sqlx's cache.
    Lateral(String),
    /// One message executing the prepared statement `name`.
    Message {
        name: String,
        types: Vec<&'static str>,
        message: String,
    },
    /// An explicit transaction with bound parameters: the process is at
    /// its statement limit, or a value has no literal form.
    Bound,
}

/// The plan for `sql` with `binds`.
fn plan(access: Access, tenant: TenantId, sql: &str, binds: &[Bind]) -> Plan {
    if access == Access::Read
        && let Some(sql) = message::lateral(sql, binds.len())
    {
        return Plan::Lateral(sql);
    }
    let types: Vec<&'static str> = binds.iter().map(message::pg_type).collect();
    let Some(name) = message::statement_name(sql, &types) else {
        return Plan::Bound;
    };
    match message::message(access, tenant, &name, binds) {
        Ok(message) => Plan::Message { name, types, message },
        Err(_no_literal) => Plan::Bound,
    }
}

/// Runs `sql` (one statement, parameters `$1…`) with `binds`, tenant
/// `tenant` set, as `plan` says: one round trip (two the first time the
/// connection meets the statement), or the bound-parameter transaction.
async fn run(
    conn: &mut PgConnection,
    access: Access,
    tenant: TenantId,
    sql: &str,
    binds: &[Bind],
    plan: Plan,
) -> Result<Outcome, sqlx::Error> {
    let (name, types, message) = match plan {
        Plan::Message { name, types, message } => (name, types, message),
        // Boxed, like `bound`: the request's future would otherwise
        // carry this one's sqlx stream beside the message's.
        Plan::Lateral(wrapped) => return Box::pin(lateral(conn, tenant, sql, wrapped, binds)).await,
        // Boxed: its sqlx transaction is a future of kilobytes, which
        // would otherwise be copied with every statement's.
        Plan::Bound => return Box::pin(bound(conn, access, tenant, sql, binds)).await,
    };
    match collect(sqlx::raw_sql(AssertSqlSafe(message)).fetch_many(&mut *conn)).await {
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some(NOT_PREPARED | STALE_PLAN)) => {
            // Nothing committed; a write's transaction is open and failed.
            if access == Access::Write {
                conn.execute("ROLLBACK").await?;
            }
            if e.code().as_deref() == Some(STALE_PLAN) {
                conn.execute(AssertSqlSafe(format!("DEALLOCATE {name}"))).await?;
            }
            conn.execute(AssertSqlSafe(message::prepare(&name, &types, sql)))
                .await?;
            // Built again rather than cloned up front: this path runs once
            // per connection and statement, the clone would run every time.
            let Ok(message) = message::message(access, tenant, &name, binds) else {
                unreachable!("the message was built from these binds above")
            };
            collect(sqlx::raw_sql(AssertSqlSafe(message)).fetch_many(conn)).await
        }
        other => other,
    }
}

/// Gathers the rows and the changed-row counts of a statement's results.
async fn collect(
    mut results: BoxStream<'_, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>,
) -> Result<Outcome, sqlx::Error> {
    let mut outcome = Outcome::default();
    while let Some(result) = results.try_next().await? {
        match result {
            Either::Left(done) => outcome.affected += done.rows_affected(),
            Either::Right(row) => outcome.rows.push(row),
        }
    }
    Ok(outcome)
}

/// A read as [`Plan::Lateral`]: one round trip (two the first time the
/// connection meets the statement, which sqlx then keeps prepared).
async fn lateral(
    conn: &mut PgConnection,
    tenant: TenantId,
    sql: &str,
    wrapped: String,
    binds: &[Bind],
) -> Result<Outcome, sqlx::Error> {
    let query = |wrapped: String| {
        bind_pg(sqlx::query(AssertSqlSafe(wrapped)), binds.to_vec()).bind(tenant.0.hyphenated().to_string())
    };
    match collect(conn.fetch_many(query(wrapped))).await {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(STALE_PLAN) => {
            // A migration changed a column's type under the cached plan:
            // prepare anew (nothing was read, nothing is open). Wrapped
            // again rather than cloned up front: this runs once per
            // migration, the clone would run every read.
            conn.clear_cached_statements().await?;
            let Some(wrapped) = message::lateral(sql, binds.len()) else {
                unreachable!("the plan wrapped this statement above")
            };
            collect(conn.fetch_many(query(wrapped))).await
        }
        other => other,
    }
}

/// The statement in an explicit transaction with bound parameters (three
/// round trips), for what [`run`] cannot send as one message.
async fn bound(
    conn: &mut PgConnection,
    access: Access,
    tenant: TenantId,
    sql: &str,
    binds: &[Bind],
) -> Result<Outcome, sqlx::Error> {
    let begin = format!(
        "{}; SELECT set_config('app.tenant_id', '{}', true)",
        match access {
            Access::Read => "BEGIN READ ONLY",
            Access::Write => "BEGIN",
        },
        tenant.0.hyphenated()
    );
    let mut tx = conn.begin_with(AssertSqlSafe(begin)).await?;
    let query = bind_pg(sqlx::query(AssertSqlSafe(sql.to_owned())), binds.to_vec());
    let outcome = collect((&mut *tx).fetch_many(query)).await?;
    match access {
        Access::Read => tx.rollback().await?,
        Access::Write => tx.commit().await?,
    }
    Ok(outcome)
}
