//! Tenant-scoped and platform transactions.

use std::marker::PhantomData;

use sqlx::{AssertSqlSafe, Postgres, Sqlite, Transaction};

use super::bind::{Bind, DbRow, bind_pg, bind_sqlite};
use super::deadline::within;
use super::oneshot::{self, Access};
use super::{Db, DbError, Dialect};
use crate::model::TenantId;

#[derive(Debug)]
enum Tx {
    Postgres(Transaction<'static, Postgres>),
    /// PostgreSQL without an open transaction: every statement is one
    /// message that sets the tenant and runs it ([`oneshot`]).
    PostgresOneshot(Oneshot),
    Sqlite(Transaction<'static, Sqlite>),
}

/// A [`Tx::PostgresOneshot`]: reads (any number, each its own read-only
/// transaction) or one write (committed when it returns).
#[derive(Debug)]
struct Oneshot {
    conn: oneshot::Conn,
    tenant: TenantId,
    access: Access,
    /// A write ran: nothing more may.
    spent: bool,
}

impl Oneshot {
    async fn acquire(db: &Db, pool: &sqlx::PgPool, tenant: TenantId, access: Access) -> Result<Self, DbError> {
        Ok(Self {
            conn: within(db.oneshot_cache().acquire(pool)).await?,
            tenant,
            access,
            spent: false,
        })
    }

    async fn run(&mut self, sql: &str, binds: &[Bind]) -> Result<oneshot::Outcome, DbError> {
        if self.spent {
            return Err(DbError::OneStatement);
        }
        self.spent = self.access == Access::Write;
        Ok(self.conn.run(self.access, self.tenant, sql, binds).await?)
    }
}

/// The connection of an explicit transaction, for statements of the `db`
/// level that bind their own types (the job queue).
pub(super) enum Conn<'a> {
    Postgres(&'a mut sqlx::PgConnection),
    Sqlite(&'a mut sqlx::SqliteConnection),
}

impl Tx {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Self::Postgres(tx) => Conn::Postgres(tx),
            Self::Sqlite(tx) => Conn::Sqlite(tx),
            Self::PostgresOneshot(_) => unreachable!("only explicit transactions lend their connection"),
        }
    }

    async fn begin(db: &Db, write: bool) -> Result<Self, DbError> {
        // Boxed, like every pool acquisition: see `oneshot::Cache::acquire`.
        Box::pin(within(Self::begin_now(db, write))).await
    }

    async fn begin_now(db: &Db, write: bool) -> Result<Self, DbError> {
        Ok(match (db.pg(), db.sqlite()) {
            (Some(pool), _) => Self::Postgres(db.oneshot_cache().waiting_for(pool, pool.begin()).await?),
            (None, Some(pool)) if write => Self::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            (None, Some(pool)) => Self::Sqlite(pool.begin().await?),
            (None, None) => unreachable!("a Db always holds one pool"),
        })
    }

    fn dialect(&self) -> Dialect {
        match self {
            Self::Postgres(_) | Self::PostgresOneshot(_) => Dialect::Postgres,
            Self::Sqlite(_) => Dialect::Sqlite,
        }
    }

    async fn execute(&mut self, sql: String, binds: Vec<Bind>) -> Result<u64, DbError> {
        within(self.execute_now(sql, binds)).await
    }

    async fn execute_now(&mut self, sql: String, binds: Vec<Bind>) -> Result<u64, DbError> {
        Ok(match self {
            Self::Postgres(tx) => bind_pg(sqlx::query(AssertSqlSafe(sql)), binds)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            Self::PostgresOneshot(one) => one.run(&sql, &binds).await?.affected,
            Self::Sqlite(tx) => bind_sqlite(sqlx::query(AssertSqlSafe(sql)), binds)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    async fn fetch_all(&mut self, sql: String, binds: Vec<Bind>) -> Result<Vec<DbRow>, DbError> {
        within(self.fetch_all_now(sql, binds)).await
    }

    async fn fetch_all_now(&mut self, sql: String, binds: Vec<Bind>) -> Result<Vec<DbRow>, DbError> {
        Ok(match self {
            Self::Postgres(tx) => bind_pg(sqlx::query(AssertSqlSafe(sql)), binds)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(DbRow::Postgres)
                .collect(),
            Self::PostgresOneshot(one) => one
                .run(&sql, &binds)
                .await?
                .rows
                .into_iter()
                .map(DbRow::Postgres)
                .collect(),
            Self::Sqlite(tx) => bind_sqlite(sqlx::query(AssertSqlSafe(sql)), binds)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(DbRow::Sqlite)
                .collect(),
        })
    }

    async fn fetch_optional(&mut self, sql: String, binds: Vec<Bind>) -> Result<Option<DbRow>, DbError> {
        within(self.fetch_optional_now(sql, binds)).await
    }

    async fn fetch_optional_now(&mut self, sql: String, binds: Vec<Bind>) -> Result<Option<DbRow>, DbError> {
        Ok(match self {
            Self::Postgres(tx) => bind_pg(sqlx::query(AssertSqlSafe(sql)), binds)
                .fetch_optional(&mut **tx)
                .await?
                .map(DbRow::Postgres),
            Self::PostgresOneshot(one) => one
                .run(&sql, &binds)
                .await?
                .rows
                .into_iter()
                .next()
                .map(DbRow::Postgres),
            Self::Sqlite(tx) => bind_sqlite(sqlx::query(AssertSqlSafe(sql)), binds)
                .fetch_optional(&mut **tx)
                .await?
                .map(DbRow::Sqlite),
        })
    }

    async fn commit(self) -> Result<(), DbError> {
        match self {
            Self::Postgres(tx) => tx.commit().await?,
            Self::PostgresOneshot(_) => {}
            Self::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// What a [`TenantTx`] may do: [`Reading`], [`Writing`] or
/// [`OneStatement`]. The state is part of the type, so a write through a
/// reading transaction does not compile.
///
/// ```compile_fail
/// # async fn f(db: rookery::db::Db, tenant: rookery::TenantId) -> Result<(), rookery::db::DbError> {
/// let mut tx = db.begin(tenant).await?; // TenantTx<Reading>
/// tx.sql("DELETE FROM projects WHERE tenant_id = $1").execute().await?; // no `execute` when reading
/// # Ok(()) }
/// ```
pub trait Mode: sealed::Sealed + Send + Sync + 'static {}

/// The states of a [`TenantTx`] that may write.
#[diagnostic::on_unimplemented(
    message = "a reading transaction cannot write",
    label = "this transaction was begun with `Db::begin`",
    note = "begin it with `db.begin_write(tenant)` (a `TenantTx<Writing>`) to write"
)]
pub trait Writes: Mode {}

/// A reading [`TenantTx`] ([`super::Db::begin`]), ended with
/// [`TenantTx::finish_read`]. On PostgreSQL each
/// statement is a read-only transaction of its own, sent as one message
/// with the tenant setting; SQLite keeps one transaction for all of them.
#[derive(Debug)]
pub enum Reading {}

/// A writing [`TenantTx`] ([`super::Db::begin_write`]): one database
/// transaction; dropping it without [`TenantTx::commit`] rolls back.
///
/// ```no_run
/// # async fn f(db: &rookery::Db, tenant: rookery::TenantId) -> Result<(), rookery::DbError> {
/// let mut tx: rookery::TenantTx<rookery::Writing> = db.begin_write(tenant).await?;
/// tx.sql("UPDATE projects SET status = 'archived' WHERE tenant_id = $1").execute().await?;
/// tx.commit().await?; // without it, nothing happened
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub enum Writing {}

/// A [`TenantTx`] of exactly one write, committed when the statement
/// returns (on PostgreSQL one message: tenant setting, statement, commit).
/// A second statement is refused with [`DbError::OneStatement`].
#[derive(Debug)]
pub enum OneStatement {}

impl sealed::Sealed for Reading {}
impl sealed::Sealed for Writing {}
impl sealed::Sealed for OneStatement {}
impl Mode for Reading {}
impl Mode for Writing {}
impl Mode for OneStatement {}
impl Writes for Writing {}
impl Writes for OneStatement {}

/// A transaction scoped to one tenant, in state `M` ([`Mode`]).
///
/// The only way to reach a tenant table: repositories borrow it, and every
/// statement they build binds [`TenantTx::tenant`]. On PostgreSQL the
/// tenant is also set transaction-locally (`app.tenant_id`) before any
/// statement runs, so row-level security sees the same tenant.
///
/// One-message statements are `db/oneshot/`. [`super::Db::begin`] gives a `TenantTx<Reading>`, [`super::Db::begin_write`]
/// a `TenantTx<Writing>` (the default, so `&mut TenantTx` in a signature
/// is a writing one).
#[derive(Debug)]
pub struct TenantTx<M: Mode = Writing> {
    tenant: TenantId,
    tx: Tx,
    mode: PhantomData<M>,
}

impl TenantTx<Reading> {
    pub(super) async fn begin_read(db: &Db, tenant: TenantId) -> Result<Self, DbError> {
        let tx = match db.pg() {
            Some(pool) => Tx::PostgresOneshot(Oneshot::acquire(db, pool, tenant, Access::Read).await?),
            None => Tx::begin(db, false).await?,
        };
        Ok(Self::new(tenant, tx))
    }

    /// Ends a transaction that only read. Nothing waits for the database:
    /// a reading transaction has nothing to end on PostgreSQL, and
    /// elsewhere the rollback is sent with the connection's next use.
    pub fn finish_read(self) {
        drop(self);
    }
}

/// `tx`, its statements from now on scoped to `tenant` (the transaction-
/// local setting on PostgreSQL).
async fn scoped(mut tx: Tx, tenant: TenantId) -> Result<TenantTx<Writing>, DbError> {
    if let Tx::Postgres(pg) = &mut tx {
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(tenant.0.to_string())
            .execute(&mut **pg)
            .await?;
    }
    Ok(TenantTx::new(tenant, tx))
}

impl TenantTx<Writing> {
    pub(super) async fn begin_write(db: &Db, tenant: TenantId) -> Result<Self, DbError> {
        let tx = match db.pg() {
            Some(pool) => {
                // One round trip: BEGIN and the transaction-local tenant
                // setting travel together. The id is a `Uuid` printed in its
                // canonical hyphenated hex form, so it cannot carry SQL; every
                // statement after this binds the tenant as a parameter.
                let begin = format!(
                    "BEGIN; SELECT set_config('app.tenant_id', '{}', true)",
                    tenant.0.hyphenated()
                );
                let begin = db
                    .oneshot_cache()
                    .waiting_for(pool, pool.begin_with(AssertSqlSafe(begin)));
                // Boxed, like every pool acquisition: see `oneshot::Cache::acquire`.
                Tx::Postgres(Box::pin(within(begin)).await?)
            }
            None => Tx::begin(db, true).await?,
        };
        Ok(Self::new(tenant, tx))
    }

    /// The transaction's connection (the tenant is set on it already).
    pub(super) fn conn(&mut self) -> Conn<'_> {
        self.tx.conn()
    }

    /// Serialises concurrent quota checks of one tenant (PostgreSQL advisory
    /// lock held until the transaction ends; SQLite's write lock already
    /// serialises writers).
    pub(crate) async fn lock_quota(&mut self, quota: &str) -> Result<(), DbError> {
        let key = format!("rookery:quota:{}:{quota}", self.tenant);
        self.advisory_lock(key).await
    }

    /// Serialises the changes of one tenant's memberships that can take a
    /// role away (role changes, removals, transfers), so "at least one
    /// active owner" is checked against what the others committed
    /// (PostgreSQL advisory lock held until the transaction ends; SQLite's
    /// write lock already serialises writers).
    pub(crate) async fn lock_members(&mut self) -> Result<(), DbError> {
        let key = format!("rookery:members:{}", self.tenant);
        self.advisory_lock(key).await
    }

    /// Serialises the sealers of one tenant's audit chain
    /// (`rookery::audit::chain`; PostgreSQL advisory lock held until the
    /// transaction ends; SQLite's write lock already serialises writers).
    /// Writers never take it. On PostgreSQL the same round trip turns row
    /// security on for the rest of the transaction, so that a seal on the
    /// owner's pool (`row_security = off`) is confined to the tenant too.
    pub(crate) async fn lock_audit_seal(&mut self) -> Result<(), DbError> {
        let tenant = self.tenant;
        self.seal_scope(tenant).await
    }

    /// Scopes the statements after this to `tenant` instead, in the same
    /// transaction, and takes `tenant`'s sealing lock, in one round trip
    /// (the audit sealer's rounds: one commit for many tenants, each
    /// sealed under its own setting and lock). What ran before stays as
    /// it was; only runtime code that holds nothing of the previous tenant
    /// calls this.
    pub(crate) async fn rescope_to_seal(mut self, tenant: TenantId) -> Result<Self, DbError> {
        self.seal_scope(tenant).await?;
        self.tenant = tenant;
        Ok(self)
    }

    /// Sets the tenant, row security and the tenant's sealing lock (in
    /// this order: the lock's wait happens under the new setting, and a
    /// failure of any part fails the transaction).
    async fn seal_scope(&mut self, tenant: TenantId) -> Result<(), DbError> {
        match &mut self.tx {
            Tx::Postgres(pg) => {
                sqlx::query(
                    "SELECT set_config('app.tenant_id', $1, true), set_config('row_security', 'on', true), \
                     pg_advisory_xact_lock(hashtextextended($2, 0))",
                )
                .bind(tenant.0.to_string())
                .bind(format!("rookery:audit_seal:{tenant}"))
                .execute(&mut **pg)
                .await?;
            }
            Tx::PostgresOneshot(_) => unreachable!("a writing transaction is never one-message"),
            Tx::Sqlite(_) => {}
        }
        Ok(())
    }

    async fn advisory_lock(&mut self, key: String) -> Result<(), DbError> {
        match &mut self.tx {
            Tx::Postgres(pg) => {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind(key)
                    .execute(&mut **pg)
                    .await?;
            }
            Tx::PostgresOneshot(_) => unreachable!("a writing transaction is never one-message"),
            Tx::Sqlite(_) => {}
        }
        Ok(())
    }
}

impl TenantTx<OneStatement> {
    pub(super) async fn begin_one(db: &Db, tenant: TenantId) -> Result<Self, DbError> {
        if super::idempotency::claim_for(tenant).is_some() {
            // The key's mark must commit with the statement: an explicit
            // transaction, as `begin_write` makes.
            let tx = TenantTx::<Writing>::begin_write(db, tenant).await?.tx;
            return Ok(Self::new(tenant, tx));
        }
        let tx = match db.pg() {
            Some(pool) => Tx::PostgresOneshot(Oneshot::acquire(db, pool, tenant, Access::Write).await?),
            None => Tx::begin(db, true).await?,
        };
        Ok(Self::new(tenant, tx))
    }
}

impl<M: Mode> TenantTx<M> {
    fn new(tenant: TenantId, tx: Tx) -> Self {
        Self {
            tenant,
            tx,
            mode: PhantomData,
        }
    }

    /// The tenant every statement of this transaction is bound to.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// The dialect of the underlying connection.
    pub fn dialect(&self) -> Dialect {
        self.tx.dialect()
    }

    pub(crate) async fn fetch_all(&mut self, sql: String, binds: Vec<Bind>) -> Result<Vec<DbRow>, DbError> {
        self.tx.fetch_all(sql, binds).await
    }

    pub(crate) async fn fetch_optional(&mut self, sql: String, binds: Vec<Bind>) -> Result<Option<DbRow>, DbError> {
        self.tx.fetch_optional(sql, binds).await
    }
}

impl<M: Writes> TenantTx<M> {
    /// Commits the transaction (a [`OneStatement`] one has committed with
    /// its statement; this only ends it).
    ///
    /// Inside a request that carries an `Idempotency-Key`, the commit
    /// first marks the key in this transaction (`db/idempotency.rs`), and
    /// refuses with [`DbError::IdempotencyTakenOver`], committing nothing,
    /// when a retry of the request took the key over.
    pub async fn commit(mut self) -> Result<(), DbError> {
        if let Some(claim) = super::idempotency::claim_for(self.tenant)
            && !matches!(self.tx, Tx::PostgresOneshot(_))
        {
            super::idempotency::mark(self.tx.conn(), &claim).await?;
        }
        self.tx.commit().await
    }

    pub(crate) async fn execute(&mut self, sql: String, binds: Vec<Bind>) -> Result<u64, DbError> {
        self.tx.execute(sql, binds).await
    }

    /// The connection of an explicit transaction (the tenant is set on it
    /// already); `None` for a one-message statement on PostgreSQL.
    pub(super) fn explicit_conn(&mut self) -> Option<Conn<'_>> {
        match &mut self.tx {
            Tx::PostgresOneshot(_) => None,
            tx => Some(tx.conn()),
        }
    }
}

/// A transaction over the platform's global tables (`tenants`, `users`).
///
/// It carries no tenant: on PostgreSQL, row-level security hides every
/// tenant-owned row from it.
#[derive(Debug)]
pub struct PlatformTx {
    tx: Tx,
}

impl PlatformTx {
    pub(super) async fn begin(db: &Db, write: bool) -> Result<Self, DbError> {
        Ok(Self {
            tx: Tx::begin(db, write).await?,
        })
    }

    /// The dialect of the underlying connection.
    pub fn dialect(&self) -> Dialect {
        self.tx.dialect()
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), DbError> {
        self.tx.commit().await
    }

    /// Turns this transaction into one scoped to `tenant` (used by sign-up,
    /// which creates the tenant and then its first membership atomically).
    pub async fn into_tenant(self, tenant: TenantId) -> Result<TenantTx<Writing>, DbError> {
        scoped(self.tx, tenant).await
    }

    pub(crate) async fn execute(&mut self, sql: String, binds: Vec<Bind>) -> Result<u64, DbError> {
        self.tx.execute(sql, binds).await
    }

    pub(crate) async fn fetch_optional(&mut self, sql: String, binds: Vec<Bind>) -> Result<Option<DbRow>, DbError> {
        self.tx.fetch_optional(sql, binds).await
    }

    pub(crate) async fn fetch_all(&mut self, sql: String, binds: Vec<Bind>) -> Result<Vec<DbRow>, DbError> {
        self.tx.fetch_all(sql, binds).await
    }

    /// Lets this transaction see `user`'s own memberships in every tenant
    /// and nothing else of any tenant (PostgreSQL: the `own_memberships`
    /// policy reads `app.user_id`, set for this transaction only, as
    /// `app.tenant_id` is). For "my tenants"; `user` comes from a verified
    /// credential, never from a request's body.
    pub(crate) async fn as_user(&mut self, user: crate::model::UserId) -> Result<(), DbError> {
        if let Tx::Postgres(pg) = &mut self.tx {
            sqlx::query("SELECT set_config('app.user_id', $1, true)")
                .bind(user.0.to_string())
                .execute(&mut **pg)
                .await?;
        }
        Ok(())
    }

    /// The transaction's connection (no tenant is set on it).
    pub(super) fn conn(&mut self) -> Conn<'_> {
        self.tx.conn()
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{Db, DbOptions};

    fn size<F: Future>(_: &F) -> usize {
        std::mem::size_of::<F>()
    }

    /// Every request's future holds the futures of its database steps, and
    /// is copied whole when axum boxes it: the pool's kilobytes-large
    /// acquire stays boxed behind the cached-connection fast path.
    #[tokio::test]
    async fn database_steps_keep_request_futures_small() {
        let db = Db::connect("sqlite::memory:", &DbOptions::serving("unused"))
            .await
            .unwrap();
        let tenant = crate::TenantId::new_v7();
        assert!(size(&db.begin(tenant)) <= 1024, "{}", size(&db.begin(tenant)));
        assert!(size(&db.begin_write_one(tenant)) <= 1024);
        assert!(size(&db.begin_write(tenant)) <= 1024);
        let mut tx = db.begin_write(tenant).await.unwrap();
        let fetch = tx.fetch_all(String::new(), Vec::new());
        assert!(size(&fetch) <= 2048, "{}", size(&fetch));
    }
}
