//! PostgreSQL reads in one round trip.
//!
//! A tenant-scoped read must run after `app.tenant_id` is set in its own
//! transaction. An explicit transaction costs three round trips (`BEGIN` +
//! the setting, the query, the `ROLLBACK`); this sends one simple-query
//! message instead:
//!
//! ```sql
//! SET TRANSACTION READ ONLY; SET LOCAL app.tenant_id = '<tenant uuid>';
//! EXECUTE rookery_7('<v1>', '<v2>')
//! ```
//!
//! PostgreSQL runs the statements of one such message as one implicit
//! transaction, so the setting is in force for the `EXECUTE` and gone when
//! the message ends: a pooled connection never carries a tenant onwards.
//! The transaction is read-only, so a write slipped into a read fails
//! instead of committing on its own.
//! `rookery_<n>` is the statement's SQL `PREPARE`d on that connection the
//! first time it is needed there (its plan is cached like any prepared
//! statement's), numbered per process by SQL text, so two texts never share
//! a name.
//!
//! A connection that finished such a message is left exactly as it was
//! found: no transaction, no setting, nothing unread. So instead of going
//! back to sqlx's pool, which pings every returned connection (one more
//! round trip, about a tenth of the server's CPU per read), it waits in a
//! small [`ReadCache`] for the next read. The cache holds at most half the
//! pool, so writers always find connections; a read that did not finish
//! (an error, or a request dropped mid-flight) returns its connection to the
//! pool the normal way, where the ping drains whatever was left.
//!
//! The values travel as quoted literals. Each is printed in its type's
//! canonical text form and quoted by doubling `'`, which is the whole of
//! quoting when `standard_conforming_strings` is on; every connection turns
//! it on at start-up ([`super::Db::connect`]), and a value with a NUL byte
//! (which PostgreSQL text cannot hold) is refused before anything is sent.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::{AssertSqlSafe, Executor as _, Postgres};

use super::bind::{Bind, format_datetime};
use crate::model::{TenantId, Value};

/// SQLSTATE `invalid_sql_statement_name`: the connection has not prepared
/// this statement yet.
const NOT_PREPARED: &str = "26000";

/// Statement numbers by SQL text, for this process.
static NAMES: LazyLock<RwLock<HashMap<Arc<str>, u32>>> = LazyLock::new(Default::default);

fn statement_number(sql: &str) -> u32 {
    if let Some(n) = NAMES.read().unwrap_or_else(|e| e.into_inner()).get(sql) {
        return *n;
    }
    let mut names = NAMES.write().unwrap_or_else(|e| e.into_inner());
    let next = u32::try_from(names.len()).unwrap_or(u32::MAX);
    *names.entry(Arc::from(sql)).or_insert(next)
}

/// Connections that finished a one-message read, kept for the next one.
#[derive(Debug)]
pub(crate) struct ReadCache {
    idle: Mutex<Vec<PoolConnection<Postgres>>>,
    cap: usize,
    /// Set when the pool closes: from then on nothing is cached.
    closed: AtomicBool,
}

impl ReadCache {
    /// A cache holding at most half of a pool of `max_connections`.
    pub(crate) fn new(max_connections: u32) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            cap: usize::try_from(max_connections / 2).unwrap_or(0),
            closed: AtomicBool::new(false),
        }
    }

    /// A connection for a read: a cached one, else one from the pool.
    pub(crate) async fn acquire(self: &Arc<Self>, pool: &PgPool) -> Result<ReadConn, sqlx::Error> {
        let cached = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match cached {
            Some(conn) => conn,
            None => pool.acquire().await?,
        };
        Ok(ReadConn {
            conn: Some(conn),
            cache: Arc::clone(self),
            clean: false,
        })
    }

    /// Hands one cached connection back to the pool when the pool has none
    /// idle, so a writer never waits while readers' connections sit here.
    pub(crate) fn yield_to(&self, pool: &PgPool) {
        if pool.num_idle() == 0 {
            let conn = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            drop(conn);
        }
    }

    /// Takes a cached connection, if any (tests look at what it carries).
    #[cfg(feature = "testing")]
    pub(crate) fn take_idle(&self) -> Option<PoolConnection<Postgres>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// Lets every cached connection go back to the pool and caches no more
    /// (the pool is closing: it waits for every connection to come back).
    pub(crate) fn close(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        self.closed.store(true, Ordering::SeqCst);
        idle.clear();
    }
}

/// A connection lent to one reading transaction.
#[derive(Debug)]
pub(crate) struct ReadConn {
    conn: Option<PoolConnection<Postgres>>,
    cache: Arc<ReadCache>,
    /// Whether the last message finished (false before the first).
    clean: bool,
}

impl ReadConn {
    /// Runs one read ([`fetch_all`]); the connection counts as clean only
    /// when it succeeded.
    pub(crate) async fn fetch_all(
        &mut self,
        tenant: TenantId,
        sql: &str,
        binds: &[Bind],
    ) -> Result<Vec<PgRow>, sqlx::Error> {
        self.clean = false;
        let conn = self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        let rows = fetch_all(conn, tenant, sql, binds).await?;
        self.clean = true;
        Ok(rows)
    }
}

