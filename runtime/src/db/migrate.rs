//! Running the app's embedded migrations (sqlx's format and bookkeeping
//! table, so `sqlx migrate info` reads the same state).
//!
//! On PostgreSQL the runner does three things the migration files do not:
//!
//! - **Data steps see every row.** Tenant tables have row-level security
//!   `ENABLE` + `FORCE`, and `FORCE` applies to their owner, who runs the
//!   migrations: an `UPDATE … WHERE col IS NULL` or an `INSERT … SELECT`
//!   would see no rows. Each migration's transaction first lifts `FORCE`
//!   from the tables the migrating role owns and puts it back before it
//!   commits. DDL is transactional, so no other session ever sees a table
//!   without it, and the serving role (which owns nothing) is under RLS
//!   whether `FORCE` is set or not.
//! - **Nothing is filtered silently.** The migrating connection runs with
//!   `row_security = off`: a statement that row-level security would still
//!   filter (a table forced earlier in the same migration, a
//!   `-- no-transaction` migration) fails with an error instead of seeing
//!   fewer rows.
//! - **The app's group role gets its privileges.** After the migrations,
//!   one transaction creates the serving group role when it is missing
//!   (`NOLOGIN`) and grants it exactly what the app uses
//!   ([`GRANTS`](self)); it runs on every `migrate`, so changing
//!   `ROOKERY_DB_ROLE` takes effect at the next one.

use std::borrow::Cow;

use sqlx::migrate::{Migration as SqlxMigration, MigrationType, Migrator};
use sqlx::{Connection as _, Executor as _, PgPool, SqlSafeStr};

use super::{Db, DbError, quote_ident};
use crate::app_spec::{AppSpec, Migration};

/// A migration failed, or the database state does not fit the app.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// sqlx's migrator refused or a migration's SQL failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::migrate::MigrateError),
    /// The serving group role is missing and the migrating role may not
    /// create it.
    #[error(
        "the app's group role `{role}` does not exist and `{migrator}` may not create it: as a superuser run `CREATE ROLE {role} NOLOGIN;` once, or give `{migrator}` CREATEROLE"
    )]
    CannotCreateRole {
        /// The group role.
        role: String,
        /// The migrating login role.
        migrator: String,
    },
    /// Granting the group role its privileges failed.
    #[error("granting `{role}` its privileges failed: {source}")]
    Grant {
        /// The group role.
        role: String,
        /// The database's refusal.
        source: sqlx::Error,
    },
    /// The serving role may not read the database's migration state: the
    /// migrations never granted it anything here.
    #[error(
        "role `{0}` has no privileges on this database's tables: run `<app> migrate` with ROOKERY_DB_ROLE={0} (or serve with the role migrate granted)"
    )]
    NoPrivileges(String),
    /// The database is behind the app's migrations: `serve` refuses to start.
    #[error(
        "the database is behind this build's migrations ({applied} of {expected} applied{missing}): run `<app> migrate` as the tables' owner first"
    )]
    Behind {
        /// Migrations applied.
        applied: usize,
        /// Migrations this build embeds.
        expected: usize,
        /// The first missing one, for the message.
        missing: String,
    },
    /// The app's migrations predate the platform tables this runtime
    /// needs (the runtime was upgraded, the app not regenerated): `serve`
    /// refuses to start rather than answer requests with 500.
    #[error(
        "the database has no table `{table}` (platform tables version {version}), which this runtime needs: run `rookery generate` to write the migration that adds it, then `<app> migrate`"
    )]
    PlatformBehind {
        /// The newest platform table.
        table: &'static str,
        /// The platform step that creates it.
        version: u32,
    },
    /// The tables are current but a platform function this runtime calls
    /// is missing: `migrate` creates them and has not run since the
    /// runtime was upgraded. `serve` refuses to start.
    #[error(
        "the database has no function `{0}`, which this runtime calls: run `<app> migrate` as the tables' owner (it creates the platform's functions)"
    )]
    FunctionMissing(&'static str),
    /// PostgreSQL refused `migrate` a privilege (`42501`): most often it is
    /// connected as a role that does not own the app's tables (the serving
    /// login, when `ROOKERY_MIGRATE_DATABASE_URL` is not set), else its
    /// owner lacks `CREATE` on the schema or a privilege a migration of
    /// your own needs (an extension).
    #[error(
        "migrate was refused: {message}{migration}; `migrate` must connect as the role that owns the app's tables and may create in their schema: ROOKERY_MIGRATE_DATABASE_URL names it (without it, migrate uses DATABASE_URL, which should name the serving login)"
    )]
    NotOwner {
        /// PostgreSQL's message (`permission denied for schema public`).
        message: String,
        /// ` (migration N)` when a migration's SQL was refused.
        migration: String,
    },
}

