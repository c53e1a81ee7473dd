//! PostgreSQL statements in one round trip.
//!
//! A tenant-scoped statement must run after `app.tenant_id` is set in its
//! own transaction. An explicit transaction costs three round trips
//! (`BEGIN` + the setting, the statement, the `COMMIT` or `ROLLBACK`); this
//! sends one simple-query message instead. A read:
//!
//! ```sql
//! SET TRANSACTION READ ONLY; SET LOCAL app.tenant_id = '<tenant uuid>';
//! EXECUTE rookery_<hash>(E'<v1>', E'<v2>')
//! ```
//!
//! and a write that is a transaction of one statement (a create and its
//! audit row, see `repo`):
//!
//! ```sql
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
//! statement fails, PostgreSQL skips the rest of the message and the
//! transaction stays open and failed: the connection sends `ROLLBACK`
//! before anyone else gets it, and a write cut off mid-message closes its
//! connection instead of returning it to the pool.
//!
//! `rookery_<hash>` is the statement `PREPARE`d on that connection, with
//! explicit parameter types, the first time it is needed there (its plan is
//! cached like any prepared statement's). The name is a hash of the SQL
//! text and the parameter types, so it means the same statement in every
//! process, even behind a pooler that moves server connections between
//! them. A process prepares at most [`MAX_SHAPES`] distinct statements;
//! past that, and for values that have no literal form here, a statement
//! runs in an explicit transaction with bound parameters instead.
//!
//! A connection that finished such a message is left exactly as it was
//! found: no transaction, no setting, nothing unread. So instead of going
//! back to sqlx's pool, which pings every returned connection (one more
//! round trip, about a tenth of the server's CPU per read), it waits in a
//! small [`Cache`] for the next statement, and a statement waiting for a
//! connection takes it from there as readily as from the pool. The cache
//! holds at most half the pool and keeps nothing while an explicit
//! transaction waits for the pool; a statement that did not finish (an
//! error, or a request dropped mid-flight) returns its connection to the
//! pool the normal way, where the ping drains whatever was left.
//!
//! The values travel as escape-string literals, `E'…'`, with `\` and `'`
//! doubled, which reads the same whatever `standard_conforming_strings`
//! says. Each value is printed in its type's canonical text form; a text
//! with a NUL byte (PostgreSQL text cannot hold one) and dates outside the
//! years 1–9999 take the bound-parameter path.

use std::collections::HashSet;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::hash::{Hash as _, Hasher as _};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use tokio::sync::oneshot;

use chrono::Datelike as _;
use futures_util::TryStreamExt as _;
use futures_util::stream::BoxStream;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool, PgQueryResult, PgRow};
use sqlx::{AssertSqlSafe, Connection as _, Either, Executor as _, Postgres};

use super::bind::{Bind, bind_pg, format_datetime};
use crate::model::{FieldType, KeyKind, TenantId, Value};

/// SQLSTATE `invalid_sql_statement_name`: the connection has not prepared
/// this statement yet.
const NOT_PREPARED: &str = "26000";
/// SQLSTATE `feature_not_supported`, which PostgreSQL raises as "cached plan
/// must not change result type" after a migration changed a column's type.
const STALE_PLAN: &str = "0A000";

/// How many distinct statements one process prepares at most. A model has
/// one list statement per set of filters, sort and cursor, so a handful;
/// the bound keeps a stream of odd shapes from growing every connection's
/// prepared statements without end.
pub(crate) const MAX_SHAPES: usize = 512;

/// Hashes of the statements this process prepares.
static SHAPES: LazyLock<RwLock<HashSet<u64>>> = LazyLock::new(Default::default);

/// The statement's name, or `None` when the process is at [`MAX_SHAPES`].
fn statement_name(sql: &str, types: &[&str]) -> Option<String> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    sql.hash(&mut hasher);
    types.hash(&mut hasher);
    let hash = hasher.finish();
    let known = SHAPES.read().unwrap_or_else(|e| e.into_inner()).contains(&hash);
    if !known {
        let mut shapes = SHAPES.write().unwrap_or_else(|e| e.into_inner());
        if shapes.len() >= MAX_SHAPES && !shapes.contains(&hash) {
            return None;
        }
        shapes.insert(hash);
    }
    Some(format!("rookery_{hash:016x}"))
}