impl Drop for ReadConn {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if self.clean {
            // Checked under the lock `close` takes, so nothing is cached
            // after the pool began to close.
            let mut idle = self.cache.idle.lock().unwrap_or_else(|e| e.into_inner());
            if !self.cache.closed.load(Ordering::SeqCst) && idle.len() < self.cache.cap {
                idle.push(conn);
                return;
            }
        }
        drop(conn); // back to the pool, which pings it
    }
}

/// A value the one-message form cannot carry.
#[derive(Debug, thiserror::Error)]
#[error("a text value contains a NUL byte, which PostgreSQL cannot store")]
pub(crate) struct NulByte;

/// Runs `sql` (a single `SELECT`, parameters `$1…`) with `binds`, tenant
/// `tenant` set, in one round trip (two the first time the connection meets
/// the statement).
async fn fetch_all(
    conn: &mut PgConnection,
    tenant: TenantId,
    sql: &str,
    binds: &[Bind],
) -> Result<Vec<PgRow>, sqlx::Error> {
    let n = statement_number(sql);
    let message = message(tenant, n, binds).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    match sqlx::raw_sql(AssertSqlSafe(message.clone()))
        .fetch_all(&mut *conn)
        .await
    {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(NOT_PREPARED) => {
            conn.execute(AssertSqlSafe(format!("PREPARE rookery_{n} AS {sql}")))
                .await?;
            sqlx::raw_sql(AssertSqlSafe(message)).fetch_all(conn).await
        }
        other => other,
    }
}

/// `SET TRANSACTION READ ONLY; SET LOCAL app.tenant_id = '…'; EXECUTE rookery_<n>(…)`.
fn message(tenant: TenantId, n: u32, binds: &[Bind]) -> Result<String, NulByte> {
    let mut out = String::with_capacity(96 + 24 * binds.len());
    let _ = write!(
        out,
        "SET TRANSACTION READ ONLY; SET LOCAL app.tenant_id = '{}'; EXECUTE rookery_{n}",
        tenant.0.hyphenated()
    );
    for (i, bind) in binds.iter().enumerate() {
        out.push_str(if i == 0 { "(" } else { ", " });
        push_literal(&mut out, &bind.value)?;
    }
    if !binds.is_empty() {
        out.push(')');
    }
    Ok(out)
}

/// Appends `value` as an untyped literal (PostgreSQL reads it with the
/// parameter's input function, as it would a bound text value).
fn push_literal(out: &mut String, value: &Value) -> Result<(), NulByte> {
    match value {
        Value::Null => {
            out.push_str("NULL");
            return Ok(());
        }
        Value::Text(s) => return push_quoted(out, s),
        Value::Json(v) => return push_quoted(out, &v.to_string()),
        _ => {}
    }
    // Every other form is made of digits, signs, hex, `-:.TZ`: nothing to escape.
    out.push('\'');
    let _ = match value {
        Value::Bool(v) => write!(out, "{}", if *v { "t" } else { "f" }),
        Value::Int(v) => write!(out, "{v}"),
        Value::BigInt(v) => write!(out, "{v}"),
        Value::Decimal(v) => write!(out, "{v}"),
        Value::Date(v) => write!(out, "{}", v.format("%Y-%m-%d")),
        Value::DateTime(v) => write!(out, "{}", format_datetime(*v)),
        Value::Uuid(v) => write!(out, "{}", v.hyphenated()),
        Value::Bytes(v) => {
            out.push_str("\\x");
            for b in v {
                let _ = write!(out, "{b:02x}");
            }
            Ok(())
        }
        Value::Null | Value::Text(_) | Value::Json(_) => Ok(()),
    };
    out.push('\'');
    Ok(())
}

fn push_quoted(out: &mut String, s: &str) -> Result<(), NulByte> {
    if s.contains('\0') {
        return Err(NulByte);
    }
    out.reserve(s.len() + 2);
    out.push('\'');
    for part in s.split_inclusive('\'') {
        out.push_str(part);
        if part.ends_with('\'') {
            out.push('\'');
        }
    }
    out.push('\'');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FieldType;

    fn tenant() -> TenantId {
        TenantId("0192f7a0-0000-7000-8000-000000000001".parse().unwrap())
    }

    #[test]
    fn quotes_by_doubling_single_quotes_only() {
        let binds = [
            Bind::new(Value::Text("it's a \\ test''".into()), FieldType::Text),
            Bind::new(Value::BigInt(-20), FieldType::BigInt),
            Bind::new(Value::Null, FieldType::Text),
            Bind::new(Value::Bytes(vec![0, 0xab]), FieldType::Text),
        ];
        assert_eq!(
            message(tenant(), 3, &binds).unwrap(),
            "SET TRANSACTION READ ONLY; SET LOCAL app.tenant_id = '0192f7a0-0000-7000-8000-000000000001'; \
             EXECUTE rookery_3('it''s a \\ test''''', '-20', NULL, '\\x00ab')"
        );
    }

    #[test]
    fn refuses_nul_bytes() {
        let binds = [Bind::new(Value::Text("a\0b".into()), FieldType::Text)];
        assert!(message(tenant(), 0, &binds).is_err());
    }

    #[test]
    fn numbers_statements_by_text() {
        let a = statement_number("SELECT 1 /* oneshot test a */");
        let b = statement_number("SELECT 1 /* oneshot test b */");
        assert_ne!(a, b);
        assert_eq!(a, statement_number("SELECT 1 /* oneshot test a */"));
    }
}
