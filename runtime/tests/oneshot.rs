//! The PostgreSQL one-message path's connection cache (`db/oneshot/`):
//! kept connections honour the pool's `max_lifetime` and `idle_timeout`,
//! and only a connection known clean is kept; one left in an unknown
//! state is closed. Backend pids tell connections apart. No waiting: the
//! limits are zero, and a statement is held mid-flight by an advisory
//! lock another session holds.
//!
//! PostgreSQL: `DATABASE_URL_ADMIN` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), databases set up by
//! `rookery::db::test_cluster` (served by a member of the group role).

#![allow(missing_docs)]

use std::time::Duration;

use rookery::TenantId;
use rookery::db::test_cluster::{self, PgTestDb};
use rookery::db::testing::{
    cached_connection, cached_connection_limits, drop_mid_flight, limit_cached_connections, one_bigint,
};
use rookery::db::{Db, DbOptions};
use sqlx::{AssertSqlSafe, Connection as _};

const PID: &str = "SELECT pg_backend_pid()::bigint";
/// Fails at `EXECUTE` (not at `PREPARE`): `pg_backend_pid()` is not folded.
const DIVIDE_BY_ZERO: &str = "SELECT pg_backend_pid()::bigint / (pg_backend_pid() - pg_backend_pid())";
/// Waits for advisory lock 7 (allowed in a read-only transaction).
const LOCKED: &str = "SELECT 1::bigint FROM pg_advisory_xact_lock_shared(7)";

fn admin_url() -> String {
    std::env::var("DATABASE_URL_ADMIN").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

struct Harness {
    pg: PgTestDb,
    db: Db,
    tenant: TenantId,
}

async fn harness(options: impl FnOnce(DbOptions) -> DbOptions) -> Harness {
    let pg = test_cluster::create(&admin_url(), "oneshot_t").await;
    let options = options(DbOptions {
        max_connections: 4,
        ..DbOptions::serving(&pg.group_role)
    });
    let db = Db::connect(&pg.serving_url, &options).await.unwrap();
    Harness {
        pg,
        db,
        tenant: TenantId::new_v7(),
    }
}

impl Harness {
    async fn pid(&self) -> i64 {
        one_bigint(&self.db, self.tenant, false, PID).await.unwrap().unwrap()
    }

    async fn cached_pid(&self) -> Option<i64> {
        let cached = cached_connection(&self.db).await.unwrap();
        cached.map(|(pid, setting, in_tx)| {
            assert_eq!((setting, in_tx), (None, false), "a kept connection is clean");
            i64::from(pid)
        })
    }

    async fn done(self) {
        self.db.close().await;
        self.pg.drop_database().await;
    }
}

#[tokio::test]
async fn the_cache_takes_the_pools_limits() {
    let h = harness(|o| DbOptions {
        max_lifetime: Some(Duration::from_secs(3600)),
        idle_timeout: None,
        ..o
    })
    .await;
    assert_eq!(cached_connection_limits(&h.db), (Some(Duration::from_secs(3600)), None));
    h.done().await;
}

/// A read's statement (one of the extended protocol that sets its own
/// tenant, `message::lateral`) runs after its tenant is set and its
/// transaction is read-only; a write's, in a writable one. Neither
/// setting outlives the statement.
#[tokio::test]
async fn a_statement_runs_in_its_tenant_and_access() {
    let h = harness(|o| o).await;
    let seen = format!(
        "SELECT (CASE WHEN current_setting('app.tenant_id', true) = '{}' THEN 10 ELSE 0 END \
         + CASE WHEN current_setting('transaction_read_only') = 'on' THEN 1 ELSE 0 END)::bigint",
        h.tenant.0
    );
    for _prepared_the_second_time in 0..2 {
        assert_eq!(
            one_bigint(&h.db, h.tenant, false, &seen).await.unwrap(),
            Some(11),
            "a read"
        );
        assert_eq!(
            one_bigint(&h.db, h.tenant, true, &seen).await.unwrap(),
            Some(10),
            "a write"
        );
    }
    let mut owner = sqlx::PgConnection::connect(&h.pg.owner_url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE SEQUENCE oneshot_seq; CREATE TABLE oneshot_rows (n bigint); \
         INSERT INTO oneshot_rows VALUES (1); \
         GRANT USAGE ON SEQUENCE oneshot_seq TO {role}; GRANT SELECT, UPDATE ON oneshot_rows TO {role}",
        role = h.pg.group_role
    )))
    .execute(&mut owner)
    .await
    .unwrap();
    // A read can neither write nor take a row lock (the lock goes the
    // message's way: PostgreSQL checks it when a statement starts); a
    // write can do both.
    for (what, sql) in [
        ("write", "SELECT nextval('oneshot_seq')"),
        ("lock", "SELECT n FROM oneshot_rows FOR UPDATE"),
    ] {
        let refused = one_bigint(&h.db, h.tenant, false, sql).await.unwrap_err().to_string();
        assert!(
            refused.contains("read-only transaction"),
            "a read cannot {what}: {refused}"
        );
        assert_eq!(
            one_bigint(&h.db, h.tenant, true, sql).await.unwrap(),
            Some(1),
            "a write can {what}"
        );
    }
    assert!(
        h.cached_pid().await.is_some(),
        "kept, and clean (no tenant, no transaction)"
    );
    owner.close().await.unwrap();
    h.done().await;
}

