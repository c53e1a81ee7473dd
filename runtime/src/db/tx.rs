//! Tenant-scoped and platform transactions.

use sqlx::{AssertSqlSafe, Postgres, Sqlite, Transaction};

use super::bind::{Bind, DbRow, bind_pg, bind_sqlite};
use super::{Db, DbError, Dialect};
use crate::model::{TenantId, TenantModel};
use crate::repo::Repo;

#[derive(Debug)]
enum Tx {
    Postgres(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
}

impl Tx {
    async fn begin(db: &Db, write: bool) -> Result<Self, DbError> {
        Ok(match (db.pg(), db.sqlite()) {
            (Some(pool), _) => Self::Postgres(pool.begin().await?),
            (None, Some(pool)) if write => Self::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            (None, Some(pool)) => Self::Sqlite(pool.begin().await?),
            (None, None) => unreachable!("a Db always holds one pool"),
        })
    }

    fn dialect(&self) -> Dialect {
        match self {
            Self::Postgres(_) => Dialect::Postgres,
            Self::Sqlite(_) => Dialect::Sqlite,
        }
    }

    async fn execute(&mut self, sql: String, binds: Vec<Bind>) -> Result<u64, DbError> {
        Ok(match self {
            Self::Postgres(tx) => bind_pg(sqlx::query(AssertSqlSafe(sql)), binds)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            Self::Sqlite(tx) => bind_sqlite(sqlx::query(AssertSqlSafe(sql)), binds)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    async fn fetch_all(&mut self, sql: String, binds: Vec<Bind>) -> Result<Vec<DbRow>, DbError> {
        Ok(match self {
            Self::Postgres(tx) => bind_pg(sqlx::query(AssertSqlSafe(sql)), binds)
                .fetch_all(&mut **tx)
                .await?
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
        Ok(match self {
            Self::Postgres(tx) => bind_pg(sqlx::query(AssertSqlSafe(sql)), binds)
                .fetch_optional(&mut **tx)
                .await?
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
            Self::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// A transaction scoped to one tenant.
///
/// The only way to reach a tenant table: repositories borrow it, and every
/// statement they build binds [`TenantTx::tenant`]. On PostgreSQL it begins
/// with `SELECT set_config('app.tenant_id', $1, true)`, so row-level
/// security sees the same tenant. Dropping it without [`TenantTx::commit`]
/// rolls back.
#[derive(Debug)]
pub struct TenantTx {
    tenant: TenantId,
    tx: Tx,
}

impl TenantTx {
    pub(super) async fn begin(db: &Db, tenant: TenantId, write: bool) -> Result<Self, DbError> {
        if let Some(pool) = db.pg() {
            // One round trip: BEGIN and the transaction-local tenant setting
            // travel together. The id is a `Uuid` printed in its canonical
            // hyphenated hex form, so it cannot carry SQL; every statement
            // after this binds the tenant as a parameter.
            let begin = format!(
                "BEGIN; SELECT set_config('app.tenant_id', '{}', true)",
                tenant.0.hyphenated()
            );
            let tx = pool.begin_with(AssertSqlSafe(begin)).await?;
            return Ok(Self {
                tenant,
                tx: Tx::Postgres(tx),
            });
        }
        Ok(Self {
            tenant,
            tx: Tx::begin(db, write).await?,
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
    /// the rollback is sent with the connection's next use (on PostgreSQL,
    /// the pool's release check), saving a round trip per read request.
    pub fn finish_read(self) {
        drop(self);
    }

    pub(crate) async fn execute(&mut self, sql: String, binds: Vec<Bind>) -> Result<u64, DbError> {
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
        if let Tx::Postgres(pg) = &mut self.tx {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("rookery:quota:{}:{quota}", self.tenant))
                .execute(&mut **pg)
                .await?;
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
        Ok(TenantTx { tenant, tx })
    }

    pub(crate) async fn execute(&mut self, sql: String, binds: Vec<Bind>) -> Result<u64, DbError> {
        self.tx.execute(sql, binds).await
    }

    pub(crate) async fn fetch_optional(&mut self, sql: String, binds: Vec<Bind>) -> Result<Option<DbRow>, DbError> {
        self.tx.fetch_optional(sql, binds).await
    }
}
