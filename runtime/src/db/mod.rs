//! Database access: pools, tenant-scoped transactions and migrations.
//!
//! One binary serves SQLite or PostgreSQL, picked at start-up by the
//! `DATABASE_URL` scheme. Every tenant-owned row is reached through a
//! [`TenantTx`], which carries the [`TenantId`] and (on PostgreSQL) sets
//! `app.tenant_id` transaction-locally before anything else runs.

mod bind;
pub(crate) mod deadline;
pub(crate) mod erasure;
mod events;
pub(crate) mod idempotency;
mod mail;
mod migrate;
mod oneshot;
mod platform_audit;
mod queue;
mod quota;
mod sql;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod test_cluster;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;
mod tx;
mod usage;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, Executor};

pub use migrate::MigrateError;

pub use crate::config::{default_role, redact_url};
pub use platform_audit::PlatformAuditRow;
pub use sql::{FromRow, Param, RowReader, Sql};
pub use tx::{Mode, OneStatement, PlatformTx, Reading, TenantTx, Writes, Writing};
pub use usage::{UsageDay, UsageQuery};

pub(crate) use bind::{Bind, DbRow, bytes, now};
pub(crate) use events::{
    DELIVER_JOB, DELIVER_MAX_ATTEMPTS, DELIVER_QUEUE, EVENT_COLUMNS, SUBSCRIBED_PG, Store, delivery_job, is_event_type,
};
pub(crate) use mail::{MailOutcome, NewMail, StoredMail};
pub(crate) use queue::{ClaimOptions, Claimed, Finish, NewJob};

use crate::model::TenantId;

/// The SQL dialect of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL (row-level security on).
    Postgres,
    /// SQLite (the embedded default).
    Sqlite,
}

/// Errors of the database layer. In a handler, `?` turns one into the
/// matching problem (503 when the database is down or the request ran out
/// of time, 500 otherwise, never showing SQL).
///
/// ```no_run
/// # async fn f(db: &rookery::Db, tenant: rookery::TenantId) -> Result<(), rookery::ApiError> {
/// let mut tx = db.begin(tenant).await?;
/// let unbound = tx.sql("SELECT count(*) FROM projects").fetch_one::<(i64,)>().await;
/// assert!(matches!(unbound, Err(rookery::DbError::TenantNotBound)));
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// `DATABASE_URL` has a scheme other than `postgres://` or `sqlite:`.
    #[error("unsupported DATABASE_URL scheme in `{0}`: use postgres://… or sqlite:…")]
    UnsupportedUrl(String),
    /// The database refused a statement or the connection failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// The database could not be reached or refused the login.
    #[error("cannot connect to {target}: {reason}")]
    Connect {
        /// The URL, password redacted.
        target: String,
        /// What the server or the network said.
        reason: String,
    },
    /// The serving group role does not exist.
    #[error(
        "the serving role `{role}` does not exist: run `<app> migrate` (it creates the role) or set ROOKERY_DB_ROLE to the app's group role"
    )]
    RoleMissing {
        /// The group role (`ROOKERY_DB_ROLE`).
        role: String,
    },
    /// The login role may not switch to the serving group role.
    #[error(
        "login role `{login}` may not SET ROLE `{role}`: make it a member, `GRANT {role} TO {login};` (log in as a role that is not the tables' owner)"
    )]
    CannotSetRole {
        /// The login role of `DATABASE_URL`.
        login: String,
        /// The group role (`ROOKERY_DB_ROLE`).
        role: String,
    },
    /// The serving role could bypass row-level security.
    #[error(
        "refusing to serve: database role `{0}` bypasses row-level security (superuser, BYPASSRLS or the tables' owner); set ROOKERY_DB_ROLE to the app's group role and log in as a member of it"
    )]
    RlsBypass(String),
    /// A migration failed.
    #[error(transparent)]
    Migrate(MigrateError),
    /// A statement of your own ([`TenantTx::sql`]) does not use `$1`, the
    /// transaction's tenant: on SQLite nothing else would keep it to the
    /// tenant's rows.
    #[error("the statement does not use $1, the transaction's tenant (filter each tenant table by tenant_id = $1)")]
    TenantNotBound,
    /// A column of a statement of your own is `NULL` where the row type
    /// has no `Option`.
    #[error("column {column} is NULL, which `{rust}` cannot hold: read it as an Option")]
    NullColumn {
        /// The column, from 0.
        column: usize,
        /// The Rust type asked for.
        rust: &'static str,
    },
    /// A statement of your own uses `$1` to `$used`, but `bound` values
    /// were bound (the tenant counts as one).
    #[error(
        "the statement uses $1 to ${used} but {bound} values were bound (the tenant is $1: bind one value for each of $2 onwards)"
    )]
    ParameterCount {
        /// The highest `$n` the statement uses.
        used: usize,
        /// The values bound, the tenant included.
        bound: usize,
    },
    /// A transaction begun for one statement ran a second one (the first
    /// has committed); begin it with [`Db::begin_write`].
    #[error("second statement in a one-statement transaction (begin it with Db::begin_write)")]
    OneStatement,
    /// An event type ([`TenantTx::emit`]) that a webhook signature cannot
    /// carry: 1 to 128 of `A-Z`, `a-z`, `0-9`, `_` and `.`.
    #[error("`{0}` is not an event type: 1 to 128 of A-Z, a-z, 0-9, `_` and `.`")]
    EventType(String),
    /// The request's deadline passed before this step finished
    /// (`ROOKERY_REQUEST_TIMEOUT`); the transaction rolls back.
    #[error("the request's deadline passed")]
    Timeout,
    /// A stored value could not be read back.
    #[error(transparent)]
    Decode(#[from] crate::model::DecodeError),
    /// A retry with the same `Idempotency-Key` took this request's key over
    /// (this attempt looked dead); nothing was committed.
    #[error("a retry with the same Idempotency-Key took over this request; nothing was committed")]
    IdempotencyTakenOver,
}

