//! Helpers for tests that must reach below the API (seeding, counting,
//! probing row-level security). Not part of the public API.

use chrono::Utc;

use super::{Bind, Db, DbError};
use crate::model::{FieldType, TenantId, UserId, Value};

fn uuid(v: uuid::Uuid) -> Bind {
    Bind::new(Value::Uuid(v), FieldType::Uuid)
}

fn text(v: &str) -> Bind {
    Bind::new(Value::Text(v.to_owned()), FieldType::Text)
}

fn now() -> Bind {
    Bind::new(Value::DateTime(Utc::now()), FieldType::DateTime)
}

/// Creates a tenant and its members (users without passwords).
pub async fn seed_tenant(
    db: &Db,
    id: TenantId,
    slug: &str,
    plan: &str,
    members: &[(UserId, &str)],
    _sqlite: bool,
) -> Result<(), DbError> {
    let mut tx = db.begin_platform().await?;
    tx.execute(
        "INSERT INTO tenants (id, slug, name, plan, created_at) VALUES ($1, $2, $3, $4, $5)".into(),
        vec![uuid(id.0), text(slug), text(slug), text(plan), now()],
    )
    .await?;
    for (user, _) in members {
        tx.execute(
            "INSERT INTO users (id, email, created_at) VALUES ($1, $2, $3)".into(),
            vec![uuid(user.0), text(&format!("{}@{slug}.test", user.0.simple())), now()],
        )
        .await?;
    }
    let mut tx = tx.into_tenant(id).await?;
    for (user, role) in members {
        tx.execute(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)".into(),
            vec![uuid(id.0), uuid(user.0), text(role), now()],
        )
        .await?;
    }
    tx.commit().await
}

/// Rows of `table` (a trusted identifier) in `tenant`.
pub async fn count_rows(db: &Db, table: &str, tenant: TenantId) -> Result<i64, DbError> {
    let mut tx = db.begin(tenant).await?;
    let row = tx
        .fetch_optional(
            format!("SELECT count(*) FROM {table} WHERE tenant_id = $1"),
            vec![uuid(tenant.0)],
        )
        .await?;
    tx.finish_read();
    Ok(match row.map(|r| r.value(0, FieldType::BigInt)).transpose()? {
        Some(Value::BigInt(n)) => n,
        _ => 0,
    })
}

/// On PostgreSQL, as the pool's role: rows of `projects` with no tenant
/// set, rows with tenant `a` set, rows of `b` visible while `a` is set
/// (asking by `tenant_id` explicitly), and whether the role is neither
/// superuser nor BYPASSRLS nor the tables' owner.
pub async fn rls_probe(db: &Db, a: TenantId, b: TenantId) -> Result<(i64, i64, i64, bool), DbError> {
    let pool = db.pg().expect("rls_probe needs PostgreSQL");
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM projects")
        .fetch_one(pool)
        .await?;
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(a.0.to_string())
        .execute(&mut *tx)
        .await?;
    let only_a: i64 = sqlx::query_scalar("SELECT count(*) FROM projects")
        .fetch_one(&mut *tx)
        .await?;
    let b_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM projects WHERE tenant_id = $1")
        .bind(b.0)
        .fetch_one(&mut *tx)
        .await?;
    let safe: bool = sqlx::query_scalar(
        "SELECT NOT (r.rolsuper OR r.rolbypassrls) AND NOT EXISTS (
             SELECT 1 FROM pg_tables t WHERE t.tableowner = current_user AND t.schemaname = 'public')
         FROM pg_roles r WHERE r.rolname = current_user",
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.rollback().await?;
    Ok((none, only_a, b_rows, safe))
}

/// Tries to insert a project for tenant `b` inside a transaction scoped to `a`.
pub async fn insert_as_other_tenant(db: &Db, a: TenantId, b: TenantId) -> Result<(), DbError> {
    let mut tx = db.begin_write(a).await?;
    tx.execute(
        "INSERT INTO projects (tenant_id, name, created_at, updated_at) VALUES ($1, 'x', now(), now())".into(),
        vec![uuid(b.0)],
    )
    .await?;
    tx.commit().await
}

