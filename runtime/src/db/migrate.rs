//! Running the app's embedded migrations (sqlx's format and bookkeeping
//! table, so `sqlx migrate info` reads the same state).

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration as SqlxMigration, MigrationType, Migrator};

use super::{Db, DbError};
use crate::app_spec::{AppSpec, Migration};

/// A migration failed.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct MigrateError(#[from] sqlx::migrate::MigrateError);

fn migrator(migrations: &'static [Migration]) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|m| {
                SqlxMigration::new(
                    m.version,
                    Cow::Borrowed(m.name),
                    MigrationType::Simple,
                    m.sql.into_sql_str(),
                    // sqlx's convention: a migration that manages its own
                    // transactions (SQLite table rebuilds, which must switch
                    // foreign keys off outside a transaction) says so.
                    m.sql.starts_with("-- no-transaction"),
                )
            })
            .collect(),
    )
}

impl Db {
    /// Applies every pending migration of `spec` for this pool's dialect,
    /// each in its own transaction. Run it as the role that owns the tables.
    pub async fn migrate(&self, spec: &AppSpec) -> Result<(), DbError> {
        let result = match (self.pg(), self.sqlite()) {
            (Some(pool), _) => migrator(spec.postgres_migrations).run(pool).await,
            (None, Some(pool)) => migrator(spec.sqlite_migrations).run(pool).await,
            (None, None) => unreachable!("a Db always holds one pool"),
        };
        result.map_err(|e| DbError::Migrate(MigrateError(e)))
    }
}