/// The PostgreSQL type a parameter is prepared with: the value's own, or
/// for a `NULL` the column type the bind names.
fn pg_type(bind: &Bind) -> &'static str {
    match &bind.value {
        Value::Null => match bind.ty {
            FieldType::String | FieldType::Text | FieldType::Enum(_) => "text",
            FieldType::Int => "integer",
            FieldType::BigInt => "bigint",
            FieldType::Decimal => "numeric",
            FieldType::Bool => "boolean",
            FieldType::Date => "date",
            FieldType::DateTime => "timestamptz",
            FieldType::Uuid => "uuid",
            FieldType::Json => "jsonb",
            FieldType::Ref(target) => match target.key {
                KeyKind::BigInt => "bigint",
                KeyKind::Uuid => "uuid",
            },
        },
        Value::Bool(_) => "boolean",
        Value::Int(_) => "integer",
        Value::BigInt(_) => "bigint",
        Value::Text(_) => "text",
        Value::Decimal(_) => "numeric",
        Value::Date(_) => "date",
        Value::DateTime(_) => "timestamptz",
        Value::Uuid(_) => "uuid",
        Value::Json(_) => "jsonb",
        Value::Bytes(_) => "bytea",
    }
}

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

/// Connections that finished a one-message statement, kept for the next
/// one, and the statements waiting for one.
#[derive(Debug, Default)]
struct Idle {
    conns: Vec<PoolConnection<Postgres>>,
    /// First come, first served; a waiter that got a connection from the
    /// pool meanwhile has dropped its receiver and is skipped.
    waiters: VecDeque<oneshot::Sender<PoolConnection<Postgres>>>,
}

impl Idle {
    /// Gives `conn` to the first waiter still waiting; back when there is none.
    fn hand_over(&mut self, mut conn: PoolConnection<Postgres>) -> Option<PoolConnection<Postgres>> {
        while let Some(waiter) = self.waiters.pop_front() {
            match waiter.send(conn) {
                Ok(()) => return None,
                Err(back) => conn = back,
            }
        }
        Some(conn)
    }
}

/// Connections that finished a one-message statement, kept for the next one.
#[derive(Debug)]
pub(crate) struct Cache {
    idle: Mutex<Idle>,
    cap: usize,
    /// Set when the pool closes: from then on nothing is cached.
    closed: AtomicBool,
    /// Tasks waiting for a connection from the pool itself (explicit
    /// transactions): while there are any, finished statements hand their
    /// connections back to the pool instead of keeping them.
    waiting: AtomicUsize,
}