/// How a pool is opened.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Maximum pooled connections.
    pub max_connections: u32,
    /// On PostgreSQL, the role each serving connection switches to
    /// (`SET ROLE`) so that row-level security applies. `None` keeps the
    /// login role and sets `row_security = off`, so that a statement
    /// row-level security would filter fails instead: that is the pool
    /// `migrate` uses, as the tables' owner.
    pub serving_role: Option<String>,
    /// On PostgreSQL, a connection is closed once this old (sqlx's
    /// `max_lifetime`; `None`: never). Connections kept between
    /// one-message statements honour it too (`oneshot`).
    pub max_lifetime: Option<Duration>,
    /// On PostgreSQL, an idle connection is closed after this long (sqlx's
    /// `idle_timeout`; `None`: never), kept ones included.
    pub idle_timeout: Option<Duration>,
}

/// sqlx's defaults, spelled out: 30 minutes.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// sqlx's defaults, spelled out: 10 minutes.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

impl DbOptions {
    /// A serving pool of 16 connections that switch to the group role `role`.
    pub fn serving(role: impl Into<String>) -> Self {
        Self {
            max_connections: 16,
            serving_role: Some(role.into()),
            max_lifetime: Some(MAX_LIFETIME),
            idle_timeout: Some(IDLE_TIMEOUT),
        }
    }

    /// One connection as the login role (the tables' owner), with
    /// `row_security = off`: what `migrate` uses.
    pub fn migrating() -> Self {
        Self {
            max_connections: 1,
            serving_role: None,
            max_lifetime: Some(MAX_LIFETIME),
            idle_timeout: Some(IDLE_TIMEOUT),
        }
    }
}

#[derive(Debug, Clone)]
enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// What a pool holds at one moment (for `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolStats {
    /// Connections open: busy, idle in the pool, or kept between reads.
    pub(crate) open: u32,
    /// Connections idle in the pool.
    pub(crate) idle: usize,
    /// Connections kept between one-message reads (PostgreSQL).
    pub(crate) kept: usize,
    /// Statements and transactions waiting for a connection (PostgreSQL;
    /// sqlx does not tell for SQLite).
    pub(crate) waiting: usize,
    /// The pool's size.
    pub(crate) max: u32,
}

/// A connection pool to SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
    /// PostgreSQL connections between one-message statements (`oneshot`).
    oneshot: std::sync::Arc<oneshot::Cache>,
}