/// On PostgreSQL, a connection kept between one-message reads: its
/// `app.tenant_id` (`None` when unset or empty), whether it is inside a
/// transaction, and how many `projects` rows it sees. `None` when no
/// connection is cached.
pub async fn cached_read_connection(db: &Db) -> Result<Option<(Option<String>, bool, i64)>, DbError> {
    let Some(mut conn) = db.oneshot_cache().take_idle() else {
        return Ok(None);
    };
    let setting: Option<String> = sqlx::query_scalar("SELECT nullif(current_setting('app.tenant_id', true), '')")
        .fetch_one(&mut *conn)
        .await?;
    // A savepoint is refused outside a transaction block.
    let in_tx = sqlx::Executor::execute(&mut *conn, "SAVEPOINT rookery_probe")
        .await
        .is_ok();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM projects")
        .fetch_one(&mut *conn)
        .await?;
    Ok(Some((setting, in_tx, rows)))
}

/// How many tasks wait for a connection from the pool.
pub fn pool_waiters(db: &Db) -> usize {
    db.oneshot_cache().waiting()
}

/// How many connections the pool has open, and how many one-message
/// statements wait for one (from the pool or handed over).
pub fn pool_open_and_waiting_statements(db: &Db) -> (u32, usize) {
    let stats = db.stats();
    (stats.open, stats.waiting)
}

/// Sends `values` through a reading transaction as the parameters of
/// `SELECT $1, $2, …` and decodes the row back with the same types (on
/// PostgreSQL: the one-message form, its literals and text-format rows).
/// `Value::Bytes` comes back through the bytea decoder.
pub async fn read_round_trip(
    db: &Db,
    tenant: TenantId,
    values: &[(crate::model::Value, crate::model::FieldType)],
) -> Result<Vec<crate::model::Value>, DbError> {
    use crate::model::Value;
    let params: Vec<String> = (1..=values.len()).map(|i| format!("${i}")).collect();
    let sql = format!("SELECT {}", params.join(", "));
    let binds = values.iter().map(|(v, ty)| super::Bind::new(v.clone(), *ty)).collect();
    let mut tx = db.begin(tenant).await?;
    let row = tx.fetch_optional(sql, binds).await?.expect("SELECT returns one row");
    tx.finish_read();
    values
        .iter()
        .enumerate()
        .map(|(i, (v, ty))| match v {
            Value::Bytes(_) => super::bytes(&row, i).map(Value::Bytes).map_err(DbError::from),
            _ => row.value(i, *ty).map_err(DbError::from),
        })
        .collect()
}

/// The tenant's audit rows, oldest first: action, target id, request id.
pub async fn audit_trail(db: &Db, tenant: TenantId) -> Result<Vec<(String, String, Option<String>)>, DbError> {
    let mut tx = db.begin(tenant).await?;
    let rows = tx
        .fetch_all(
            "SELECT action, target_id, request_id FROM audit_log WHERE tenant_id = $1 ORDER BY at, id".into(),
            vec![uuid(tenant.0)],
        )
        .await?;
    tx.finish_read();
    let text = |row: &super::DbRow, i| match row.value(i, FieldType::Text) {
        Ok(Value::Text(s)) => Ok(Some(s)),
        Ok(_) => Ok(None),
        Err(e) => Err(DbError::from(e)),
    };
    rows.iter()
        .map(|row| {
            Ok((
                text(row, 0)?.unwrap_or_default(),
                text(row, 1)?.unwrap_or_default(),
                text(row, 2)?,
            ))
        })
        .collect()
}

/// Runs two audit inserts (`probe.first`, `probe.second`) in a
/// one-statement write transaction (`Db::begin_write_one`) and commits:
/// the second statement's result, then the commit's.
pub async fn write_one_twice(
    db: &Db,
    tenant: TenantId,
) -> Result<(Result<u64, DbError>, Result<(), DbError>), DbError> {
    let mut tx = db.begin_write_one(tenant).await?;
    let insert = |action: &str| {
        (
            "INSERT INTO audit_log (tenant_id, id, actor_type, action, at) VALUES ($1, $2, 'system', $3, $4)"
                .to_owned(),
            vec![uuid(tenant.0), uuid(uuid::Uuid::now_v7()), text(action), now()],
        )
    };
    let (sql, binds) = insert("probe.first");
    tx.execute(sql, binds).await?;
    let (sql, binds) = insert("probe.second");
    let second = tx.execute(sql, binds).await;
    Ok((second, tx.commit().await))
}