/// sqlx's migrator error, or [`MigrateError::NotOwner`] when PostgreSQL
/// refused a privilege (without PostgreSQL's source line, which sqlx's
/// message appends and which reads like a line of the migration).
fn refused(err: sqlx::migrate::MigrateError) -> MigrateError {
    use sqlx::migrate::MigrateError as Sqlx;
    let (db, migration) = match &err {
        Sqlx::Execute(sqlx::Error::Database(db)) => (db, String::new()),
        Sqlx::ExecuteMigration(sqlx::Error::Database(db), version) => (db, format!(" (migration {version})")),
        _ => return MigrateError::Sqlx(err),
    };
    if db.code().as_deref() != Some("42501") {
        return MigrateError::Sqlx(err);
    }
    MigrateError::NotOwner {
        message: db.message().to_owned(),
        migration,
    }
}

/// The newest platform table the runtime reads, and the step that
/// creates it: an app generated before it cannot serve.
const NEWEST_PLATFORM_TABLE: (&str, u32) = ("rookery_roles", 12);

/// The newest of the platform's functions (`migrate` creates them after
/// the migrations, PostgreSQL only), which `serve` checks like the table.
const NEWEST_FUNCTIONS: [&str; 2] = ["rookery_audit_unsealed(uuid[],bigint)", "rookery_audit_seal(jsonb)"];

/// Lifts `FORCE ROW LEVEL SECURITY` from every table of the current
/// schema that the migrating role owns, for this transaction only, and
/// remembers which (by oid, so renames and drops inside the migration are
/// fine) in a transaction-local setting.
const LIFT_FORCE: &str = "DO $rookery$
DECLARE t oid; lifted text := '';
BEGIN
    FOR t IN SELECT c.oid FROM pg_class c
             WHERE c.relforcerowsecurity AND c.relnamespace = current_schema()::regnamespace
               AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
    LOOP
        EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', t::regclass);
        lifted := lifted || t::text || ',';
    END LOOP;
    PERFORM set_config('rookery.lifted_force', lifted, true);
END
$rookery$;
";

/// Puts `FORCE` back on every table [`LIFT_FORCE`] lifted that still exists.
const RESTORE_FORCE: &str = "
DO $rookery$
DECLARE t regclass;
BEGIN
    FOR t IN SELECT c.oid::regclass FROM pg_class c
             WHERE c.oid::text = ANY (string_to_array(current_setting('rookery.lifted_force', true), ','))
    LOOP
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
    END LOOP;
END
$rookery$;
";

/// What the serving group role may do, `{role}` and `{schema}` quoted:
/// least privilege. Model tables: read and write. Platform tables: only
/// the statements the runtime runs (`tenants`, `memberships` and the audit
/// log are never updated or deleted by the app; API keys, refresh tokens
/// and invitations are updated, never deleted). `users`: its rows only
/// through a membership of the transaction's tenant (row-level security,
/// not forced, so the owner's functions see every row) and never
/// `password_hash`, which only the sign-in functions read. sqlx's
/// bookkeeping table: read only (`serve` checks it is not behind).
const GRANTS: &str = "SET LOCAL check_function_bodies = off;
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role};
REVOKE ALL ON tenants, users, memberships, api_keys, refresh_tokens, invitations, audit_log, _sqlx_migrations FROM {role};
GRANT SELECT, INSERT ON tenants, memberships, audit_log TO {role};
GRANT UPDATE (plan) ON tenants TO {role};
GRANT SELECT, INSERT, UPDATE ON api_keys, refresh_tokens, invitations TO {role};
GRANT SELECT (id, email, created_at), INSERT ON users TO {role};
GRANT SELECT ON _sqlx_migrations TO {role};

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS member_visible ON users;
CREATE POLICY member_visible ON users FOR SELECT
    USING (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id));
DROP POLICY IF EXISTS sign_up ON users;
CREATE POLICY sign_up ON users FOR INSERT WITH CHECK (true);

