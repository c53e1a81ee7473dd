//! Two instances of the test app, as two processes would be: two states,
//! two pools, one database, one Redis (under a key prefix of the test's
//! own, so parallel tests do not share counters).

use std::future::Future;

use rookery::config::Config;
use rookery::db::{Db, DbOptions};
use rookery::{TenantId, UserId};
use sqlx::{PgPool, SqlitePool};

use super::{Backend, Harness, Inspect, TEST_SPEC, admin_url, finish, router_for};

/// The Redis the tests share (`REDIS_URL`, as scripts/test exports it).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Two instances and what the test needs to reach below them.
pub struct Pair {
    pub a: Harness,
    pub b: Harness,
    /// Their Redis key prefix.
    pub prefix: String,
    /// A pool beside the app, for seeding.
    pub db: Db,
}

/// The tokens of one seeded tenant's members.
pub struct Seeded {
    pub id: TenantId,
    pub slug: String,
    pub owner: UserId,
    pub owner_token: String,
    pub member: UserId,
    pub member_token: String,
}

impl Pair {
    /// A tenant on `plan` with an owner and a member, straight in the
    /// database, and access tokens for both (signed with the test key).
    pub async fn tenant(&self, slug: &str, plan: &str) -> Seeded {
        let id = TenantId::new_v7();
        let (owner, member) = (UserId::new_v7(), UserId::new_v7());
        let sqlite = self.db.dialect() == rookery::db::Dialect::Sqlite;
        rookery::db::testing::seed_tenant(
            &self.db,
            id,
            slug,
            plan,
            &[(owner, "owner"), (member, "member")],
            sqlite,
        )
        .await
        .expect("seed");
        let keys = rookery::auth::token::TokenKeys::new(b"test-secret-test-secret-test-secret!", &[], 900);
        Seeded {
            id,
            slug: slug.to_owned(),
            owner,
            owner_token: keys.issue(owner, id, "owner").expect("token"),
            member,
            member_token: keys.issue(member, id, "member").expect("token"),
        }
    }
}

impl Pair {
    /// Removes `user`'s membership of `tenant` beside the app (what the
    /// route issue 10 adds will do before it invalidates).
    pub async fn remove_member(&self, tenant: TenantId, user: UserId) {
        let sql = "DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2";
        match &self.a.inspect {
            Inspect::Sqlite(pool) => sqlx::query(sql)
                .bind(tenant.0.to_string())
                .bind(user.0.to_string())
                .execute(pool)
                .await
                .map(drop),
            Inspect::Postgres(pool) => sqlx::query(sql)
                .bind(tenant.0)
                .bind(user.0)
                .execute(pool)
                .await
                .map(drop),
        }
        .expect("remove the membership");
    }

    /// Moves `tenant` to `plan` beside the app.
    pub async fn set_plan(&self, tenant: TenantId, plan: &str) {
        let sql = "UPDATE tenants SET plan = $2 WHERE id = $1";
        match &self.a.inspect {
            Inspect::Sqlite(pool) => sqlx::query(sql)
                .bind(tenant.0.to_string())
                .bind(plan)
                .execute(pool)
                .await
                .map(drop),
            Inspect::Postgres(pool) => sqlx::query(sql).bind(tenant.0).bind(plan).execute(pool).await.map(drop),
        }
        .expect("change the plan");
    }
}

/// The requests Redis at `url` counted for `tenant` under `prefix`, in the
/// current window (0 when none).
pub async fn counted(url: &str, prefix: &str, tenant: TenantId) -> u64 {
    let client = redis::Client::open(url).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("reach Redis");
    redis::cmd("HGET")
        .arg(format!("{prefix}:rl:api:{}", tenant.0))
        .arg("c")
        .query_async::<Option<u64>>(&mut conn)
        .await
        .expect("HGET")
        .unwrap_or(0)
}

/// Deletes every key under `prefix` (the test's windows outlive it).
async fn clean(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else { return };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return; // the outage test's own server is gone already
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
    }
}

/// Runs `scenario` against two instances on a fresh database of `backend`
/// and the Redis at `redis`; `configure` changes both configurations.
pub async fn run_pair<F, Fut>(backend: Backend, redis: &str, configure: fn(&mut Config), scenario: F)
where
    F: FnOnce(Pair) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let instance = |db: Db, url: &str, owner_url: &str, role: &str, inspect: Inspect| {
        let mut config = super::config(url);
        config.redis_url = Some(redis.to_owned());
        config.redis_prefix = prefix.clone();
        configure(&mut config);
        let (state, router, metrics) = router_for(db, config);
        Harness {
            router,
            metrics,
            inspect,
            state,
            owner_url: owner_url.to_owned(),
            serving_role: role.to_owned(),
        }
    };
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite:{}", dir.path().join("app.sqlite").display());
            let options = DbOptions::serving("unused_on_sqlite");
            let one = Db::connect(&url, &options).await.expect("connect");
            let two = Db::connect(&url, &options).await.expect("connect");
            one.migrate(&TEST_SPEC, "unused_on_sqlite").await.expect("migrate");
            let inspect = SqlitePool::connect(&url).await.expect("inspect pool");
            let pair = Pair {
                a: instance(
                    one.clone(),
                    &url,
                    &url,
                    "unused_on_sqlite",
                    Inspect::Sqlite(inspect.clone()),
                ),
                b: instance(
                    two.clone(),
                    &url,
                    &url,
                    "unused_on_sqlite",
                    Inspect::Sqlite(inspect.clone()),
                ),
                prefix: prefix.clone(),
                db: one.clone(),
            };
            let outcome = tokio::spawn(scenario(pair)).await;
            one.close().await;
            two.close().await;
            inspect.close().await;
            clean(redis, &prefix).await;
            finish(outcome).await;
        }
        Backend::Postgres => {
            let pg = rookery::db::test_cluster::create(&admin_url(), TEST_SPEC.name).await;
            let owner = Db::connect(&pg.owner_url, &DbOptions::migrating())
                .await
                .expect("connect as owner");
            owner.migrate(&TEST_SPEC, &pg.group_role).await.expect("migrate");
            owner.close().await;
            let options = DbOptions::serving(&pg.group_role);
            let one = Db::connect(&pg.serving_url, &options).await.expect("connect");
            let two = Db::connect(&pg.serving_url, &options).await.expect("connect");
            let inspect = PgPool::connect(&pg.superuser_url()).await.expect("inspect pool");
            let url = &pg.serving_url;
            let pair = Pair {
                a: instance(
                    one.clone(),
                    url,
                    &pg.owner_url,
                    &pg.group_role,
                    Inspect::Postgres(inspect.clone()),
                ),
                b: instance(
                    two.clone(),
                    url,
                    &pg.owner_url,
                    &pg.group_role,
                    Inspect::Postgres(inspect.clone()),
                ),
                prefix: prefix.clone(),
                db: one.clone(),
            };
            let outcome = tokio::spawn(scenario(pair)).await;
            one.close().await;
            two.close().await;
            inspect.close().await;
            pg.drop_database().await;
            clean(redis, &prefix).await;
            finish(outcome).await;
        }
    }
}