impl Cache {
    /// A cache holding at most half of a pool of `max_connections`.
    pub(crate) fn new(max_connections: u32) -> Self {
        Self {
            idle: Mutex::new(Idle::default()),
            cap: usize::try_from(max_connections / 2).unwrap_or(0),
            closed: AtomicBool::new(false),
            waiting: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection for one-message statements: a cached one when nobody
    /// waits for one, else the first of one from the pool and one another
    /// statement finishes with (in the order the statements came).
    pub(crate) async fn acquire(self: &Arc<Self>, pool: &PgPool) -> Result<Conn, sqlx::Error> {
        let waiting = {
            let mut idle = self.lock();
            idle.waiters.retain(|w| !w.is_closed());
            match idle.conns.pop() {
                Some(conn) if idle.waiters.is_empty() => Ok(conn),
                cached => {
                    let (tx, rx) = oneshot::channel();
                    idle.waiters.push_back(tx);
                    if let Some(conn) = cached.and_then(|conn| idle.hand_over(conn)) {
                        idle.conns.push(conn);
                    }
                    Err(rx)
                }
            }
        };
        let conn = match waiting {
            Ok(conn) => conn,
            // Boxed: sqlx's acquire is a future of kilobytes, which would
            // otherwise be part of (and copied with) every request's future.
            Err(handed) => Box::pin(Self::wait(pool, handed)).await?,
        };
        Ok(Conn {
            conn: Some(conn),
            cache: Arc::clone(self),
            clean: false,
            torn: false,
        })
    }

    /// Waits for the pool and for a hand-over at once. A connection handed
    /// over skips the pool's ping: under load, when every connection is
    /// busy, most statements get theirs this way.
    async fn wait(
        pool: &PgPool,
        handed: oneshot::Receiver<PoolConnection<Postgres>>,
    ) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        let from_pool = pool.acquire();
        tokio::pin!(from_pool);
        tokio::select! {
            conn = handed => match conn {
                Ok(conn) => Ok(conn),
                // The cache closed: the pool answers.
                Err(_) => from_pool.await,
            },
            conn = &mut from_pool => conn,
        }
    }

    /// Runs `pool_op` (anything that takes a connection from `pool`)
    /// counted as waiting, after handing one cached connection back when the
    /// pool has none idle: nobody waits for the pool while connections sit
    /// here.
    pub(crate) async fn waiting_for<T>(&self, pool: &PgPool, pool_op: impl Future<Output = T>) -> T {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        if pool.num_idle() == 0 {
            let spare = self.lock().conns.pop();
            drop(spare); // back to the pool, which pings it
        }
        pool_op.await
    }

    /// How many tasks wait for the pool right now (tests wait for a waiter).
    #[cfg(feature = "testing")]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Takes a cached connection, if any (tests look at what it carries).
    #[cfg(feature = "testing")]
    pub(crate) fn take_idle(&self) -> Option<PoolConnection<Postgres>> {
        self.lock().conns.pop()
    }

    /// Caches `conn` as it is (tests plant a connection in a bad state).
    #[cfg(feature = "testing")]
    pub(crate) fn put_idle(&self, conn: PoolConnection<Postgres>) {
        self.lock().conns.push(conn);
    }

    /// Lets every cached connection go back to the pool and caches no more
    /// (the pool is closing: it waits for every connection to come back).
    pub(crate) fn close(&self) {
        let mut idle = self.lock();
        self.closed.store(true, Ordering::SeqCst);
        idle.conns.clear();
        // Waiters get the pool's answer.
        idle.waiters.clear();
    }
}

/// A connection lent to one transaction of one-message statements.
#[derive(Debug)]
pub(crate) struct Conn {
    conn: Option<PoolConnection<Postgres>>,
    cache: Arc<Cache>,
    /// Whether the last message finished (false before the first).
    clean: bool,
    /// A write's message did not finish: its transaction may be open.
    torn: bool,
}

impl Conn {
    /// Runs one statement ([`run`]); the connection counts as clean only
    /// when it succeeded, or when a failed write's transaction was rolled
    /// back.
    pub(crate) async fn run(
        &mut self,
        access: Access,
        tenant: TenantId,
        sql: &str,
        binds: &[Bind],
    ) -> Result<Outcome, sqlx::Error> {
        self.clean = false;
        self.torn = access == Access::Write;
        let conn = self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        match run(conn, access, tenant, sql, binds).await {
            Ok(outcome) => {
                self.torn = false;
                self.clean = true;
                Ok(outcome)
            }
            Err(err) => {
                if self.torn && conn.execute("ROLLBACK").await.is_ok() {
                    self.torn = false;
                    self.clean = true;
                }
                Err(err)
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        if self.torn {
            // The pool's ping would not end the transaction.
            conn.close_on_drop();
        }
        if self.clean {
            // Checked under the lock `close` takes, so nothing is cached
            // after the pool began to close.
            let mut idle = self.cache.lock();
            if self.cache.closed.load(Ordering::SeqCst) || self.cache.waiting.load(Ordering::SeqCst) > 0 {
                drop(idle);
                drop(conn); // back to the pool, which pings it
                return;
            }
            let Some(conn) = idle.hand_over(conn) else { return };
            if idle.conns.len() < self.cache.cap {
                idle.conns.push(conn);
                return;
            }
            drop(idle);
            drop(conn);
            return;
        }
        drop(conn); // back to the pool, which pings it
    }
}

/// A value with no literal form here (the bound-parameter path takes it).
#[derive(Debug)]
struct NoLiteral;

/// Runs `sql` (one statement, parameters `$1…`) with `binds`, tenant
/// `tenant` set: one round trip (two the first time the connection meets
/// the statement), or the bound-parameter transaction when the statement
/// or a value has no one-message form.
async fn run(
    conn: &mut PgConnection,
    access: Access,
    tenant: TenantId,
    sql: &str,
    binds: &[Bind],
) -> Result<Outcome, sqlx::Error> {
    let types: Vec<&str> = binds.iter().map(pg_type).collect();
    // The fallback is boxed: its sqlx transaction is a future of
    // kilobytes, which would otherwise be copied with every statement's.
    let Some(name) = statement_name(sql, &types) else {
        return Box::pin(bound(conn, access, tenant, sql, binds)).await;
    };
    let Ok(message) = message(access, tenant, &name, binds) else {
        return Box::pin(bound(conn, access, tenant, sql, binds)).await;
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
            let prepare = format!("PREPARE {name} ({}) AS {sql}", types.join(", "));
            conn.execute(AssertSqlSafe(prepare)).await?;
            // Built again rather than cloned up front: this path runs once
            // per connection and statement, the clone would run every time.
            let Ok(message) = self::message(access, tenant, &name, binds) else {
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

/// `SET TRANSACTION READ ONLY; SET LOCAL app.tenant_id = '…'; EXECUTE <name>(…)`
/// for a read, `BEGIN; SET LOCAL …; EXECUTE …; COMMIT` for a write.
fn message(access: Access, tenant: TenantId, name: &str, binds: &[Bind]) -> Result<String, NoLiteral> {
    let mut out = String::with_capacity(128 + 24 * binds.len());
    out.push_str(match access {
        Access::Read => "SET TRANSACTION READ ONLY; ",
        Access::Write => "BEGIN; ",
    });
    let _ = write!(
        out,
        "SET LOCAL app.tenant_id = '{}'; EXECUTE {name}",
        tenant.0.hyphenated()
    );
    for (i, bind) in binds.iter().enumerate() {
        out.push_str(if i == 0 { "(" } else { ", " });
        push_literal(&mut out, &bind.value)?;
    }
    if !binds.is_empty() {
        out.push(')');
    }
    if access == Access::Write {
        out.push_str("; COMMIT");
    }
    Ok(out)
}

/// Appends `value` as an escape-string literal in its type's text form
/// (the parameter's type, fixed by `PREPARE`, reads it).
fn push_literal(out: &mut String, value: &Value) -> Result<(), NoLiteral> {
    let text = match value {
        Value::Null => {
            out.push_str("NULL");
            return Ok(());
        }
        Value::Text(s) => return push_escaped(out, s),
        Value::Json(v) => return push_escaped(out, &v.to_string()),
        Value::Bool(v) => (if *v { "t" } else { "f" }).to_owned(),
        Value::Int(v) => v.to_string(),
        Value::BigInt(v) => v.to_string(),
        Value::Decimal(v) => v.to_string(),
        Value::Date(v) if (1..=9999).contains(&v.year()) => v.format("%Y-%m-%d").to_string(),
        Value::DateTime(v) if (1..=9999).contains(&v.year()) => format_datetime(*v),
        Value::Date(_) | Value::DateTime(_) => return Err(NoLiteral),
        Value::Uuid(v) => v.hyphenated().to_string(),
        Value::Bytes(v) => {
            // bytea's hex input, `\x…`, with its backslash doubled.
            out.push_str(r"E'\\x");
            for b in v {
                let _ = write!(out, "{b:02x}");
            }
            out.push('\'');
            return Ok(());
        }
    };
    // Digits, signs, hex, `-:.TZ` only: nothing to escape.
    let _ = write!(out, "E'{text}'");
    Ok(())
}

/// `E'…'` with `\` and `'` doubled.
fn push_escaped(out: &mut String, s: &str) -> Result<(), NoLiteral> {
    if s.contains('\0') {
        return Err(NoLiteral);
    }
    out.reserve(s.len() + 3);
    out.push_str("E'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str(r"\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId("0192f7a0-0000-7000-8000-000000000001".parse().unwrap())
    }

    #[test]
    fn escapes_quotes_and_backslashes() {
        let binds = [
            Bind::new(Value::Text(r"it's a \' test''".into()), FieldType::Text),
            Bind::new(Value::BigInt(-20), FieldType::BigInt),
            Bind::new(Value::Null, FieldType::Text),
            Bind::new(Value::Bytes(vec![0, 0xab]), FieldType::Text),
        ];
        assert_eq!(
            message(Access::Read, tenant(), "rookery_00ff", &binds).unwrap(),
            concat!(
                "SET TRANSACTION READ ONLY; SET LOCAL app.tenant_id = '0192f7a0-0000-7000-8000-000000000001'; ",
                r"EXECUTE rookery_00ff(E'it''s a \\'' test''''', E'-20', NULL, E'\\x00ab')"
            )
        );
    }

    #[test]
    fn writes_are_not_read_only() {
        let binds = [Bind::new(Value::Text("x".into()), FieldType::Text)];
        assert_eq!(
            message(Access::Write, tenant(), "rookery_01", &binds).unwrap(),
            "BEGIN; SET LOCAL app.tenant_id = '0192f7a0-0000-7000-8000-000000000001'; EXECUTE rookery_01(E'x'); COMMIT"
        );
    }

    #[test]
    fn leaves_nul_bytes_and_far_dates_to_bound_parameters() {
        let nul = [Bind::new(Value::Text("a\0b".into()), FieldType::Text)];
        assert!(message(Access::Read, tenant(), "s", &nul).is_err());
        let far = chrono::NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
        assert!(
            message(
                Access::Write,
                tenant(),
                "s",
                &[Bind::new(Value::Date(far), FieldType::Date)]
            )
            .is_err()
        );
    }

    #[test]
    fn names_statements_by_text_and_types() {
        let a = statement_name("SELECT 1 /* oneshot test a */", &["text"]).unwrap();
        let b = statement_name("SELECT 1 /* oneshot test b */", &["text"]).unwrap();
        let c = statement_name("SELECT 1 /* oneshot test a */", &["bigint"]).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, statement_name("SELECT 1 /* oneshot test a */", &["text"]).unwrap());
    }
}