CREATE OR REPLACE FUNCTION rookery_sign_in(p_email text) RETURNS TABLE (id uuid, password_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp SET row_security = on AS $rookery$
    -- Runs as the owner, whom FORCE row-level security confines to the
    -- transaction's tenant: members and pending invitees of it only.
    SELECT u.id, u.password_hash FROM users u
    WHERE lower(u.email) = p_email
      AND (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id)
           OR EXISTS (SELECT 1 FROM invitations i
                      WHERE lower(i.email) = p_email AND i.accepted_at IS NULL AND i.expires_at > now()))
$rookery$;
CREATE OR REPLACE FUNCTION rookery_email_taken(p_email text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
    SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = p_email)
$rookery$;
REVOKE ALL ON FUNCTION rookery_sign_in(text), rookery_email_taken(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rookery_sign_in(text), rookery_email_taken(text) TO {role};

-- One person, several tenants: signing in without naming a tenant finds
-- the account by its email alone (the caller then lists its memberships,
-- and answers as a failed login when there is none) ...
CREATE OR REPLACE FUNCTION rookery_sign_in_anywhere(p_email text) RETURNS TABLE (id uuid, password_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
    SELECT u.id, u.password_hash FROM users u WHERE lower(u.email) = p_email
$rookery$;
REVOKE ALL ON FUNCTION rookery_sign_in_anywhere(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rookery_sign_in_anywhere(text) TO {role};
-- ... and a transaction that names a user (`app.user_id`, set from a
-- verified credential for that transaction only) sees that user's own
-- memberships in every tenant, besides the tenant's rows it names.
DROP POLICY IF EXISTS own_memberships ON memberships;
CREATE POLICY own_memberships ON memberships FOR SELECT
    USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
";

/// The member lifecycle (platform tables version 8): the serving role
/// changes a membership's role and status (never its tenant, user or
/// creation), deletes the pending invitations a removed member sent, and
/// signs in only active members (`rookery_sign_in` again, now reading the
/// status: a former member is found only through a pending invitation).
const MEMBERS: &str = "
GRANT UPDATE (role, status, removed_at, removed_by) ON memberships TO {role};
GRANT DELETE ON invitations TO {role};

CREATE OR REPLACE FUNCTION rookery_sign_in(p_email text) RETURNS TABLE (id uuid, password_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp SET row_security = on AS $rookery$
    -- Runs as the owner, whom FORCE row-level security confines to the
    -- transaction's tenant: active members and pending invitees of it only.
    SELECT u.id, u.password_hash FROM users u
    WHERE lower(u.email) = p_email
      AND (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.status = 'active')
           OR EXISTS (SELECT 1 FROM invitations i
                      WHERE lower(i.email) = p_email AND i.accepted_at IS NULL AND i.expires_at > now()))
$rookery$;
";

/// The operator's feature overrides (platform tables version 11): the
/// operator API changes them as the serving role.
const OVERRIDES: &str = "
GRANT UPDATE (feature_overrides) ON tenants TO {role};
";

/// The audit chain (platform tables version 10): the serving role's sealer
/// sets `seq` and `hash` of a row that has none (the restrictive policy
/// `audit_log_sealed_once`) and changes no other column of any row,
/// through the sealer's two functions (invoker's rights).
const AUDIT_CHAIN: &str = concat!(
    "
GRANT UPDATE (seq, hash) ON audit_log TO {role};
",
    include_str!("../audit/seal.sql")
);

/// The tenants' custom roles (platform tables version 12): defined,
/// changed (its name, what it inherits and grants) and deleted; never
/// moved to another tenant or given another id.
const ROLES: &str = "
REVOKE ALL ON rookery_roles FROM {role};
GRANT SELECT, INSERT, DELETE ON rookery_roles TO {role};
GRANT UPDATE (name, inherits, grants, updated_at) ON rookery_roles TO {role};
";

/// Whether `table` of the current schema has `column` (a platform step's
/// column, so the grants that name it run only once it exists).
async fn has_column(conn: &mut sqlx::PgConnection, table: &str, column: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2)",
    )
    .bind(table)
    .bind(column)
    .fetch_one(conn)
    .await
}

fn migrator(migrations: &'static [Migration], wrap: bool) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|m| {
                // sqlx's convention: a migration that manages its own
                // transactions (SQLite table rebuilds, which must switch
                // foreign keys off outside a transaction) says so.
                let no_tx = m.sql.starts_with("-- no-transaction");
                let mut migration = SqlxMigration::new(
                    m.version,
                    Cow::Borrowed(m.name),
                    MigrationType::Simple,
                    m.sql.into_sql_str(),
                    no_tx,
                );
                if wrap && !no_tx {
                    // The checksum stays the file's own, so applied
                    // migrations still match whatever the runner adds.
                    let wrapped = format!("{LIFT_FORCE}{}{RESTORE_FORCE}", m.sql);
                    migration.sql = sqlx::AssertSqlSafe(wrapped).into_sql_str();
                }
                migration
            })
            .collect(),
    )
}

