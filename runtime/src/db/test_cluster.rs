//! Fresh PostgreSQL databases set up the way the README tells users to:
//! a non-superuser login role owns the database and runs the migrations,
//! and the server logs in as another role that is only a member of the
//! app's group role. A superuser would bypass row-level security and hide
//! exactly the bugs the tests are for.

use sqlx::{Executor as _, PgPool};

/// The login role that owns every test database and migrates it.
pub const OWNER: &str = "rookery_test_owner";

/// A fresh database, dropped by [`PgTestDb::drop_database`].
#[derive(Debug, Clone)]
pub struct PgTestDb {
    /// The database's name.
    pub name: String,
    /// The superuser URL the database was created with.
    pub admin_url: String,
    /// URL of [`OWNER`] on this database: migrate with it.
    pub owner_url: String,
    /// URL of `<app>_web` (a member of the group role `<app>_app`): serve with it.
    pub serving_url: String,
    /// The app's group role.
    pub group_role: String,
}

/// `url` with its user replaced by `user` and its database by `database`
/// (no password: the test cluster trusts local connections).
pub fn with_user_and_database(url: &str, user: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let rest = &base[scheme_end..];
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host = rest.split_once('/').map_or(rest, |(host, _)| host);
    let mut out = format!("{}{user}@{host}/{database}", &base[..scheme_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Runs `sql` (a `CREATE ROLE …`) unless a role `name` exists; a
/// concurrent test process creating it first is fine.
async fn ensure_role(admin: &PgPool, name: &str, sql: &str) {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
        .bind(name)
        .fetch_one(admin)
        .await
        .expect("pg_roles");
    if !exists {
        let _ = admin.execute(sqlx::AssertSqlSafe(sql.to_owned())).await;
    }
}

/// Creates the roles of app `app` (idempotent) and a fresh database owned
/// by [`OWNER`], through the superuser at `admin_url`.
pub async fn create(admin_url: &str, app: &str) -> PgTestDb {
    let admin = PgPool::connect(admin_url)
        .await
        .expect("PostgreSQL at DATABASE_URL_ADMIN");
    let group = super::default_role(app);
    let web = format!("{app}_web");
    ensure_role(
        &admin,
        OWNER,
        &format!("CREATE ROLE {OWNER} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB"),
    )
    .await;
    ensure_role(&admin, &group, &format!("CREATE ROLE {group} NOLOGIN")).await;
    ensure_role(&admin, &web, &format!("CREATE ROLE {web} LOGIN IN ROLE {group}")).await;
    let name = format!("rookery_t_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name} OWNER {OWNER}")))
        .await
        .expect("create database");
    admin.close().await;
    PgTestDb {
        owner_url: with_user_and_database(admin_url, OWNER, &name),
        serving_url: with_user_and_database(admin_url, &web, &name),
        admin_url: admin_url.to_owned(),
        name,
        group_role: group,
    }
}

impl PgTestDb {
    /// This database through the superuser (sees every row; for inspection).
    pub fn superuser_url(&self) -> String {
        let user = self
            .admin_url
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .map_or("postgres", |(user, _)| user.split(':').next().unwrap_or("postgres"));
        with_user_and_database(&self.admin_url, user, &self.name)
    }

    /// Drops the database (best effort).
    pub async fn drop_database(&self) {
        if let Ok(admin) = PgPool::connect(&self.admin_url).await {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .await;
            admin.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_user_and_database as w;

    #[test]
    fn urls_get_their_user_and_database_replaced() {
        assert_eq!(
            w("postgres://postgres@127.0.0.1:5432/postgres", "o", "d"),
            "postgres://o@127.0.0.1:5432/d"
        );
        assert_eq!(
            w("postgres://u:pw@h/db?sslmode=disable", "o", "d"),
            "postgres://o@h/d?sslmode=disable"
        );
        assert_eq!(w("postgres://h", "o", "d"), "postgres://o@h/d");
    }
}