/// On PostgreSQL, leaves a cached connection inside a transaction that
/// set a random tenant, as a `BEGIN` cancelled mid-flight does (sqlx does
/// not roll those back). `false` when no connection is cached.
pub async fn plant_open_transaction(db: &Db) -> Result<bool, DbError> {
    let Some(mut conn) = db.oneshot_cache().take_idle() else {
        return Ok(false);
    };
    let sql = format!(
        "BEGIN; SELECT set_config('app.tenant_id', '{}', true)",
        uuid::Uuid::new_v4().hyphenated()
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await?;
    db.oneshot_cache().put_idle(conn);
    Ok(true)
}

/// Every audit row's action and metadata (JSON text) in `tenant`, oldest first.
pub async fn audit_metadata(db: &Db, tenant: TenantId) -> Result<Vec<(String, Option<String>)>, DbError> {
    let metadata = match db.dialect() {
        super::Dialect::Postgres => "metadata::text",
        super::Dialect::Sqlite => "metadata",
    };
    let mut tx = db.begin(tenant).await?;
    let rows = tx
        .fetch_all(
            format!("SELECT action, {metadata} FROM audit_log WHERE tenant_id = $1 ORDER BY at, id"),
            vec![uuid(tenant.0)],
        )
        .await?;
    tx.finish_read();
    rows.iter()
        .map(|row| {
            let action = match row.value(0, FieldType::Text)? {
                Value::Text(s) => s,
                _ => String::new(),
            };
            let metadata = match row.value(1, FieldType::Text)? {
                Value::Text(s) => Some(s),
                _ => None,
            };
            Ok((action, metadata))
        })
        .collect()
}

/// The first column (a `bigint`) of `sql`, no parameters, run in a reading
/// transaction (on PostgreSQL: one message) or, with `write`, in a
/// one-statement write (`Db::begin_write_one`).
pub async fn one_bigint(db: &Db, tenant: TenantId, write: bool, sql: &str) -> Result<Option<i64>, DbError> {
    let row = if write {
        let mut tx = db.begin_write_one(tenant).await?;
        let row = tx.fetch_optional(sql.to_owned(), Vec::new()).await?;
        tx.commit().await?;
        row
    } else {
        let mut tx = db.begin(tenant).await?;
        let row = tx.fetch_optional(sql.to_owned(), Vec::new()).await?;
        tx.finish_read();
        row
    };
    Ok(match row.map(|r| r.value(0, FieldType::BigInt)).transpose()? {
        Some(Value::BigInt(n)) => Some(n),
        _ => None,
    })
}

/// Starts `sql` as [`one_bigint`] does, polls it once and drops it:
/// whether it was still running then (cut off mid-flight).
pub async fn drop_mid_flight(db: &Db, tenant: TenantId, write: bool, sql: &str) -> Result<bool, DbError> {
    let pending = if write {
        let mut tx = db.begin_write_one(tenant).await?;
        futures_util::FutureExt::now_or_never(tx.fetch_optional(sql.to_owned(), Vec::new())).is_none()
    } else {
        let mut tx = db.begin(tenant).await?;
        futures_util::FutureExt::now_or_never(tx.fetch_optional(sql.to_owned(), Vec::new())).is_none()
    };
    Ok(pending)
}

/// On PostgreSQL, the connection kept between one-message statements:
/// its backend pid, its `app.tenant_id` (`None` when unset or empty) and
/// whether it is inside a transaction. It is kept again unless it was in
/// one. `None` when no connection is cached.
pub async fn cached_connection(db: &Db) -> Result<Option<(i32, Option<String>, bool)>, DbError> {
    let Some(mut conn) = db.oneshot_cache().take_idle() else {
        return Ok(None);
    };
    let (pid, setting): (i32, Option<String>) =
        sqlx::query_as("SELECT pg_backend_pid(), nullif(current_setting('app.tenant_id', true), '')")
            .fetch_one(&mut *conn)
            .await?;
    // A savepoint is refused outside a transaction block.
    let in_tx = sqlx::Executor::execute(&mut *conn, "SAVEPOINT rookery_probe")
        .await
        .is_ok();
    if !in_tx {
        db.oneshot_cache().put_idle(conn);
    }
    Ok(Some((pid, setting, in_tx)))
}

/// The limits the connection cache applies: `max_lifetime`, `idle_timeout`.
pub fn cached_connection_limits(db: &Db) -> (Option<std::time::Duration>, Option<std::time::Duration>) {
    let limits = db.oneshot_cache().limits();
    (limits.max_lifetime, limits.idle_timeout)
}

/// Replaces the limits the connection cache applies (tests set zero
/// limits instead of waiting for real ones).
pub fn limit_cached_connections(
    db: &Db,
    max_lifetime: Option<std::time::Duration>,
    idle_timeout: Option<std::time::Duration>,
) {
    db.oneshot_cache().set_limits(super::oneshot::Limits {
        max_lifetime,
        idle_timeout,
    });
}