impl Db {
    /// Applies every pending migration of `spec` for this pool's dialect,
    /// each in its own transaction, then (on PostgreSQL) creates the
    /// serving group role `role` if it is missing and grants it the app's
    /// privileges. Run it as the role that owns the tables, on a pool
    /// opened with [`DbOptions::serving_role`](super::DbOptions) `None`.
    pub async fn migrate(&self, spec: &AppSpec, role: &str) -> Result<(), DbError> {
        let err = |e: MigrateError| DbError::Migrate(e);
        match (self.pg(), self.sqlite()) {
            (Some(pool), _) => {
                ensure_role(pool, role).await.map_err(err)?;
                migrator(spec.postgres_migrations, true)
                    .run(pool)
                    .await
                    .map_err(|e| err(refused(e)))?;
                grant(pool, role).await.map_err(err)
            }
            (None, Some(pool)) => migrator(spec.sqlite_migrations, false)
                .run(pool)
                .await
                .map_err(|e| err(e.into())),
            (None, None) => unreachable!("a Db always holds one pool"),
        }
    }

    /// Refuses a database that is behind `spec`'s migrations: some embedded
    /// migration is not applied (or failed half-way). A database ahead of
    /// this build (a newer deploy migrated it) is fine.
    pub async fn check_migrated(&self, spec: &AppSpec) -> Result<(), DbError> {
        let applied: Vec<i64> = match (self.pg(), self.sqlite()) {
            (Some(pool), _) => applied_versions(pool).await?,
            (None, Some(pool)) => {
                let exists: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
                )
                .fetch_one(pool)
                .await?;
                if exists {
                    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                        .fetch_all(pool)
                        .await?
                } else {
                    Vec::new()
                }
            }
            (None, None) => unreachable!("a Db always holds one pool"),
        };
        let expected = match self.dialect() {
            super::Dialect::Postgres => spec.postgres_migrations,
            super::Dialect::Sqlite => spec.sqlite_migrations,
        };
        if let Some(first) = expected.iter().find(|m| !applied.contains(&m.version)) {
            return Err(DbError::Migrate(MigrateError::Behind {
                applied: expected.iter().filter(|m| applied.contains(&m.version)).count(),
                expected: expected.len(),
                missing: format!("; first missing: {:04}_{}", first.version, first.name),
            }));
        }
        let (table, version) = NEWEST_PLATFORM_TABLE;
        let exists: bool = match (self.pg(), self.sqlite()) {
            (Some(pool), _) => {
                sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                    .bind(table)
                    .fetch_one(pool)
                    .await?
            }
            (None, Some(pool)) => {
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1)")
                    .bind(table)
                    .fetch_one(pool)
                    .await?
            }
            (None, None) => unreachable!("a Db always holds one pool"),
        };
        if !exists {
            return Err(DbError::Migrate(MigrateError::PlatformBehind { table, version }));
        }
        if let Some(pool) = self.pg() {
            // One query for all of them: `/readyz` runs this per probe.
            let missing: Option<i32> = sqlx::query_scalar(
                "SELECT i::int FROM unnest($1::text[]) WITH ORDINALITY AS f(name, i) \
                 WHERE to_regprocedure(f.name) IS NULL ORDER BY i LIMIT 1",
            )
            .bind(&NEWEST_FUNCTIONS[..])
            .fetch_optional(pool)
            .await?;
            if let Some(function) = missing.and_then(|i| NEWEST_FUNCTIONS.get(usize::try_from(i - 1).ok()?)) {
                return Err(DbError::Migrate(MigrateError::FunctionMissing(function)));
            }
        }
        Ok(())
    }
}

