//! Tenant-scoped and platform transactions.

use sqlx::{AssertSqlSafe, Postgres, Sqlite, Transaction};

use super::bind::{Bind, DbRow, bind_pg, bind_sqlite};
use super::deadline::within;
use super::oneshot::{self, Access};
use super::{Db, DbError, Dialect};
use crate::model::{TenantId, TenantModel};
use crate::repo::Repo;

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

impl Tx {
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

/// A transaction scoped to one tenant.
///
/// The only way to reach a tenant table: repositories borrow it, and every
/// statement they build binds [`TenantTx::tenant`]. On PostgreSQL the
/// tenant is also set transaction-locally (`app.tenant_id`) before any
/// statement runs, so row-level security sees the same tenant.
///
/// A writing transaction ([`super::Db::begin_write`]) is one database
/// transaction; dropping it without [`TenantTx::commit`] rolls back. A
/// reading one ([`super::Db::begin`]) refuses writes; on PostgreSQL each of
/// its statements is a read-only transaction of its own, sent as one
/// message together with the tenant setting (one round trip, see
/// `db/oneshot/`), while SQLite keeps one transaction for all of them.
/// A one-statement write (`Db::begin_write_one`) is such a message too on
/// PostgreSQL, committed when the statement returns.
#[derive(Debug)]
pub struct TenantTx {
    tenant: TenantId,
    write: bool,
    tx: Tx,
}

impl TenantTx {
    pub(super) async fn begin(db: &Db, tenant: TenantId, write: bool) -> Result<Self, DbError> {
        let tx = match db.pg() {
            Some(pool) if !write => Tx::PostgresOneshot(Oneshot::acquire(db, pool, tenant, Access::Read).await?),
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
            None => Tx::begin(db, write).await?,
        };
        Ok(Self { tenant, write, tx })
    }

    pub(super) async fn begin_one(db: &Db, tenant: TenantId) -> Result<Self, DbError> {
        let tx = match db.pg() {
            Some(pool) => Tx::PostgresOneshot(Oneshot::acquire(db, pool, tenant, Access::Write).await?),
            None => Tx::begin(db, true).await?,
        };
        Ok(Self {
            tenant,
            write: true,
            tx,
        })
    }

    /// The tenant every statement of this transaction is bound to.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// The dialect of the underlying connection.
    pub fn dialect(&self) -> Dialect {
        self.tx.dialect()
    }

    /// The repository of model `M` inside this transaction.
    pub fn repo<M: TenantModel>(&mut self) -> Repo<'_, M> {
        Repo::new(self)
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), DbError> {
        self.tx.commit().await
    }

    /// Ends a transaction that only read. Nothing waits for the database:
    /// a reading transaction has nothing to end on PostgreSQL, and
    /// elsewhere the rollback is sent with the connection's next use.
    pub fn finish_read(self) {
        drop(self);
    }

    /// Refuses a write in a reading transaction, on every dialect (on
    /// PostgreSQL the database would refuse it too).
    pub(crate) fn require_write(&self) -> Result<(), DbError> {
        if self.write { Ok(()) } else { Err(DbError::ReadOnly) }
    }

    pub(crate) async fn execute(&mut self, sql: String, binds: Vec<Bind>) -> Result<u64, DbError> {
        self.require_write()?;
        self.tx.execute(sql, binds).await
    }

    pub(crate) async fn fetch_all(&mut self, sql: String, binds: Vec<Bind>) -> Result<Vec<DbRow>, DbError> {
        self.tx.fetch_all(sql, binds).await
    }

    pub(crate) async fn fetch_optional(&mut self, sql: String, binds: Vec<Bind>) -> Result<Option<DbRow>, DbError> {
        self.tx.fetch_optional(sql, binds).await
    }

    /// Serialises concurrent quota checks of one tenant (PostgreSQL advisory
    /// lock held until the transaction ends; SQLite's write lock already
    /// serialises writers).
    pub(crate) async fn lock_quota(&mut self, quota: &str) -> Result<(), DbError> {
        self.require_write()?;
        match &mut self.tx {
            Tx::Postgres(pg) => {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind(format!("rookery:quota:{}:{quota}", self.tenant))
                    .execute(&mut **pg)
                    .await?;
            }
            // The lock would end with its own message, before the write.
            Tx::PostgresOneshot(_) => return Err(DbError::OneStatement),
            Tx::Sqlite(_) => {}
        }
        Ok(())
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
    pub async fn into_tenant(self, tenant: TenantId) -> Result<TenantTx, DbError> {
        let mut tx = self.tx;
        if let Tx::Postgres(pg) = &mut tx {
            sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
                .bind(tenant.0.to_string())
                .execute(&mut **pg)
                .await?;
        }
        Ok(TenantTx {
            tenant,
            write: true,
            tx,
        })
    }

    pub(crate) async fn execute(&mut self, sql: String, binds: Vec<Bind>) -> Result<u64, DbError> {
        self.tx.execute(sql, binds).await
    }

    pub(crate) async fn fetch_optional(&mut self, sql: String, binds: Vec<Bind>) -> Result<Option<DbRow>, DbError> {
        self.tx.fetch_optional(sql, binds).await
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