/// A migration that changes what a prepared statement returns (`SELECT *`
/// after a new column: PostgreSQL's "cached plan must not change result
/// type") costs the next read and write a new `PREPARE`, not an error.
#[tokio::test]
async fn a_statement_prepared_before_a_migration_is_prepared_again() {
    let h = harness(|o| o).await;
    let mut owner = sqlx::PgConnection::connect(&h.pg.owner_url).await.unwrap();
    let ddl = |sql: String| sqlx::raw_sql(AssertSqlSafe(sql));
    ddl(format!(
        "CREATE TABLE oneshot_shaped (n bigint); INSERT INTO oneshot_shaped VALUES (7); \
         GRANT SELECT ON oneshot_shaped TO {}",
        h.pg.group_role
    ))
    .execute(&mut owner)
    .await
    .unwrap();
    let all = "SELECT * FROM oneshot_shaped";
    for (write, column) in [(false, "a"), (true, "b")] {
        assert_eq!(one_bigint(&h.db, h.tenant, write, all).await.unwrap(), Some(7));
        let kept = h.cached_pid().await;
        ddl(format!("ALTER TABLE oneshot_shaped ADD COLUMN {column} int"))
            .execute(&mut owner)
            .await
            .unwrap();
        assert_eq!(
            one_bigint(&h.db, h.tenant, write, all).await.unwrap(),
            Some(7),
            "write {write}: prepared again"
        );
        assert_eq!(h.cached_pid().await, kept, "write {write}: on the same connection");
    }
    owner.close().await.unwrap();
    h.done().await;
}

#[tokio::test]
async fn a_connection_is_kept_within_its_limits() {
    let h = harness(|o| o).await;
    let first = h.pid().await;
    assert_eq!(h.cached_pid().await, Some(first));
    assert_eq!(h.pid().await, first, "the kept connection served the next read");
    h.done().await;
}

#[tokio::test]
async fn a_connection_past_max_lifetime_is_neither_kept_nor_handed_over() {
    let h = harness(|o| o).await;
    limit_cached_connections(&h.db, Some(Duration::ZERO), None);
    let first = h.pid().await;
    assert_eq!(h.cached_pid().await, None, "nothing is kept");
    assert_ne!(h.pid().await, first, "it was closed, not returned to the pool");
    h.done().await;
}

#[tokio::test]
async fn a_connection_idle_past_idle_timeout_is_not_handed_out() {
    let h = harness(|o| o).await;
    limit_cached_connections(&h.db, None, Some(Duration::ZERO));
    let first = h.pid().await;
    assert_eq!(h.cached_pid().await, Some(first), "kept, but idle from now on");
    assert_ne!(h.pid().await, first, "the idle one was closed instead of used");
    h.done().await;
}

#[tokio::test]
async fn a_failed_statement_leaves_a_clean_connection_that_is_kept() {
    let h = harness(|o| o).await;
    let first = h.pid().await;
    for write in [false, true] {
        let failed = one_bigint(&h.db, h.tenant, write, DIVIDE_BY_ZERO).await;
        assert!(failed.is_err(), "write {write}: {failed:?}");
        assert_eq!(h.cached_pid().await, Some(first), "write {write}: rolled back and kept");
    }
    assert_eq!(h.pid().await, first);
    h.done().await;
}

#[tokio::test]
async fn a_statement_dropped_mid_flight_does_not_leave_its_connection_in_the_cache() {
    for write in [false, true] {
        let h = harness(|o| o).await;
        let mut blocker = sqlx::PgConnection::connect(&h.pg.serving_url).await.unwrap();
        // Prepared on the kept connection, so the next run is one message.
        let first = h.pid().await;
        one_bigint(&h.db, h.tenant, write, LOCKED).await.unwrap();
        assert_eq!(h.cached_pid().await, Some(first));
        sqlx::query("SELECT pg_advisory_lock(7)")
            .execute(&mut blocker)
            .await
            .unwrap();
        assert!(
            drop_mid_flight(&h.db, h.tenant, write, LOCKED).await.unwrap(),
            "write {write}: the statement was waiting for the lock"
        );
        assert_eq!(h.cached_pid().await, None, "write {write}: not kept");
        sqlx::query("SELECT pg_advisory_unlock(7)")
            .execute(&mut blocker)
            .await
            .unwrap();
        let next = h.pid().await;
        if write {
            // Its transaction may still be open: closed, never reused.
            assert_ne!(next, first, "the cut-off write's connection was closed");
        }
        assert_eq!(h.cached_pid().await, Some(next), "write {write}: the next one is clean");
        blocker.close().await.unwrap();
        h.done().await;
    }
}