impl Db {
    /// Opens a pool for `url` (`postgres://…` or `sqlite:…`).
    ///
    /// SQLite files are created when missing; foreign keys are enforced and
    /// the journal is WAL. On PostgreSQL with a `serving_role`, every
    /// connection runs `SET ROLE <role>` once, and the pool is refused if
    /// the resulting role can bypass row-level security.
    pub async fn connect(url: &str, options: &DbOptions) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // The one-message reads (`oneshot`) get text-format rows: bytea
            // must come in the hex form sqlx decodes, whatever the role's or
            // database's `bytea_output` says.
            // The one-statement reads are prepared in sqlx's statement
            // cache: it keeps as many as the message path may prepare,
            // so an app's working set of read shapes is not evicted (one
            // more round trip each time) at sqlx's default of 100.
            let mut connect = PgConnectOptions::from_str(url)?
                .options([("bytea_output", "hex")])
                .statement_cache_capacity(oneshot::STATEMENTS_PER_CONNECTION);
            if options.serving_role.is_none() {
                // Migrating: a statement that row-level security would
                // filter fails instead of silently seeing fewer rows.
                connect = connect.options([("row_security", "off")]);
            }
            if loopback_without_sslmode(url, connect.get_host()) {
                // TLS to a server on the same machine protects nothing and
                // costs a third of the CPU per query; an explicit `sslmode`
                // in the URL always wins, and remote hosts keep `prefer`.
                connect = connect.ssl_mode(sqlx::postgres::PgSslMode::Disable);
            }
            // One connection first, without the pool's retries: a server
            // that is down, a missing role or database, a role that may not
            // switch to the serving role or that bypasses RLS each get one
            // clear error at once instead of a pool timeout.
            probe(url, &connect, options.serving_role.as_deref()).await?;
            // No ping on acquire: the pool already checks each connection
            // when it is released, and a broken one fails its first query
            // with an error the caller sees (503), not wrong data.
            let mut pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .max_lifetime(options.max_lifetime)
                .idle_timeout(options.idle_timeout)
                .test_before_acquire(false);
            if let Some(role) = options.serving_role.clone() {
                let set_role = format!("SET ROLE {}", quote_ident(&role));
                pool = pool.after_connect(move |conn, _meta| {
                    let set_role = set_role.clone();
                    Box::pin(async move {
                        conn.execute(sqlx::AssertSqlSafe(set_role)).await?;
                        Ok(())
                    })
                });
            }
            let pool = pool.connect_with(connect).await?;
            // The cache applies the pool's own limits to what it keeps.
            let limits = oneshot::Limits::of(&pool);
            Ok(Self {
                pool: Pool::Postgres(pool),
                oneshot: std::sync::Arc::new(oneshot::Cache::new(options.max_connections, limits)),
            })
        } else if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10));
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            // The pool opens its first connection now: a file that cannot
            // be opened (a missing folder, no permission) is said with its URL.
            let pool = SqlitePoolOptions::new()
                .max_connections(if in_memory { 1 } else { options.max_connections.max(1) })
                .connect_with(connect)
                .await
                .map_err(|err| match err {
                    sqlx::Error::Database(db) => DbError::Connect {
                        target: redact_url(url),
                        reason: db.message().to_owned(),
                    },
                    err => DbError::Sqlx(err),
                })?;
            Ok(Self {
                pool: Pool::Sqlite(pool),
                oneshot: std::sync::Arc::new(oneshot::Cache::new(0, oneshot::Limits::default())),
            })
        } else {
            Err(DbError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// The dialect of this pool.
    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Postgres(_) => Dialect::Postgres,
            Pool::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Begins a reading transaction scoped to `tenant`: it has no write
    /// methods (a write through it does not compile). On PostgreSQL each statement
    /// is its own read-only transaction sent in one round trip together
    /// with the tenant setting; use [`Db::begin_write`] for a transaction
    /// that writes or needs one snapshot across several statements.
    ///
    /// ```no_run
    /// # async fn f(db: &rookery::Db, tenant: rookery::TenantId) -> Result<(), rookery::DbError> {
    /// let mut tx = db.begin(tenant).await?;
    /// let (projects,): (i64,) = tx.sql("SELECT count(*) FROM projects WHERE tenant_id = $1").fetch_one().await?;
    /// tx.finish_read();
    /// # let _ = projects; Ok(()) }
    /// ```
    pub async fn begin(&self, tenant: TenantId) -> Result<TenantTx<Reading>, DbError> {
        TenantTx::begin_read(self, tenant).await
    }

    /// Begins a writing transaction scoped to `tenant` (on SQLite it takes
    /// the write lock up front, so concurrent writers queue instead of
    /// failing with `SQLITE_BUSY`).
    pub async fn begin_write(&self, tenant: TenantId) -> Result<TenantTx<Writing>, DbError> {
        TenantTx::begin_write(self, tenant).await
    }

    /// Begins a writing transaction of exactly one statement, scoped to
    /// `tenant`, for a write that reads nothing first (the generic create
    /// and its audit row). On PostgreSQL the tenant setting, the statement
    /// and the commit travel as one message, one round trip instead of
    /// four: the statement has committed when it returns, and a second
    /// statement is refused with [`DbError::OneStatement`]. Elsewhere it is
    /// a [`Db::begin_write`] transaction.
    pub(crate) async fn begin_write_one(&self, tenant: TenantId) -> Result<TenantTx<OneStatement>, DbError> {
        TenantTx::begin_one(self, tenant).await
    }

    /// Begins a platform transaction: global tables only (`tenants`,
    /// `users`). Tenant tables are unreachable from it on PostgreSQL (RLS
    /// without a tenant returns no rows) and by API everywhere.
    pub async fn begin_platform(&self) -> Result<PlatformTx, DbError> {
        PlatformTx::begin(self, true).await
    }

    /// Begins a platform transaction that will only read (no write lock on SQLite).
    pub async fn begin_platform_read(&self) -> Result<PlatformTx, DbError> {
        PlatformTx::begin(self, false).await
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        match &self.pool {
            Pool::Postgres(pool) => self.oneshot.waiting_for(pool, pool.acquire()).await?.ping().await?,
            Pool::Sqlite(pool) => pool.acquire().await?.ping().await?,
        }
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.oneshot.close();
        match &self.pool {
            Pool::Postgres(pool) => pool.close().await,
            Pool::Sqlite(pool) => pool.close().await,
        }
    }

    /// What the pool holds right now.
    pub(crate) fn stats(&self) -> PoolStats {
        match &self.pool {
            Pool::Postgres(pool) => {
                let (kept, waiting) = self.oneshot.counts();
                PoolStats {
                    open: pool.size(),
                    idle: pool.num_idle(),
                    kept,
                    waiting,
                    max: pool.options().get_max_connections(),
                }
            }
            Pool::Sqlite(pool) => PoolStats {
                open: pool.size(),
                idle: pool.num_idle(),
                kept: 0,
                waiting: 0,
                max: pool.options().get_max_connections(),
            },
        }
    }

    pub(crate) fn pg(&self) -> Option<&PgPool> {
        match &self.pool {
            Pool::Postgres(pool) => Some(pool),
            Pool::Sqlite(_) => None,
        }
    }

    pub(crate) fn oneshot_cache(&self) -> &std::sync::Arc<oneshot::Cache> {
        &self.oneshot
    }

    pub(crate) fn sqlite(&self) -> Option<&SqlitePool> {
        match &self.pool {
            Pool::Sqlite(pool) => Some(pool),
            Pool::Postgres(_) => None,
        }
    }
}

/// Opens one connection with `connect` and, for a serving pool, switches
/// to `serving_role` and refuses a role that could bypass row-level
/// security. Every failure names what to fix.
async fn probe(url: &str, connect: &PgConnectOptions, serving_role: Option<&str>) -> Result<(), DbError> {
    let target = redact_url(url);
    let mut conn = match tokio::time::timeout(Duration::from_secs(10), sqlx::PgConnection::connect_with(connect)).await
    {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            let reason = match &e {
                sqlx::Error::Database(db) => db.message().to_owned(),
                other => other.to_string(),
            };
            return Err(DbError::Connect { target, reason });
        }
        Err(_) => {
            return Err(DbError::Connect {
                target,
                reason: "no answer within 10 s".into(),
            });
        }
    };
    let Some(role) = serving_role else {
        let _ = conn.close().await;
        return Ok(());
    };
    let (login, exists): (String, bool) =
        sqlx::query_as("SELECT session_user::text, EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(role)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        return Err(DbError::RoleMissing { role: role.to_owned() });
    }
    let set_role = format!("SET ROLE {}", quote_ident(role));
    if let Err(e) = conn.execute(sqlx::AssertSqlSafe(set_role)).await {
        let code = match &e {
            sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
            _ => None,
        };
        return Err(match code.as_deref() {
            Some("42501") => DbError::CannotSetRole {
                login,
                role: role.to_owned(),
            },
            _ => DbError::Sqlx(e),
        });
    }
    let (current, bypass): (String, bool) = sqlx::query_as(
        "SELECT current_user::text, (r.rolsuper OR r.rolbypassrls OR EXISTS (
             SELECT 1 FROM pg_tables t WHERE t.schemaname = current_schema()
             AND t.tablename = 'memberships' AND t.tableowner = current_user))
         FROM pg_roles r WHERE r.rolname = current_user",
    )
    .fetch_one(&mut conn)
    .await?;
    let _ = conn.close().await;
    if bypass {
        Err(DbError::RlsBypass(current))
    } else {
        Ok(())
    }
}

/// Whether `url` names a loopback host (or a Unix socket) and says nothing
/// about `sslmode`.
fn loopback_without_sslmode(url: &str, host: &str) -> bool {
    let loopback = host == "localhost"
        || host.starts_with('/')
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback && !url.contains("sslmode=")
}

/// Quotes an SQL identifier that was validated elsewhere.
pub(crate) fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn tls_is_skipped_only_on_loopback_without_an_explicit_sslmode() {
        use super::loopback_without_sslmode as skip;
        assert!(skip("postgres://u@127.0.0.1/db", "127.0.0.1"));
        assert!(skip("postgres://u@localhost/db", "localhost"));
        assert!(skip("postgres://u@[::1]/db", "::1"));
        assert!(!skip("postgres://u@127.0.0.1/db?sslmode=require", "127.0.0.1"));
        assert!(!skip("postgres://u@db.internal/db", "db.internal"));
        assert!(!skip("postgres://u@10.0.0.5/db", "10.0.0.5"));
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact_url("postgres://app:s3cret@db/x"), "postgres://app:***@db/x");
        assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact_url("sqlite:app.db"), "sqlite:app.db");
    }
}