async fn applied_versions(pool: &PgPool) -> Result<Vec<i64>, DbError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(Vec::new());
    }
    match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(pool)
        .await
    {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") => {
            let role: String = sqlx::query_scalar("SELECT current_user::text").fetch_one(pool).await?;
            Err(DbError::Migrate(MigrateError::NoPrivileges(role)))
        }
        other => Ok(other?),
    }
}

/// Creates the group role `role` (`NOLOGIN`) when it does not exist.
async fn ensure_role(pool: &PgPool, role: &str) -> Result<(), MigrateError> {
    let (exists, migrator): (bool, String) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1), current_user::text")
            .bind(role)
            .fetch_one(pool)
            .await
            .map_err(|e| MigrateError::Sqlx(e.into()))?;
    if exists {
        return Ok(());
    }
    let create = format!("CREATE ROLE {} NOLOGIN", quote_ident(role));
    match pool.execute(sqlx::AssertSqlSafe(create)).await {
        Ok(_) => Ok(()),
        // Another migrator created it meanwhile.
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("42710" | "23505")) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") => Err(MigrateError::CannotCreateRole {
            role: role.to_owned(),
            migrator,
        }),
        Err(e) => Err(MigrateError::Sqlx(e.into())),
    }
}

/// Grants the group role the app's privileges, in one transaction.
async fn grant(pool: &PgPool, role: &str) -> Result<(), MigrateError> {
    let failed = |source| MigrateError::Grant {
        role: role.to_owned(),
        source,
    };
    let mut conn = pool.acquire().await.map_err(failed)?;
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&mut *conn)
        .await
        .map_err(failed)?;
    // The job queue's functions, once its table exists (platform tables
    // version 2: an app generated before it has none).
    let queue: bool = sqlx::query_scalar("SELECT to_regclass('rookery_jobs') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(failed)?;
    // The mail table's grants and functions, once it exists (version 4).
    let mail: bool = sqlx::query_scalar("SELECT to_regclass('rookery_mail') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(failed)?;
    // The webhook tables' privileges and the events' fan-out trigger, once
    // they exist (platform tables version 5).
    let events: bool = sqlx::query_scalar("SELECT to_regclass('rookery_events') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(failed)?;
    // The platform's audit: append only (version 6).
    let audit: bool = sqlx::query_scalar("SELECT to_regclass('rookery_platform_audit') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(failed)?;
    // The usage tables' privileges and the operator's report (version 7).
    let usage: bool = sqlx::query_scalar("SELECT to_regclass('rookery_usage_days') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(failed)?;
    // The member lifecycle's columns (version 8).
    let members = has_column(&mut conn, "memberships", "status").await.map_err(failed)?;
    // The rate quotas' windows (version 9).
    let quotas: bool = sqlx::query_scalar("SELECT to_regclass('rookery_quota_windows') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(failed)?;
    // The operator's feature overrides (version 11).
    let overrides = has_column(&mut conn, "tenants", "feature_overrides")
        .await
        .map_err(failed)?;
    // Tenant deletion and personal-data erasure (version 13).
    let deletion = has_column(&mut conn, "tenants", "erase_after").await.map_err(failed)?;
    // The audit chain's columns (version 10).
    let chain = has_column(&mut conn, "audit_log", "seq").await.map_err(failed)?;
    // The tenants' custom roles (version 12).
    let roles: bool = sqlx::query_scalar("SELECT to_regclass('rookery_roles') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(failed)?;
    let sql = [
        GRANTS,
        if members { MEMBERS } else { "" },
        if overrides { OVERRIDES } else { "" },
        if chain { AUDIT_CHAIN } else { "" },
        if roles { ROLES } else { "" },
        if queue { super::queue::FUNCTIONS } else { "" },
        if mail { super::mail::FUNCTIONS } else { "" },
        if events { super::events::FUNCTIONS } else { "" },
        if audit { super::platform_audit::FUNCTIONS } else { "" },
        if usage { super::usage::FUNCTIONS } else { "" },
        if quotas { super::quota::GRANTS } else { "" },
        if deletion { super::erasure::FUNCTIONS } else { "" },
    ]
    .concat()
    .replace("{schema}", &quote_ident(&schema))
    .replace("{role}", &quote_ident(role));
    let mut tx = conn.begin().await.map_err(failed)?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    tx.commit().await.map_err(failed)
}
